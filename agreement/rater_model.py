"""How accurate each rater is, estimated from what a project has: gold where there is some, and
otherwise the raters' agreement with each other (one-coin Dawid-Skene, fitted by EM).

The model is the one :mod:`agreement.posterior` decides with: a rater of accuracy ``a`` gives the
true label with probability ``a`` and otherwise an error spread over the other points by the
label's row of an **error matrix** shared by all raters (``errors``; on scales of three points or
more). EM alternates between each item's posterior over labels (gold items: their gold) and the
base rate, each rater's accuracy (shrunk towards the pooled accuracy by ``shrinkage``
pseudo-ratings, so a rater seen ten times is not called perfect), the ordinal decay of
:func:`error_weights` and the error matrix: each label's expected errors by the point they landed
on, plus ``ERROR_PRIOR_WEIGHT`` pseudo-errors spread as :func:`error_weights` spreads them
(evenly on nominal scales, by the fitted decay on ordinal ones), so a label rarely seen wrong
keeps that fixed form. The matrix is what makes the posterior ordinal-aware where the fixed form is not: a rater who
misses an end point can only err inwards, so a rating of 2 comes from a true 1 more often than a
symmetric decay says, and the middle of a scale collects errors from both sides. Ratings
collected under an adaptive stopping rule are fine here: the rule looks only at ratings already
observed, so the likelihood (and EM) can ignore it.

**Item difficulty.** Raters do not err independently of the item: hard items are hard for
everyone (the judge included), so one accuracy per rater makes agreeing ratings look surer than
they are on hard items and less sure on easy ones. Given a per-item *difficulty covariate*
``z`` (:func:`difficulty_covariate`: the logit of the judge's own confidence in its verdict,
which every judged item has before any person rates it), the model becomes
``logit P(rater r right on item i) = theta_r + slope * (z_i - center)``: one slope shared by all
raters (a GLAD-style model, Whitehill et al. 2009, with the item's difficulty observed through
the judge instead of inferred from one to five ratings per item). ``slope`` is fitted with the
accuracies in the same EM (a Newton step per iteration on the expected log-likelihood); a
positive slope means raters are more accurate where the judge is surer. Items without a
covariate sit at the center (the accuracy of a typical rated item).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agreement.posterior import DEFAULT_ERROR_DECAY, PosteriorLevel, error_weights

_ACCURACY_RANGE = (0.05, 0.995)
SLOPE_PRECISION = 25.0
ERROR_PRIOR_WEIGHT = 20.0  # pseudo-errors per label pulling its row of the error matrix to the fixed form


@dataclass(frozen=True)
class RaterModel:
    """Fitted rater model: the base rate of each point, each rater's accuracy, the pooled accuracy
    (for raters it has not seen), the ordinal error decay and the error matrix (``errors[y][r]``:
    the share of errors on label ``y`` that land on point ``r``; None on two-point scales, where
    there is one way to be wrong, and in models built by hand, which then use the decay)."""

    points: tuple[Any, ...]
    level: PosteriorLevel
    prior: tuple[float, ...]
    pooled: float
    error_decay: float
    accuracy: Mapping[Hashable, float] = field(default_factory=dict)
    items: int = 0
    ratings: int = 0
    difficulty_slope: float = 0.0
    covariate_center: float = 0.0
    errors: tuple[tuple[float, ...], ...] | None = None

    def shift(self, covariate: float | None) -> float:
        """The logit shift of every rater's accuracy on an item with ``covariate`` (None: 0)."""
        if covariate is None or not np.isfinite(covariate):
            return 0.0
        return float(self.difficulty_slope * (covariate - self.covariate_center))

    def accuracy_of(self, rater: Hashable, covariate: float | None = None) -> float:
        """The rater's accuracy (the pooled one for a rater the fit has not seen) on an item with
        difficulty ``covariate`` (None: a typical item)."""
        base = float(self.accuracy.get(rater, self.pooled))
        return shifted_accuracy(base, self.shift(covariate))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (rater ids as strings)."""
        return {"level": self.level, "prior": [round(p, 6) for p in self.prior], "pooled": round(self.pooled, 6),
                "error_decay": round(self.error_decay, 6), "items": self.items, "ratings": self.ratings,
                "accuracy": {str(r): round(a, 6) for r, a in self.accuracy.items()},
                "difficulty_slope": round(self.difficulty_slope, 6),
                "covariate_center": round(self.covariate_center, 6),
                "errors": None if self.errors is None else [[round(w, 6) for w in r] for r in self.errors]}  # fmt: skip


def difficulty_covariate(confidence: float | None) -> float | None:
    """An item's difficulty covariate from the judge's confidence in its verdict (the probability
    its distribution gives its answer, before calibration): ``logit(confidence)``, clipped to
    [0.001, 0.999]. None (no verdict) stays None."""
    if confidence is None or not np.isfinite(confidence):
        return None
    c = float(np.clip(confidence, 1e-3, 1 - 1e-3))
    return float(np.log(c / (1 - c)))


def shifted_accuracy(accuracy: float, shift: float) -> float:
    """``accuracy`` moved by ``shift`` on the logit scale, kept inside the fit's range."""
    if shift == 0.0:
        return float(accuracy)
    a = float(np.clip(accuracy, *_ACCURACY_RANGE))
    return float(np.clip(1 / (1 + np.exp(-(np.log(a / (1 - a)) + shift))), *_ACCURACY_RANGE))


