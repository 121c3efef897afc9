"""Consensus: what one item's raters agree on, under a project's approval policy.

A plain function of the ratings' values; the approval service (services/approval.py) decides
with it and stores what it returns on the item.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

import agreement
from quality.models import ApprovalPolicy
from rubrics.models import Criterion
from rubrics.scales import MAX_NUMBER, ScaleKind, number_bounded, scale_points, value_code


def consensus_rule(*, criterion: Criterion, policy: ApprovalPolicy) -> agreement.ConsensusRule:
    """The policy's agreement rule for one criterion: the one rule that approval here and adaptive
    overlap (``agreement.overlap_next``) both apply, so they cannot drift apart."""
    scale = criterion.scale
    if criterion.kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL):
        width: float | None = float(scale["max"]) - float(scale["min"])
    elif criterion.kind == ScaleKind.RATIO:
        width = float(scale["max"]) if scale.get("max") else None  # else the median's magnitude
    else:
        width = None
    # A criterion's own threshold (policy.per_criterion) stands in for the project-wide one.
    own = (getattr(policy, "per_criterion", None) or {}).get(criterion.key)
    nominal = criterion.agreement_level == "nominal"
    return agreement.ConsensusRule(
        level=criterion.agreement_level,
        majority_threshold=own if own is not None and nominal else policy.majority_threshold,
        numeric_tolerance=own if own is not None and not nominal else policy.numeric_tolerance,
        width=width,
    )


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
        if criterion.kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO):
            # Clamped like the codes: a value stored before the bound existed (1.7e308) would make
            # the median's sum and the spread overflow to infinity.
            given = [v if -MAX_NUMBER <= v <= MAX_NUMBER else number_bounded(v) for v in given]
        value = consensus_rule(criterion=criterion, policy=policy).consensus(given)
        if value is None:
            failing.append(criterion.key)
        else:
            consensus[criterion.key] = value
    return consensus, disagreement, failing
