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


def tradeoff_chart(tradeoff: dict[str, Any]) -> dict[str, Any] | None:
    """Judge-first trade-off on gold as SVG coordinates on a 100 x 100 square: x the share of gold
    the judge keeps, y its accuracy there (and the lower bound), on an axis from just under the
    lowest value to 1; the human-human bar as a horizontal line."""
    choice = tradeoff.get("choice")
    if not choice or not choice["curve"]:
        return None
    curve = sorted(choice["curve"], key=lambda p: p["kept_share"])
    values = [p["accuracy"] for p in curve] + [p["lower"] for p in curve] + [tradeoff["bar"] or 1.0]
    low = max(0.0, min(values) - 0.05)

    def y(v: float) -> float:
        return round(100 - (v - low) / ((1.0 - low) or 1.0) * 100, 2)

    points = [
        {**p, "x": round(p["kept_share"] * 100, 2), "y": y(p["accuracy"]), "y_lower": y(p["lower"])} for p in curve
    ]
    return {
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "lower_line": " ".join(f"{p['x']},{p['y_lower']}" for p in points),
        "bar_y": None if tradeoff["bar"] is None else y(tradeoff["bar"]),
        "low": low,
        "chosen": next((p for p in points if p["threshold"] == choice["threshold"]), None),
    }
