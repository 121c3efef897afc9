"""The dashboard's estimate chart: each quantity's four estimates as points with 95 % intervals,
drawn as server-rendered SVG on the quantity's own axis (0 to 1 for shares, the scale for means)."""

from typing import Any

METHOD_LABELS = {
    "ppi++": "PPI++ (judge + audit)",
    "ppi": "PPI (judge + audit)",
    "human": "audit only (people)",
    "judge": "judge only (unchecked)",
}


def _x(value: float | None, low: float, high: float) -> float | None:
    if value is None:
        return None
    span = (high - low) or 1.0
    return round((min(max(value, low), high) - low) / span * 100, 2)


def estimate_chart(estimate: dict[str, Any]) -> list[dict[str, Any]]:
    """Per quantity: its title, axis ticks and one row per estimate with x positions (0-100)."""
    charts = []
    for q in estimate["quantities"]:
        low, high = q["axis"]
        rows = []
        for e in q["estimates"]:
            ci = e["ci"]
            rows.append(
                {
                    **e,
                    "label": METHOD_LABELS[e["method"]],
                    "x": _x(e["estimate"], low, high),
                    "ci_x": [_x(ci[0], low, high), _x(ci[1], low, high)] if ci else None,
                }
            )
        ticks = [low + (high - low) * t / 4 for t in range(5)]
        spec = ".2g" if q["kind"] == "share" else "g"
        charts.append(
            {
                **q,
                "rows": rows,
                "ticks": [{"label": format(t, spec), "x": _x(t, low, high)} for t in ticks],
            }
        )
    return charts


def reliability_diagram(calibration: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-empty bins of a calibration (agreement.calibration) as SVG points on a 100 x 100
    square: x the bin's mean confidence, y its accuracy (drawn upwards), r growing with its count."""
    bins = [b for b in calibration["bins"] if b["count"]]
    peak = max((b["count"] for b in bins), default=1)
    return [
        {
            **b,
            "x": round(b["mean_confidence"] * 100, 2),
            "y": round(100 - b["accuracy"] * 100, 2),
            "r": round(1.5 + 3.5 * (b["count"] / peak) ** 0.5, 2),
        }
        for b in bins
    ]
