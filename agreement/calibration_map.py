"""Calibrating a judge's confidence on gold, so that the posterior rule can trust its numbers.

A judge that says 0.95 may be right 85 % of the time (LLM judges are usually overconfident).
:func:`calibration_map_fit` learns, on gold items the judge was not shown, the accuracy that goes
with each confidence: isotonic regression (pool-adjacent-violators, so a higher confidence never
maps to a lower accuracy) or histogram binning, each block's accuracy smoothed as
``(correct + 1) / (n + 2)`` so that no confidence maps to exactly 0 or 1 (a judge the map calls
certain could then never be overruled).  :func:`calibrate_distribution` applies it to one verdict's
distribution: the verdict's point gets the calibrated probability, the other points share the rest.

How they share it is the other half of the judge's uncertainty.  The judge's own distribution says
it, but drawn from a few samples it is mostly zeros (four samples of 4 and one of 3 put nothing on
5), and the floor that keeps a point above zero then makes a true 5 look thousands of times less
likely than the verdict: two people who disagree with a confident judge could not overrule it
(benchmarks/triage.py, ordinal, 5 samples: 4.4 points of accuracy lost, where the
log-probabilities lost 0.3).  :func:`judge_landing` gives where the truth lies when
the judge is wrong if the judge errs the way people do (the rater model's prior and error
matrix, by Bayes), and :func:`own_weight_fit` chooses on gold how much of the judge's own share
to keep beside it: the weight that best predicts the true label of the verdicts gold shows wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def calibrate_distribution(dist: npt.ArrayLike, *, verdict_index: int, calibrated: float,
                           landing: npt.ArrayLike | None = None, own_weight: float = 1.0) -> np.ndarray:  # fmt: skip
    """One verdict's distribution with the verdict's point set to ``calibrated`` and the other
    points sharing ``1 - calibrated``: ``own_weight`` of it in proportion to the judge's own (NaN:
    points the provider did not report share evenly what the reported ones leave; all zero:
    evenly), the rest as ``landing`` says (the verdict's row of :func:`judge_landing`; without
    it the judge's own share is all).  Every point keeps some probability, so people can always
    overrule the judge."""
    if not 0 <= verdict_index < np.asarray(dist).size:
        raise ValueError(f"verdict_index {verdict_index!r} is not a point of a {np.asarray(dist).size}-point scale")
    if not 0.0 < calibrated < 1.0:
        raise ValueError(f"calibrated must lie in (0, 1); got {calibrated!r}")
    if not 0.0 <= own_weight <= 1.0:
        raise ValueError(f"own_weight must lie in [0, 1]; got {own_weight!r}")
    rest = _own_rest(dist, verdict_index)
    if landing is not None and own_weight < 1.0:
        land = np.asarray(landing, dtype=float)
        land = np.delete(land, verdict_index) if land.size == rest.size + 1 else np.array([])
        if land.size != rest.size or not np.all(np.isfinite(land)) or np.any(land < 0) or land.sum() <= 0:
            raise ValueError("landing must give every point of the scale a finite non-negative share")
        rest = own_weight * rest + (1.0 - own_weight) * land / land.sum()
    return np.insert(rest * (1.0 - calibrated), verdict_index, calibrated)


def _own_rest(dist: npt.ArrayLike, verdict_index: int) -> np.ndarray:
    """The judge's own shares of the points other than its verdict, summing to 1, none at 0."""
    d = np.asarray(dist, dtype=float).copy()
    k = d.size
    missing = ~np.isfinite(d)
    if missing.any():
        d[missing] = max(0.0, 1.0 - float(np.nansum(d))) / missing.sum()
    rest = np.delete(np.maximum(d, 0.0), verdict_index)
    rest = rest + 1e-3 / (k - 1)  # no point at exactly 0
    return rest / rest.sum()


def judge_landing(*, prior: npt.ArrayLike, errors: npt.ArrayLike) -> np.ndarray:
    """``L[v, y]``: where the truth lies when the judge said point ``v`` and is wrong, if the judge
    errs the way people do: in proportion to ``prior[y] * errors[y, v]`` (Bayes), 0 at ``y = v``.
    ``errors``: the share of errors on label ``y`` that land on point ``v``, rows summing to 1
    (``agreement.posterior.error_spread`` of the fitted rater model)."""
    p = np.asarray(prior, dtype=float)
    w = np.asarray(errors, dtype=float)
    if w.shape != (p.size, p.size) or np.any(p <= 0) or np.any(w < 0):
        raise ValueError("prior must be positive and errors a square matrix over the same points")
    joint = (p[:, None] * w).T  # joint[v, y]
    np.fill_diagonal(joint, 0.0)
    total = joint.sum(axis=1, keepdims=True)
    # A point no one errs onto says nothing about where the truth lies: evenly over the others.
    even = (1.0 - np.eye(p.size)) / max(p.size - 1, 1)
    return np.where(total > 0, joint / np.where(total > 0, total, 1.0), even)


OWN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_WRONG_GOLD = 10  # wrong verdicts on gold before the judge's own share is weighed against the landing
DEFAULT_OWN_WEIGHT = 0.5  # with fewer: each half, so neither can cost more than a factor of two


def own_weight_fit(*, dists: Sequence[npt.ArrayLike], verdict_indices: Sequence[int], truth_indices: Sequence[int],
                   landing: npt.ArrayLike) -> float:  # fmt: skip
    """The ``own_weight`` of :func:`calibrate_distribution` (one of ``OWN_WEIGHTS``) under which
    the rest of each verdict's distribution gives the true label of the verdicts gold shows wrong
    the highest likelihood.  ``dists`` are the judge's reported distributions (NaN where not
    reported), ``truth_indices`` gold's points; right verdicts are skipped.  Fewer than
    ``MIN_WRONG_GOLD`` wrong verdicts: ``DEFAULT_OWN_WEIGHT``."""
    land = np.asarray(landing, dtype=float)
    own_p, land_p = [], []
    for dist, v, t in zip(dists, verdict_indices, truth_indices, strict=True):
        if v == t:
            continue
        rest_at = t if t < v else t - 1  # the truth's place among the points other than the verdict
        own_p.append(_own_rest(dist, v)[rest_at])
        land_p.append(land[v, t] / land[v].sum())
    if len(own_p) < MIN_WRONG_GOLD:
        return DEFAULT_OWN_WEIGHT
    own, lp = np.array(own_p), np.array(land_p)
    scores = [float(np.sum(np.log(w * own + (1 - w) * lp + 1e-12))) for w in OWN_WEIGHTS]
    return OWN_WEIGHTS[int(np.argmax(scores))]
