"""Turning a judge's n samples for one item into one verdict, keeping how they spread.

Numbers (ordinal, interval, ratio) take the median — the lower median for an even count, so the
verdict is always a value some sample gave and therefore valid on the scale (steps included).
Binary and categorical take the majority; a tie goes to the value the earliest sample gave.
Text takes the first sample's. The rationale kept is that of the first sample that agrees with
the verdict. An optional criterion is left empty when most samples left it empty.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rubrics.scales import CriterionSpec, ScaleKind

_NUMERIC = {ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO}
_NOMINAL = {ScaleKind.BINARY, ScaleKind.CATEGORICAL}


def samples_aggregate(
    *, criteria: Sequence[CriterionSpec], samples: Sequence[tuple[dict, dict]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """``samples``: (values, rationales) of each valid sample, in sample order.

    Returns (values, rationales, spread) where spread[key] is ``{"min", "max", "n"}`` for numbers
    and ``{"counts": {value: n}, "agreement": share of the majority}`` for binary / categorical.
    """
    values: dict[str, Any] = {}
    rationales: dict[str, str] = {}
    spread: dict[str, Any] = {}
    for criterion in criteria:
        key, kind = criterion.key, criterion.scale["kind"]
        given = [(v[key], r.get(key)) for v, r in samples if v.get(key) is not None]
        if not given or len(given) * 2 < len(samples):
            continue
        observed = [v for v, _ in given]
        if kind in _NUMERIC:
            chosen = statistics.median_low(observed)
            spread[key] = {"min": min(observed), "max": max(observed), "n": len(observed)}
        elif kind in _NOMINAL:
            counts = Counter(observed)
            top = max(counts.values())
            chosen = next(v for v in observed if counts[v] == top)
            spread[key] = {
                "counts": {str(v).lower() if isinstance(v, bool) else str(v): n for v, n in counts.items()},
                "agreement": round(top / len(observed), 4),
            }
        else:
            chosen = observed[0]
        values[key] = chosen
        rationale = next((r for v, r in given if v == chosen and r), None)
        if rationale:
            rationales[key] = rationale
    return values, rationales, spread