def rater_model_fit(
    *,
    units: Sequence[Hashable],
    raters: Sequence[Hashable],
    values: Sequence[Any],
    points: Sequence[Any],
    level: PosteriorLevel = "nominal",
    gold: Mapping[Hashable, Any] | None = None,
    unit_prior: Mapping[Hashable, Sequence[float]] | None = None,
    covariates: Mapping[Hashable, float] | None = None,
    shrinkage: float = 10.0,
    initial_accuracy: float = 0.8,
    iterations: int = 100,
    tolerance: float = 1e-6,
) -> RaterModel:
    """Fit the rater model to long-format ratings (``units[j]``, ``raters[j]``, ``values[j]``).

    ``gold``: items whose label is known (their posterior is fixed to it).  ``unit_prior``: items
    whose label has its own prior, the judge's calibrated distribution where it took part in the
    decision to stop (the stopping rule is ignorable only when the fit sees everything the rule
    looked at; leaving the judge out makes the items it settled early look like the easy ones and
    the accuracies come out low).  ``covariates``: items' difficulty covariates
    (:func:`difficulty_covariate`); with them the fit adds the shared ``difficulty_slope`` (module
    docstring; ``accuracy`` is then each rater's accuracy at ``covariate_center``, the mean
    covariate of the rated items that have one), without them the slope is 0.  Values that are not
    points of the scale are skipped.  With no ratings at all the model is the prior (uniform, or
    the gold's base rate) with ``initial_accuracy`` for everyone."""
    scale = list(points)
    k = len(scale)
    if k < 2 or len(set(scale)) != k:
        raise ValueError("a scale needs at least two distinct points")
    if not len(units) == len(raters) == len(values):
        raise ValueError("units, raters and values must have equal lengths")
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be non-negative; got {shrinkage!r}")
    index = {p: i for i, p in enumerate(scale)}
    rows = [(u, r, index[v]) for u, r, v in zip(units, raters, values, strict=True) if v in index]
    gold = {u: index[v] for u, v in (gold or {}).items() if v in index}
    unit_ids = sorted({u for u, _, _ in rows} | set(gold), key=repr)
    rater_ids = sorted({r for _, r, _ in rows}, key=repr)
    u_at = {u: i for i, u in enumerate(unit_ids)}
    r_at = {r: i for i, r in enumerate(rater_ids)}
    ju = np.array([u_at[u] for u, _, _ in rows], dtype=int)
    jr = np.array([r_at[r] for _, r, _ in rows], dtype=int)
    jv = np.array([v for _, _, v in rows], dtype=int)
    n_units, n_raters = len(unit_ids), len(rater_ids)
    known = np.zeros(n_units, dtype=bool)
    fixed = np.zeros((n_units, k))
    for u, v in gold.items():
        known[u_at[u]] = True
        fixed[u_at[u], v] = 1.0
    # Start from each item's vote shares (gold where known).
    post = np.full((n_units, k), 1e-3)
    np.add.at(post, (ju, jv), 1.0)
    post = post / post.sum(axis=1, keepdims=True)
    post[known] = fixed[known]
    decay = DEFAULT_ERROR_DECAY if level == "ordinal" else 1.0
    accuracy = np.full(n_raters, float(initial_accuracy))
    pooled, prior = float(initial_accuracy), np.full(k, 1.0 / k)
    own = np.zeros(n_units, dtype=bool)
    own_log = np.zeros((n_units, k))
    for u, dist in (unit_prior or {}).items():
        if u in u_at:
            d = np.asarray(dist, dtype=float)
            own[u_at[u]] = True
            own_log[u_at[u]] = np.log(np.maximum(d / d.sum(), 1e-300))
    apart = np.abs(jv[:, None] - np.arange(k)[None, :])  # (ratings, labels): distance of the rating
    z = np.zeros(len(rows))
    has = np.zeros(len(rows), dtype=bool)
    for j, (u, _, _) in enumerate(rows):
        c = (covariates or {}).get(u)
        if c is not None and np.isfinite(c):
            z[j], has[j] = float(c), True
    center = float(z[has].mean()) if has.any() else 0.0
    z = np.where(has, z - center, 0.0)
    use_slope = bool(has.any()) and float(np.ptp(z[has])) > 0
    slope = 0.0
    errors = error_weights(k, level, float(decay))
    seen_value = np.eye(k)[jv]  # (ratings, points): one-hot of each rating's value
    for _ in range(int(iterations) if rows else 0):
        prior = (post[~own].sum(axis=0) + 1.0) / (int((~own).sum()) + k)
        right = post[ju, jv]  # P(rating j is correct)
        if use_slope:
            new_accuracy, pooled, new_slope = _accuracy_step(right, jr, z, accuracy, slope, shrinkage, n_raters)
        else:
            pooled = float(np.clip((right.sum() + 1.0) / (right.size + 2.0), *_ACCURACY_RANGE))
            per = np.bincount(jr, weights=right, minlength=n_raters)
            seen = np.bincount(jr, minlength=n_raters)
            new_accuracy = np.clip((per + shrinkage * pooled) / (seen + shrinkage), *_ACCURACY_RANGE)
            new_slope = 0.0
        if level == "ordinal" and k > 2:
            decay = _decay_fit(post[ju], apart, k, decay)
        errors = error_weights(k, level, float(decay))
        if k > 2:
            errors = _errors_fit(post[ju], seen_value, errors)
        a = _logistic(_logit(new_accuracy[jr]) + new_slope * z)[:, None] if use_slope else new_accuracy[jr][:, None]
        like = np.where(apart == 0, a, (1 - a) * errors[:, jv].T)  # like[j, y] = P(v_j | y)
        log = np.where(own[:, None], own_log, np.log(prior)[None, :])
        np.add.at(log, ju, np.log(like))
        new_post = np.exp(log - log.max(axis=1, keepdims=True))
        new_post /= new_post.sum(axis=1, keepdims=True)
        new_post[known] = fixed[known]
        change = max(float(np.abs(new_post - post).max()), float(np.abs(new_accuracy - accuracy).max()),
                     abs(new_slope - slope))  # fmt: skip
        post, accuracy, slope = new_post, new_accuracy, new_slope
        if change < tolerance:
            break
    if not rows:
        prior = (fixed.sum(axis=0) + 1.0) / (n_units + k)
    return RaterModel(
        points=tuple(scale), level=level, prior=tuple(float(p) for p in prior), pooled=pooled,
        error_decay=float(decay), accuracy={r: float(accuracy[r_at[r]]) for r in rater_ids},
        items=n_units, ratings=len(rows), difficulty_slope=float(slope), covariate_center=center,
        errors=tuple(tuple(float(w) for w in row) for row in errors) if k > 2 else None,
    )  # fmt: skip


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, *_ACCURACY_RANGE)
    return np.log(p / (1 - p))


