"""Calibrating a judge's confidence on gold, so that the posterior rule can trust its numbers.

A judge that says 0.95 may be right 85 % of the time (LLM judges are usually overconfident).
:func:`calibration_map_fit` learns, on gold items the judge was not shown, the accuracy that goes
with each confidence: isotonic regression (pool-adjacent-violators, so a higher confidence never
maps to a lower accuracy) or histogram binning, each block's accuracy smoothed as
``(correct + 1) / (n + 2)`` so that no confidence maps to exactly 0 or 1 (a judge the map calls
certain could then never be overruled).  :func:`calibrate_distribution` applies it to one verdict's
distribution: the verdict's point gets the calibrated probability, the other points share the rest
in proportion to what the judge gave them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Method = Literal["isotonic", "histogram"]


@dataclass(frozen=True)
class CalibrationMap:
    """A step function from raw confidence to calibrated accuracy.

    ``edges[i]`` is the lowest confidence of block ``i`` (increasing); a confidence maps to the
    value of the last block whose edge it reaches (below the first edge: the first block).
    ``counts`` are the gold items per block."""

    edges: tuple[float, ...]
    values: tuple[float, ...]
    counts: tuple[int, ...]
    method: Method

    def apply(self, confidence: npt.ArrayLike) -> np.ndarray:
        """The calibrated probability of being right for each confidence."""
        c = np.asarray(confidence, dtype=float)
        at = np.clip(np.searchsorted(np.asarray(self.edges), c, side="right") - 1, 0, len(self.edges) - 1)
        return np.asarray(self.values)[at]

    @property
    def items(self) -> int:
        return int(sum(self.counts))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"method": self.method, "edges": list(self.edges), "values": list(self.values),
                "counts": list(self.counts)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationMap:
        """The map :meth:`as_dict` stored (raises ValueError on a malformed one)."""
        try:
            edges, values, counts = (tuple(data[k]) for k in ("edges", "values", "counts"))
            method = data["method"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a calibration map: {exc}") from None
        if not edges or not len(edges) == len(values) == len(counts) or method not in ("isotonic", "histogram"):
            raise ValueError("not a calibration map")
        return cls(tuple(map(float, edges)), tuple(map(float, values)), tuple(map(int, counts)), method)


def calibration_map_fit(
    *, confidences: npt.ArrayLike, correct: npt.ArrayLike, method: Method = "isotonic", bins: int = 10
) -> CalibrationMap:
    """The map from confidence to accuracy on gold (``correct``: the verdict equals gold).

    ``isotonic``: blocks of equal confidence merged while a higher block is less accurate
    (pool-adjacent-violators), then each block's accuracy smoothed.  ``histogram``: ``bins``
    blocks of equal counts (quantiles of the confidences), smoothed, then made non-decreasing.
    Needs at least one gold item; with few (under about 50) the map is mostly the smoothing."""
    c = np.asarray(confidences, dtype=float)
    y = np.asarray(correct, dtype=bool)
    if c.ndim != 1 or c.shape != y.shape:
        raise ValueError("confidences and correct must be 1-D and of equal length")
    keep = np.isfinite(c)
    c, y = c[keep], y[keep]
    if c.size == 0:
        raise ValueError("no gold items with a confidence")
    order = np.argsort(c, kind="stable")
    c, y = c[order], y[order].astype(float)
    if method == "histogram":
        if int(bins) != bins or bins < 1:
            raise ValueError(f"bins must be a positive integer; got {bins!r}")
        groups = [g for g in np.array_split(np.arange(c.size), min(int(bins), c.size)) if g.size]
        edges = [float(c[g[0]]) for g in groups]
        counts = [int(g.size) for g in groups]
        values = [(float(y[g].sum()) + 1) / (g.size + 2) for g in groups]
        values = list(np.maximum.accumulate(values))
    elif method == "isotonic":
        # Pool-adjacent-violators on blocks of equal confidence, so equal inputs map equally.
        uniq, start = np.unique(c, return_index=True)
        sums = list(np.add.reduceat(y, start))
        ns = list(np.diff(np.append(start, c.size)).astype(float))
        lows = list(uniq)
        blocks: list[list[float]] = []  # [low edge, correct, n]
        for low, s, n in zip(lows, sums, ns, strict=True):
            blocks.append([low, s, n])
            while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] > blocks[-1][1] / blocks[-1][2]:
                _, s2, n2 = blocks.pop()
                blocks[-1][1] += s2
                blocks[-1][2] += n2
        edges = [float(b[0]) for b in blocks]
        counts = [int(b[2]) for b in blocks]
        values = list(np.maximum.accumulate([(b[1] + 1) / (b[2] + 2) for b in blocks]))
    else:
        raise ValueError(f"method must be 'isotonic' or 'histogram'; got {method!r}")
    return CalibrationMap(tuple(edges), tuple(float(v) for v in values), tuple(counts), method)


def calibrate_distribution(dist: npt.ArrayLike, *, verdict_index: int, calibrated: float) -> np.ndarray:
    """One verdict's distribution with the verdict's point set to ``calibrated`` and the other
    points sharing ``1 - calibrated`` in proportion to the judge's own (NaN: points the provider
    did not report share evenly what the reported ones leave; all zero: evenly).  Every point
    keeps some probability, so people can always overrule the judge."""
    d = np.asarray(dist, dtype=float).copy()
    k = d.size
    if not 0 <= verdict_index < k:
        raise ValueError(f"verdict_index {verdict_index!r} is not a point of a {k}-point scale")
    if not 0.0 < calibrated < 1.0:
        raise ValueError(f"calibrated must lie in (0, 1); got {calibrated!r}")
    missing = ~np.isfinite(d)
    if missing.any():
        d[missing] = max(0.0, 1.0 - float(np.nansum(d))) / missing.sum()
    rest = np.delete(np.maximum(d, 0.0), verdict_index)
    floor = 1e-3 / (k - 1)  # no point at exactly 0
    rest = rest + floor
    rest = rest / rest.sum() * (1.0 - calibrated)
    return np.insert(rest, verdict_index, calibrated)
