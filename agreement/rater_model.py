"""How accurate each rater is, estimated from what a project has: gold where there is some, and
otherwise the raters' agreement with each other (one-coin Dawid-Skene, fitted by EM).

The model is the one :mod:`agreement.posterior` decides with: a rater of accuracy ``a`` gives the
true label with probability ``a`` and otherwise an error spread by :func:`error_weights` (on
ordinal scales the decay with distance is estimated too).  EM alternates between each item's
posterior over labels (gold items: their gold) and the base rate, each rater's accuracy (shrunk
towards the pooled accuracy by ``shrinkage`` pseudo-ratings, so a rater seen ten times is not
called perfect) and the decay.  Ratings collected under an adaptive stopping rule are fine here:
the rule looks only at ratings already observed, so the likelihood (and EM) can ignore it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agreement.posterior import DEFAULT_ERROR_DECAY, PosteriorLevel, error_weights

_ACCURACY_RANGE = (0.05, 0.995)


@dataclass(frozen=True)
class RaterModel:
    """Fitted rater model: the base rate of each point, each rater's accuracy, the pooled accuracy
    (for raters it has not seen) and the ordinal error decay."""

    points: tuple[Any, ...]
    level: PosteriorLevel
    prior: tuple[float, ...]
    pooled: float
    error_decay: float
    accuracy: Mapping[Hashable, float] = field(default_factory=dict)
    items: int = 0
    ratings: int = 0

    def accuracy_of(self, rater: Hashable) -> float:
        """The rater's accuracy, or the pooled one for a rater the fit has not seen."""
        return float(self.accuracy.get(rater, self.pooled))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (rater ids as strings)."""
        return {"level": self.level, "prior": [round(p, 6) for p in self.prior], "pooled": round(self.pooled, 6),
                "error_decay": round(self.error_decay, 6), "items": self.items, "ratings": self.ratings,
                "accuracy": {str(r): round(a, 6) for r, a in self.accuracy.items()}}  # fmt: skip


def rater_model_fit(
    *,
    units: Sequence[Hashable],
    raters: Sequence[Hashable],
    values: Sequence[Any],
    points: Sequence[Any],
    level: PosteriorLevel = "nominal",
    gold: Mapping[Hashable, Any] | None = None,
    unit_prior: Mapping[Hashable, Sequence[float]] | None = None,
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
    the accuracies come out low).  Values that are not
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
    for _ in range(int(iterations) if rows else 0):
        prior = (post[~own].sum(axis=0) + 1.0) / (int((~own).sum()) + k)
        right = post[ju, jv]  # P(rating j is correct)
        pooled = float(np.clip((right.sum() + 1.0) / (right.size + 2.0), *_ACCURACY_RANGE))
        per = np.bincount(jr, weights=right, minlength=n_raters)
        seen = np.bincount(jr, minlength=n_raters)
        new_accuracy = np.clip((per + shrinkage * pooled) / (seen + shrinkage), *_ACCURACY_RANGE)
        if level == "ordinal" and k > 2:
            decay = _decay_fit(post[ju], apart, k, decay)
        weights = error_weights(k, level, float(decay))
        a = new_accuracy[jr][:, None]
        like = np.where(apart == 0, a, (1 - a) * weights[:, jv].T)  # like[j, y] = P(v_j | y)
        log = np.where(own[:, None], own_log, np.log(prior)[None, :])
        np.add.at(log, ju, np.log(like))
        new_post = np.exp(log - log.max(axis=1, keepdims=True))
        new_post /= new_post.sum(axis=1, keepdims=True)
        new_post[known] = fixed[known]
        change = max(float(np.abs(new_post - post).max()), float(np.abs(new_accuracy - accuracy).max()))
        post, accuracy = new_post, new_accuracy
        if change < tolerance:
            break
    if not rows:
        prior = (fixed.sum(axis=0) + 1.0) / (n_units + k)
    return RaterModel(
        points=tuple(scale), level=level, prior=tuple(float(p) for p in prior), pooled=pooled,
        error_decay=float(decay), accuracy={r: float(accuracy[r_at[r]]) for r in rater_ids},
        items=n_units, ratings=len(rows),
    )  # fmt: skip


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