def _logistic(x: np.ndarray) -> np.ndarray:
    return np.clip(1 / (1 + np.exp(-x)), *_ACCURACY_RANGE)


def _accuracy_step(right: np.ndarray, jr: np.ndarray, z: np.ndarray, accuracy: np.ndarray, slope: float,
                   shrinkage: float, n_raters: int) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """One M-step of the difficulty model: Newton steps on the expected log-likelihood of "rating
    j is right" (soft, ``right``) under ``logit = theta_r + slope z_j``. The pooled accuracy (at
    z = 0, with one pseudo-rating right and one wrong as without covariates) first; each rater's
    theta with ``shrinkage`` pseudo-ratings at z = 0 that are right at the pooled rate (at slope 0
    this is exactly the closed form of the model without covariates); then the shared slope."""
    theta0 = float(_logit(np.array([(right.sum() + 1.0) / (right.size + 2.0)]))[0])
    for _ in range(3):
        p = _logistic(theta0 + slope * z)
        p0 = 1 / (1 + np.exp(-theta0))
        grad = float((right - p).sum() + (1.0 - 2 * p0))
        hess = float((p * (1 - p)).sum() + 2 * p0 * (1 - p0))
        theta0 += grad / hess
    pooled = float(np.clip(1 / (1 + np.exp(-theta0)), *_ACCURACY_RANGE))
    theta = _logit(accuracy)
    for _ in range(2):
        p = _logistic(theta[jr] + slope * z)
        pr = _logistic(theta)
        step = np.bincount(jr, weights=right - p, minlength=n_raters) + shrinkage * (pooled - pr)
        curve = np.bincount(jr, weights=p * (1 - p), minlength=n_raters) + shrinkage * pr * (1 - pr)
        theta = theta + step / np.maximum(curve, 1e-9)
    p = _logistic(theta[jr] + slope * z)
    # A normal prior on the slope (sd 1/sqrt(SLOPE_PRECISION)): with a handful of ratings (a project
    # just started, an audit labelled by a reviewer alone) the slope stays near 0 instead of running away.
    grad = float((z * (right - p)).sum()) - SLOPE_PRECISION * slope
    hess = float((z * z * p * (1 - p)).sum()) + SLOPE_PRECISION
    new_slope = float(np.clip(slope + grad / hess, -5.0, 5.0))
    return _logistic(theta), pooled, new_slope


