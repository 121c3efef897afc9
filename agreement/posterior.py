"""A posterior stopping rule for human ratings: ask one more person only while the label is unsure.

Each item's label is unknown.  What Accord has about it (the judge's verdict, people's ratings)
is evidence, combined by Bayes' rule under a simple model:

* **the judge** gives a distribution over the scale's points, *calibrated* on gold
  (:mod:`agreement.calibration_map`): ``judge_dist[y] = P(label = y | the judge's verdict)``.
  It already contains the base rate, so it takes the place of the ``prior``;
* **a rating** ``r`` from a rater of accuracy ``a`` has likelihood ``P(r | label = y) = a`` when
  ``r = y``; otherwise ``1 - a`` spread over the other points, evenly on nominal scales and on
  ordinal ones in proportion to ``error_decay ** (distance - 1)`` (errors are mostly one point
  off).  Raters err independently given the label (the model's main simplification: real raters
  share hard items, so several agreeing ratings are a little less sure than it says).  Where
  errors are spread unevenly by the label itself (on an ordinal scale a rater who misses an end
  point can only go inwards), an ``error_matrix`` fitted on the project's ratings
  (:func:`agreement.rater_model_fit`) takes the place of that fixed form.

:func:`label_posterior` is ``P(label | evidence)``; :func:`overlap_next_posterior` asks for one
more rating while the most probable label's posterior is below ``target``, between a minimum and
a maximum; the label is always the posterior's mode (on ordinal scales too: two raters one point
apart do not settle on the lower one).  :func:`majority_accuracy` is the accuracy a fixed majority
of ``n`` raters reaches under the same model, a principled ``target``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

PosteriorLevel = Literal["nominal", "ordinal"]
Action = Literal["rate", "settled", "exhausted"]
DEFAULT_ERROR_DECAY = 0.25


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _check_points(points: Sequence[Any]) -> list[Any]:
    values = list(points)
    if len(values) < 2:
        raise ValueError("a scale needs at least two points")
    if len(set(values)) != len(values):
        raise ValueError("the scale's points must be distinct")
    return values


def _check_probability(name: str, value: float, *, open_interval: bool = True) -> float:
    value = float(value)
    if not np.isfinite(value) or (open_interval and not 0.0 < value < 1.0) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1); got {value!r}")
    return value


@lru_cache(maxsize=64)
def error_weights(k: int, level: PosteriorLevel, error_decay: float) -> np.ndarray:
    """``W[y, r]``: the share of a rater's errors on label ``y`` that land on point ``r`` (rows sum
    to 1, ``W[y, y] = 0``).  Nominal: evenly; ordinal: in proportion to
    ``error_decay ** (distance - 1)``.  Read-only (cached)."""
    apart = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :])
    weight = error_decay ** np.maximum(apart - 1, 0) if level == "ordinal" else np.ones((k, k))
    weight = np.where(apart == 0, 0.0, weight)
    weight = weight / weight.sum(axis=1, keepdims=True)
    weight.setflags(write=False)
    return weight


def error_spread(k: int, level: PosteriorLevel, error_decay: float = DEFAULT_ERROR_DECAY,
                 error_matrix: npt.ArrayLike | None = None) -> np.ndarray:  # fmt: skip
    """``W[y, r]`` as the posterior uses it: ``error_matrix`` when given (a fitted spread of each
    label's errors, ``RaterModel.errors``; its diagonal is ignored and each row is normalised over
    the other points), else :func:`error_weights` of ``level`` and ``error_decay``."""
    if error_matrix is None:
        if not 0.0 < error_decay <= 1.0:
            raise ValueError(f"error_decay must lie in (0, 1]; got {error_decay!r}")
        return error_weights(k, level, float(error_decay))
    weight = np.array(error_matrix, dtype=float)
    if weight.shape != (k, k) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError(f"error_matrix must be {k} x {k} finite non-negative numbers")
    np.fill_diagonal(weight, 0.0)
    total = weight.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("every row of error_matrix needs some weight off its diagonal")
    return weight / total


def rating_likelihood(
    *, points: Sequence[Any], level: PosteriorLevel, value: Any, accuracy: float,
    error_decay: float = DEFAULT_ERROR_DECAY, error_matrix: npt.ArrayLike | None = None,
) -> np.ndarray:  # fmt: skip
    """``P(rating = value | label = y)`` for each point ``y`` of the scale, under the model above.

    ``points`` in scale order (ordinal: the distance between two points is their rank
    difference).  ``accuracy`` in (0, 1).  ``error_matrix``: see :func:`error_spread`.  A value
    that is not a point of the scale raises."""
    values = _check_points(points)
    accuracy = _check_probability("accuracy", accuracy)
    if level not in ("nominal", "ordinal"):
        raise ValueError(f"level must be 'nominal' or 'ordinal'; got {level!r}")
    try:
        at = values.index(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a point of the scale {values!r}") from None
    weights = error_spread(len(values), level, error_decay, error_matrix)
    out = (1 - accuracy) * weights[:, at]
    out[at] = accuracy
    return out


def label_posterior(
    *,
    points: Sequence[Any],
    level: PosteriorLevel = "nominal",
    prior: npt.ArrayLike | None = None,
    judge_dist: npt.ArrayLike | None = None,
    ratings: Sequence[Any] = (),
    rater_accuracy: float | Sequence[float] = 0.85,
    error_decay: float = DEFAULT_ERROR_DECAY,
    error_matrix: npt.ArrayLike | None = None,
) -> np.ndarray:
    """``P(label = y | judge, ratings)`` for each point ``y`` of ``points`` (sums to 1).

    ``prior``: the base rate of each point (default uniform).  ``judge_dist``: the judge's
    calibrated distribution, which replaces the prior (it is already ``P(y | verdict)``); NaN or
    missing mass is not allowed here, calibrate first.  ``ratings``: people's values;
    ``rater_accuracy``: one accuracy for all of them or one per rating.  A point with zero
    probability stays at zero whatever the ratings say, so calibrated distributions should keep
    every point above zero (:func:`agreement.calibrate_distribution` does)."""
    values = _check_points(points)
    k = len(values)
    base = judge_dist if judge_dist is not None else (prior if prior is not None else np.full(k, 1.0 / k))
    belief = np.asarray(base, dtype=float)
    if belief.shape != (k,) or not np.all(np.isfinite(belief)) or np.any(belief < 0) or belief.sum() <= 0:
        raise ValueError(f"the prior / judge distribution must be {k} finite non-negative numbers, not all 0")
    belief = belief / belief.sum()
    accuracies = (
        [float(rater_accuracy)] * len(ratings) if isinstance(rater_accuracy, int | float) else list(rater_accuracy)
    )
    if len(accuracies) != len(ratings):
        raise ValueError(f"{len(ratings)} ratings but {len(accuracies)} accuracies")
    log = np.log(np.maximum(belief, 1e-300))
    spread = error_spread(k, level, error_decay, error_matrix) if ratings else None
    for value, accuracy in zip(ratings, accuracies, strict=True):
        log += np.log(rating_likelihood(points=values, level=level, value=value, accuracy=float(accuracy),
                                        error_matrix=spread))  # fmt: skip
    log[belief == 0] = -np.inf
    out = np.exp(log - log.max())
    return out / out.sum()


@dataclass(frozen=True)
class PosteriorDecision:
    """What an item needs next under the posterior rule.

    ``action``: ``"rate"`` (ask one more person), ``"settled"`` (``label``'s posterior reached the
    target) or ``"exhausted"`` (the maximum is reached below the target: review, as today; ``label``
    is still the posterior's best guess).  ``probability``: the posterior of ``label``."""

    action: Action
    label: Any
    probability: float
    ratings: int
    reason: str
    posterior: tuple[float, ...]

    @property
    def needs_rating(self) -> bool:
        return self.action == "rate"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (a numeric label as a float)."""
        label = self.label if isinstance(self.label, (bool, str)) or self.label is None else float(self.label)
        return {"action": self.action, "label": label, "probability": round(float(self.probability), 6),
                "ratings": int(self.ratings), "reason": self.reason}  # fmt: skip


def overlap_next_posterior(
    *,
    points: Sequence[Any],
    target: float,
    min_overlap: int,
    max_overlap: int,
    level: PosteriorLevel = "nominal",
    prior: npt.ArrayLike | None = None,
    judge_dist: npt.ArrayLike | None = None,
    ratings: Sequence[Any] = (),
    rater_accuracy: float | Sequence[float] = 0.85,
    error_decay: float = DEFAULT_ERROR_DECAY,
    error_matrix: npt.ArrayLike | None = None,
) -> PosteriorDecision:
    """Whether an item (one criterion) needs one more human rating under the posterior rule.

    In this order: fewer than ``min_overlap`` ratings: rate; the posterior mode's probability
    reaches ``target``: settled on it; ``max_overlap`` ratings: exhausted; else rate.
    ``min_overlap=0`` lets a calibrated judge settle an item with no human at all: the caller
    passes a ``judge_dist`` only where that is allowed (a trusted judge version whose calibration
    held on gold).  Decide after each new rating; the arguments are those of
    :func:`label_posterior`."""
    if int(min_overlap) != min_overlap or int(max_overlap) != max_overlap or not 0 <= min_overlap <= max_overlap:
        raise ValueError(f"need integers 0 <= min_overlap <= max_overlap; got {min_overlap!r}, {max_overlap!r}")
    if max_overlap < 1:
        raise ValueError("max_overlap must be at least 1")
    target = _check_probability("target", target)
    ratings = [r for r in ratings if r is not None]
    post = label_posterior(points=points, level=level, prior=prior, judge_dist=judge_dist, ratings=ratings,
                           rater_accuracy=rater_accuracy, error_decay=error_decay,
                           error_matrix=error_matrix)  # fmt: skip
    best = int(np.argmax(post))
    label, p, n = list(points)[best], float(post[best]), len(ratings)
    shape = tuple(float(x) for x in post)
    if n < min_overlap:
        return PosteriorDecision("rate", label, p, n, f"{n} of at least {min_overlap} ratings", shape)
    if p >= target:
        return PosteriorDecision("settled", label, p, n, f"P({label!r}) = {p:.3f} >= {target:g}", shape)
    if n >= max_overlap:
        return PosteriorDecision("exhausted", label, p, n, f"P({label!r}) = {p:.3f} < {target:g} after the maximum "
                                 f"of {max_overlap} ratings", shape)  # fmt: skip
    return PosteriorDecision("rate", label, p, n, f"P({label!r}) = {p:.3f} < {target:g}", shape)


def majority_accuracy(
    *, points: Sequence[Any], n: int = 3, level: PosteriorLevel = "nominal", prior: npt.ArrayLike | None = None,
    rater_accuracy: float = 0.85, error_decay: float = DEFAULT_ERROR_DECAY,
    error_matrix: npt.ArrayLike | None = None,
) -> float:  # fmt: skip
    """The expected accuracy of fixed overlap ``n`` under the model: the probability that the
    label of ``n`` independent ratings (nominal: the most frequent value, ties to the
    posterior's mode; ordinal: the lower median, as the consensus rule does) equals the truth.
    A stopping ``target`` that matches fixed overlap's accuracy (the rule's items stop at or
    above it, so on average it does at least as well, as far as the model holds)."""
    values = _check_points(points)
    k = len(values)
    if int(n) != n or n < 1 or k**n > 200_000:
        raise ValueError(f"n must be a positive integer with few enough outcomes to enumerate; got {n!r}")
    base = np.full(k, 1.0 / k) if prior is None else _normalised(np.asarray(prior, dtype=float))
    spread = error_spread(k, level, error_decay, error_matrix)
    like = np.array(
        [
            rating_likelihood(points=values, level=level, value=v, accuracy=rater_accuracy, error_matrix=spread)
            for v in values
        ]
    )  # like[r, y]
    total = 0.0
    for outcome in itertools.product(range(k), repeat=n):
        p_given = np.prod(like[list(outcome), :], axis=0)  # P(outcome | y) per y
        if level == "ordinal":
            guess = sorted(outcome)[(n - 1) // 2]
        else:
            counts = np.bincount(outcome, minlength=k)
            top = np.flatnonzero(counts == counts.max())
            guess = int(top[np.argmax((base * p_given)[top])])
        total += float(base[guess] * p_given[guess])
    return total
