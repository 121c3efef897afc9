"""How sure a judge is of one verdict, and whether its sureness means what it says.

A judge answers on a scale of ``k`` points.  Its uncertainty comes from two sources:

* **samples**: the values of several answers to the same prompt (``JudgeVersion.samples``);
* **probabilities**: where the provider returns log-probabilities of the score token, the
  probability of each point of the scale (the caller maps tokens to points and exponentiates;
  this module gets a vector over the points, possibly incomplete).

:func:`verdict_uncertainty` turns them into a distribution over the scale and a confidence;
:func:`calibration` compares confidences with correctness on held-out gold (expected
calibration error and the bins of a reliability diagram).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from agreement._data import Level, check_level

Method = Literal["auto", "top", "dispersion"]
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class VerdictUncertainty:
    """A verdict's distribution over the scale and its confidence.

    ``distribution[j]`` is the probability of ``points[j]``.  ``value`` is the verdict the
    confidence refers to (the caller's, or the distribution's mode for nominal and lower median
    for numeric levels, which is what ``judges.aggregation`` picks from samples).
    ``top_probability`` is ``P(value)``; ``dispersion`` (numeric levels only) is
    ``E|X - value| / (range / 2)`` in [0, 1], with ``X`` at the points' positions (ordinal:
    category ranks, so unequal spacing does not count; interval and ratio: the values).
    ``confidence`` is ``top_probability`` (method ``"top"``) or ``1 - dispersion``
    (``"dispersion"``).  ``expected`` is the distribution's mean value (numeric levels; for a
    binary scale coded 0/1 it is ``P(1)``): the soft prediction to give :func:`mean_estimates`.
    ``off_scale`` is the mean probability the provider put on tokens that are not a point of
    the scale; the distribution is conditional on answering on the scale.
    """

    points: tuple[float, ...]
    distribution: tuple[float, ...]
    value: float
    confidence: float
    method: Literal["top", "dispersion"]
    top_probability: float
    dispersion: float | None
    expected: float
    samples: int
    with_probabilities: int
    off_scale: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "points": [float(p) for p in self.points],
            "distribution": [round(float(p), 6) for p in self.distribution],
            "value": float(self.value),
            "confidence": round(float(self.confidence), 6),
            "method": self.method,
            "top_probability": round(float(self.top_probability), 6),
            "dispersion": None if self.dispersion is None else round(float(self.dispersion), 6),
            "expected": float(self.expected),
            "samples": int(self.samples),
            "with_probabilities": int(self.with_probabilities),
            "off_scale": round(float(self.off_scale), 6),
        }


def verdict_uncertainty(
    *,
    points: Sequence[float],
    level: Level,
    samples: Sequence[float] = (),
    probabilities: Sequence[Sequence[float] | None] | None = None,
    verdict: float | None = None,
    method: Method = "auto",
) -> VerdictUncertainty:
    """Distribution and confidence of one verdict from its samples and/or probabilities.

    ``points`` are the scale's points (ordinal, interval, ratio: in increasing order; nominal:
    the category codes).  ``samples`` are the values the judge's answers gave, each a point.
    ``probabilities``, when given, has one entry per sample (or, without ``samples``, one per
    answer): a vector of ``len(points)`` probabilities, NaN where the provider did not report a
    point (top-k log-probabilities), or None where that answer came without probabilities.

    Each answer contributes one distribution and the verdict's is their mean:

    * an answer with a probability vector contributes that vector.  Unreported points share
      what the reported ones leave (``1 - sum``) evenly, but each at most the smallest reported
      probability, since top-k reporting means every unreported point is below it; any mass
      left after that belongs to tokens off the scale.  The vector is then renormalised over
      the scale (the answer is conditional on being a point);
    * an answer without one contributes all its mass to its value.

    An answer's probability vector carries everything its sampled value says (the value is a
    draw from it), so the vector wins when both exist.

    ``method``: ``"top"`` (confidence = probability of the verdict), ``"dispersion"`` (numeric
    levels only: 1 - normalised mean absolute distance from the verdict) or ``"auto"``
    (``"top"`` for nominal, ``"dispersion"`` otherwise).  Use ``"top"`` when correctness means
    exact agreement with gold (it is then a probability, and :func:`calibration` applies);
    ``"dispersion"`` ranks how spread the answers are and treats near misses on an ordered
    scale as nearly right, but is not a probability of anything.
    """
    level = check_level(level)
    scale = np.asarray(points, dtype=np.float64)
    if scale.ndim != 1 or scale.size == 0 or np.unique(scale).size != scale.size or not np.isfinite(scale).all():
        raise ValueError("points must be a non-empty 1-D sequence of distinct finite numbers")
    if level != "nominal" and np.any(np.diff(scale) <= 0):
        raise ValueError("points of an ordered scale must be listed in increasing order")
    rows, off_scale = _answer_rows(scale, samples, probabilities)
    dist = rows.mean(axis=0)
    index = _verdict_index(scale, dist, level, verdict)
    chosen: Literal["top", "dispersion"]
    if method == "auto":
        chosen = "top" if level == "nominal" else "dispersion"
    elif method == "top" or method == "dispersion":
        chosen = method
    else:
        raise ValueError(f"method must be 'auto', 'top' or 'dispersion'; got {method!r}")
    dispersion = None
    if level != "nominal":
        position = np.arange(scale.size, dtype=np.float64) if level == "ordinal" else scale
        half_range = float(position[-1] - position[0]) / 2.0
        spread = float(dist @ np.abs(position - position[index]))
        dispersion = min(1.0, spread / half_range) if half_range > 0 else 0.0
    elif chosen == "dispersion":
        raise ValueError("dispersion needs an ordered scale; nominal verdicts use method 'top'")
    top = float(dist[index])
    confidence = top if dispersion is None or chosen == "top" else 1.0 - dispersion
    return VerdictUncertainty(
        points=tuple(scale.tolist()),
        distribution=tuple(dist.tolist()),
        value=float(scale[index]),
        confidence=confidence,
        method=chosen,
        top_probability=top,
        dispersion=dispersion,
        expected=float(dist @ scale),
        samples=int(rows.shape[0]),
        with_probabilities=len(off_scale),
        off_scale=float(np.mean(off_scale)) if off_scale else 0.0,
    )


def _answer_rows(
    scale: np.ndarray, samples: Sequence[float], probabilities: Sequence[Sequence[float] | None] | None
) -> tuple[np.ndarray, list[float]]:
    """One distribution per answer, and the off-scale mass of those that had probabilities."""
    values = np.asarray(samples, dtype=np.float64).reshape(-1)
    vectors = list(probabilities) if probabilities is not None else [None] * values.size
    if values.size and len(vectors) != values.size:
        raise ValueError(f"probabilities must have one entry per sample; got {len(vectors)} for {values.size}")
    if values.size == 0 and (probabilities is None or any(v is None for v in vectors)):
        raise ValueError("give samples, or one probability vector per answer")
    rows = np.zeros((len(vectors), scale.size))
    off_scale: list[float] = []
    for i, vector in enumerate(vectors):
        if vector is None:
            hit = np.flatnonzero(scale == values[i])
            if hit.size == 0:
                raise ValueError(f"sample {values[i]!r} is not a point of the scale")
            rows[i, hit[0]] = 1.0
            continue
        rows[i], off = _completed(np.asarray(vector, dtype=np.float64), scale.size)
        off_scale.append(off)
    return rows, off_scale


def _completed(vector: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """A possibly incomplete probability vector as a distribution over the scale, and its off-scale mass."""
    if vector.shape != (k,):
        raise ValueError(f"a probability vector must have one entry per point ({k}); got shape {vector.shape}")
    known = ~np.isnan(vector)
    if np.any((vector[known] < 0) | (vector[known] > 1)):
        raise ValueError("probabilities must lie in [0, 1] (exponentiate log-probabilities first)")
    reported = float(vector[known].sum())
    if reported > 1.0 + _TOLERANCE:
        raise ValueError(f"reported probabilities sum to {reported:.6f} > 1")
    residual = max(0.0, 1.0 - reported)
    filled = np.where(known, vector, 0.0)
    unreported = int((~known).sum())
    if unreported:
        each = residual / unreported
        if known.any():
            each = min(each, float(vector[known].min()))
        filled[~known] = each
        residual -= each * unreported
    total = float(filled.sum())
    if total <= 0.0:
        raise ValueError("a probability vector puts no probability on any point of the scale")
    return filled / total, residual


def _verdict_index(scale: np.ndarray, dist: np.ndarray, level: Level, verdict: float | None) -> int:
    if verdict is not None:
        hit = np.flatnonzero(scale == float(verdict))
        if hit.size == 0:
            raise ValueError(f"verdict {verdict!r} is not a point of the scale")
        return int(hit[0])
    if level == "nominal":
        return int(np.argmax(dist))  # ties: the first point listed
    # Lower median: the first point where the cumulative probability reaches one half.
    return int(np.flatnonzero(np.cumsum(dist) >= 0.5 - 1e-12)[0])


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram: verdicts with confidence in [lower, upper)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "lower": float(self.lower),
            "upper": float(self.upper),
            "count": int(self.count),
            "mean_confidence": None if self.mean_confidence is None else float(self.mean_confidence),
            "accuracy": None if self.accuracy is None else float(self.accuracy),
        }


@dataclass(frozen=True)
class Calibration:
    """Confidence against correctness on gold.

    ``ece`` (expected calibration error) is ``sum_b (n_b / n) |accuracy_b - confidence_b|``
    over the bins; ``max_error`` the largest of those gaps; ``brier`` is
    ``mean((confidence - correct)^2)``; ``gap`` is mean confidence minus accuracy (positive:
    overconfident).  ECE is biased upwards on few items: a perfectly calibrated judge on
    ``n`` gold items in ``b`` bins scores up to about ``0.4 * sqrt(b / n)``, not 0 (each bin's
    accuracy is a proportion of ``n / b`` items, off by its standard error).
    """

    items: int
    ece: float | None
    max_error: float | None
    brier: float | None
    gap: float | None
    bins: tuple[ReliabilityBin, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "items": int(self.items),
            "ece": self.ece,
            "max_error": self.max_error,
            "brier": self.brier,
            "gap": self.gap,
            "bins": [b.as_dict() for b in self.bins],
        }


def calibration(
    confidences: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> Calibration:
    """Expected calibration error and reliability-diagram bins of ``confidences`` (in [0, 1]).

    ``correct[i]`` says whether verdict ``i`` matched gold (exact match, or within the policy's
    tolerance: the caller decides, and the confidence should be the probability of that same
    event).  ``strategy="uniform"``: ``bins`` equal-width bins on [0, 1] (the last one closed);
    ``"quantile"``: bin edges at the confidences' quantiles, so bins hold similar counts (equal
    confidences never straddle two bins, so there may be fewer).
    """
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    hit = np.asarray(correct, dtype=np.float64).reshape(-1)
    if conf.shape != hit.shape:
        raise ValueError(f"confidences and correct must have equal lengths; got {conf.size} and {hit.size}")
    if not np.isfinite(conf).all() or np.any((conf < 0) | (conf > 1)):
        raise ValueError("confidences must be finite and lie in [0, 1]")
    if not np.isin(hit, (0.0, 1.0)).all():
        raise ValueError("correct must hold booleans (or 0/1)")
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins!r}")
    if strategy == "uniform" or conf.size == 0:
        edges = np.linspace(0.0, 1.0, int(bins) + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(conf, np.linspace(0.0, 1.0, int(bins) + 1)))
        edges[0], edges[-1] = min(edges[0], 0.0), max(edges[-1], 1.0)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}")
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, edges.size - 2)
    count = np.bincount(which, minlength=edges.size - 1)
    conf_sum = np.bincount(which, weights=conf, minlength=edges.size - 1)
    hit_sum = np.bincount(which, weights=hit, minlength=edges.size - 1)
    out = []
    for b in range(edges.size - 1):
        n = int(count[b])
        mean_c = float(conf_sum[b] / n) if n else None
        acc = float(hit_sum[b] / n) if n else None
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, mean_c, acc))
    if conf.size == 0:
        return Calibration(0, None, None, None, None, tuple(out))
    used = count > 0
    gaps = np.abs(hit_sum[used] - conf_sum[used]) / count[used]
    return Calibration(
        items=int(conf.size),
        ece=float((gaps * count[used]).sum() / conf.size),
        max_error=float(gaps.max()),
        brier=float(np.mean((conf - hit) ** 2)),
        gap=float(conf.mean() - hit.mean()),
        bins=tuple(out),
    )