def _errors_fit(post: np.ndarray, seen_value: np.ndarray, fixed_form: np.ndarray) -> np.ndarray:
    """The error matrix's M-step: each label's expected errors by the point they landed on
    (``post[j, y]`` of rating ``j`` with value ``v`` counts towards ``(y, v)`` when ``v != y``),
    plus ``ERROR_PRIOR_WEIGHT`` pseudo-errors spread as ``fixed_form``; rows normalised."""
    counts = post.T @ seen_value  # counts[y, v]
    np.fill_diagonal(counts, 0.0)
    spread = counts + ERROR_PRIOR_WEIGHT * fixed_form
    return spread / spread.sum(axis=1, keepdims=True)


def _decay_fit(post: np.ndarray, apart: np.ndarray, k: int, current: float) -> float:
    """The ratio of the error rate per point two steps off to one step off, from the expected
    errors at each distance against how many points lie at that distance from each label."""
    reach = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :])  # reach[y, p]
    made, room = [], []
    for d in (1, 2):
        made.append(float((post * (apart == d)).sum()))
        room.append(float((post * (reach == d).sum(axis=1)[None, :]).sum()))
    if made[0] <= 0 or room[1] <= 0:
        return current
    return float(np.clip((made[1] / room[1]) / (made[0] / room[0]), 0.01, 1.0))
