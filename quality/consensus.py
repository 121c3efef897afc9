"""Consensus: what one item's raters agree on, under a project's approval policy.

A plain function of the ratings' values; the approval service (services/approval.py) decides
with it and stores what it returns on the item.
"""

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

import agreement
from quality.models import ApprovalPolicy
from rubrics.models import Criterion
from rubrics.scales import MAX_NUMBER, ScaleKind, number_bounded, scale_points, value_code


def consensus_of(
    *, criteria: Sequence[Criterion], ratings: Sequence[dict], policy: ApprovalPolicy
) -> tuple[dict, dict, list[str]]:
    """Consensus value, disagreement score and failing criteria for one item's ratings.

    Nominal: the majority value when its share reaches ``majority_threshold``. Numeric: the
    median (the lower median on ordinal scales, so it is a point of the scale) when the spread
    is within ``numeric_tolerance`` of the scale's range. ``policy.per_criterion`` may give a
    criterion its own share or tolerance.
    """
    consensus: dict[str, Any] = {}
    disagreement: dict[str, float] = {}
    failing: list[str] = []
    own = getattr(policy, "per_criterion", None) or {}
    for criterion in criteria:
        if criterion.agreement_level is None:
            continue
        given = [r[criterion.key] for r in ratings if r.get(criterion.key) is not None]
        if not given:
            if criterion.required:
                failing.append(criterion.key)
            continue
        codes = [value_code(criterion.scale, v) for v in given]
        if len(codes) >= 2:
            scores = agreement.item_disagreement(
                np.zeros(len(codes), dtype=np.int64),
                np.arange(len(codes)),
                np.asarray(codes, dtype=np.float64),
                level=criterion.agreement_level,
                scale=scale_points(criterion.scale, codes),
            )
            disagreement[criterion.key] = round(scores.get(0, 0.0), 6)
        else:
            disagreement[criterion.key] = 0.0
        if criterion.kind in (ScaleKind.BINARY, ScaleKind.CATEGORICAL):
            value, count = Counter(given).most_common(1)[0]
            ties = [v for v, c in Counter(given).items() if c == count]
            share = own.get(criterion.key, policy.majority_threshold)
            if len(ties) == 1 and count / len(given) >= share:
                consensus[criterion.key] = value
            else:
                failing.append(criterion.key)
            continue
        # Clamped like the codes: a value stored before the bound existed (1.7e308) would make
        # the median's sum and the spread overflow to infinity.
        given = [v if -MAX_NUMBER <= v <= MAX_NUMBER else number_bounded(v) for v in given]
        spread = max(given) - min(given)
        if criterion.kind == ScaleKind.ORDINAL:
            middle = statistics.median_low(given)
            width = criterion.scale["max"] - criterion.scale["min"]
        else:
            middle = statistics.median(given)
            if criterion.kind == ScaleKind.INTERVAL:
                width = criterion.scale["max"] - criterion.scale["min"]
            else:
                width = criterion.scale.get("max") or abs(middle)
        if spread <= own.get(criterion.key, policy.numeric_tolerance) * width + 1e-12:
            consensus[criterion.key] = middle
        else:
            failing.append(criterion.key)
    return consensus, disagreement, failing
