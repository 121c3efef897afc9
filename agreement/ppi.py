"""How good is the dataset: a mean over items from judge labels on all of them plus human labels
on a uniformly random audit sample (prediction-powered inference).

The quantity: ``theta``, the mean of a human label ``Y`` over the project's ``N`` items (the
share accepted when ``Y`` is 0/1, a criterion's mean when it is a score, the share at or above a
level when the caller codes that as 0/1).  Known: the judge's prediction ``f`` on every item,
and ``Y`` on ``n`` audited items.  Four estimates, each with a CLT interval:

* ``human``: the audited items' mean of ``Y`` (what humans alone support);
* ``judge``: the mean of ``f`` over all items, with the interval one would draw if the judge
  were right (naive: it does not cover ``theta`` when the judge is biased, and it cannot tell);
* ``ppi`` (Angelopoulos, Bates, Fannjiang, Jordan, Zrnic, *Science* 2023):
  ``mean_N(f) + mean_n(Y - f)``: the judge's mean corrected by its error on the audit;
* ``ppi++`` (Angelopoulos, Duchi, Zrnic 2023): ``lambda * mean_N(f) + mean_n(Y - lambda f)``
  with ``lambda`` tuned on the audit to minimise the variance.  ``lambda = 0`` is ``human``,
  ``lambda = 1`` is ``ppi``; with a useless judge ``lambda`` goes to 0.

With ``target="dataset"`` (the default) ``theta`` is the mean over these ``N`` items, the
audit is a simple random sample without replacement, and the variance is the survey-sampling
one with the finite-population correction: ``(1 - n/N) s^2(Y - lambda f) / n``.  That makes
``ppi`` the survey *difference estimator* and ``ppi++`` the *regression estimator*, whose
validity rests only on the audit being drawn at random, not on the judge: a biased judge makes
the interval wider, never wrong.  With ``target="population"`` ``theta`` is the mean of the
distribution the items are drawn from (items i.i.d.), as in the PPI papers.

The interval is valid (asymptotically, by the CLT) when: (1) the audit items are a uniform
random sample of the items, drawn independently of the judge and of the labels
(:func:`audit_sample`), and *all* of them were labelled (or a prefix in draw order:
:func:`audit_prefix`); (2) ``Y`` on an audited item is what the estimate is about: either the
truth (an expert's gold), or "the label the human process gives", in which case ``theta`` is
the mean of that label, errors included; (3) ``n`` is large enough for the CLT (a few dozen
items, more for a share near 0 or 1: all-equal labels give a zero-width interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from agreement._binomial import normal_quantile

Target = Literal["dataset", "population"]
EstimateMethod = Literal["human", "judge", "ppi", "ppi++"]


@dataclass(frozen=True)
class MeanEstimate:
    """One estimate of the mean with its standard error and interval (None, with a ``reason``,
    when undefined); ``lam`` is the weight on the judge (``ppi``: 1, ``ppi++``: tuned)."""

    method: EstimateMethod
    estimate: float | None
    std_error: float | None
    ci: tuple[float, float] | None
    lam: float | None = None
    reason: str | None = None

    @property
    def width(self) -> float | None:
        """Width of the interval."""
        return None if self.ci is None else self.ci[1] - self.ci[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "method": self.method,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci": None if self.ci is None else [float(self.ci[0]), float(self.ci[1])],
            "lam": self.lam,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MeanEstimates:
    """The four estimates of one mean (see the module docstring), over ``items`` items of which
    ``audited`` carry a human label."""

    target: Target
    ci_level: float
    items: int
    audited: int
    human: MeanEstimate
    judge: MeanEstimate
    ppi: MeanEstimate
    ppi_plus: MeanEstimate

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "target": self.target,
            "ci_level": float(self.ci_level),
            "items": int(self.items),
            "audited": int(self.audited),
            "estimates": [e.as_dict() for e in (self.ppi_plus, self.ppi, self.human, self.judge)],
        }


def mean_estimates(
    *,
    item_ids: npt.ArrayLike,
    predictions: npt.ArrayLike,
    audit_ids: npt.ArrayLike,
    audit_labels: npt.ArrayLike,
    ci_level: float = 0.95,
    target: Target = "dataset",
    resolution: float | None = None,
    bounds: tuple[float, float] | None = None,
) -> MeanEstimates:
    """Human-only, judge-only, PPI and PPI++ estimates of the mean label, with intervals.

    ``item_ids`` and ``predictions``: every item and the judge's prediction for it (a label
    coded as a number, or better a soft one: the verdict distribution's ``expected`` value,
    which for a 0/1 label is the judge's probability of 1).  ``audit_ids`` and
    ``audit_labels``: the audited items and their human labels.  Every item needs a
    prediction; an item the judge failed on may be given any fixed value (its error is
    then corrected like any other), never left out, or the audit is no longer a sample of the
    items the estimate covers.

    ``resolution``: the smallest difference two labels can show (1 for a share, the scale's
    step for a score). Given, no interval (but the judge-only one) claims less spread than an
    audit that saw no difference at all supports: a Wald interval from ``n`` audited items that
    all show the same difference (every one agreeing with the judge, or every one accepted) has
    zero width, a certainty a few dozen items cannot give. The variance used is at least
    ``resolution**2 * p(1 - p)`` with ``p = 2 / (n + 4)``, Agresti and Coull's rate for none
    seen in ``n`` (two pseudo-disagreements in four pseudo-items); for a share with every audited
    label equal this is their interval's variance. It binds only when the audit saw (almost) no
    spread, so the intervals of a few hundred audited items with a real judge are unchanged.
    ``bounds``: the range a label takes; estimates and intervals are clipped to it.
    """
    ids = np.asarray(item_ids).reshape(-1)
    f_all = np.asarray(predictions, dtype=np.float64).reshape(-1)
    a_ids = np.asarray(audit_ids).reshape(-1)
    y = np.asarray(audit_labels, dtype=np.float64).reshape(-1)
    if ids.shape != f_all.shape or a_ids.shape != y.shape:
        raise ValueError("item_ids/predictions and audit_ids/audit_labels must be pairs of equal lengths")
    if not (np.isfinite(f_all).all() and np.isfinite(y).all()):
        raise ValueError("predictions and audit labels must be finite numbers (every item needs a prediction)")
    if target not in ("dataset", "population"):
        raise ValueError(f"target must be 'dataset' or 'population'; got {target!r}")
    if resolution is not None and not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution must be a positive number; got {resolution!r}")
    if bounds is not None and not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be (low, high) with low < high; got {bounds!r}")
    z = normal_quantile(ci_level)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if np.any(sorted_ids[1:] == sorted_ids[:-1]) or np.unique(a_ids).size != a_ids.size:
        raise ValueError("item ids and audit ids must not repeat")
    pos = np.searchsorted(sorted_ids, a_ids).clip(0, max(ids.size - 1, 0))
    if ids.size == 0 or np.any(sorted_ids[pos] != a_ids):
        raise ValueError("every audited item must be among the items")
    f = f_all[order][pos]
    N, n = ids.size, a_ids.size
    judge_se = float(f_all.std(ddof=1)) / math.sqrt(N) if N > 1 else None
    judge = _clipped(_interval("judge", float(f_all.mean()), judge_se, z), bounds)
    if n < 2:
        why = "fewer than two audited items"
        empty = {m: MeanEstimate(m, None, None, None, reason=why) for m in ("human", "ppi", "ppi++")}
        return MeanEstimates(target, ci_level, N, n, empty["human"], judge, empty["ppi"], empty["ppi++"])
    var_f = float(f.var(ddof=1))
    cov = float(np.cov(y, f, ddof=1)[0, 1])
    lam_plus = min(1.0, max(0.0, cov / var_f)) if var_f > 0 else 0.0
    f_mean_all, var_f_all = float(f_all.mean()), float(f_all.var(ddof=1))
    weights: tuple[tuple[EstimateMethod, float], ...] = (("human", 0.0), ("ppi", 1.0), ("ppi++", lam_plus))
    out = {}
    floor = 0.0 if resolution is None else resolution**2 * (2 / (n + 4)) * (1 - 2 / (n + 4))
    for method, lam in weights:
        estimate = lam * f_mean_all + float(np.mean(y - lam * f))
        se = _std_error(y, f, lam, n, N, var_f_all, target, floor)
        out[method] = _clipped(_interval(method, estimate, se, z, lam=None if method == "human" else lam), bounds)
    return MeanEstimates(target, ci_level, N, n, out["human"], judge, out["ppi"], out["ppi++"])


def _std_error(
    y: np.ndarray, f: np.ndarray, lam: float, n: int, N: int, var_f_all: float, target: Target, floor: float
) -> float:
    r = n / N
    if target == "dataset":
        # Simple random sample without replacement of n of the N items: mean_N(f) is known
        # exactly, the sampling error is that of mean_n(Y - lam f), shrunk by 1 - n/N.
        return math.sqrt(max(0.0, (1.0 - r) * max(floor, float(np.var(y - lam * f, ddof=1))) / n))
    # Items i.i.d.; the audit is n of them.  mean_N(f) = r mean_n(f) + (1 - r) mean_rest(f), so
    # theta_hat = mean_n(Y - lam (1 - r) f) + lam (1 - r) mean_rest(f), two independent means.
    audit_part = max(floor, float(np.var(y - lam * (1.0 - r) * f, ddof=1))) / n
    rest_part = lam**2 * (1.0 - r) * var_f_all / N
    return math.sqrt(max(0.0, audit_part + rest_part))


def _interval(
    method: EstimateMethod, estimate: float, se: float | None, z: float, lam: float | None = None
) -> MeanEstimate:
    if se is None:
        return MeanEstimate(method, estimate, None, None, lam, "fewer than two items")
    return MeanEstimate(method, estimate, se, (estimate - z * se, estimate + z * se), lam)


def _clipped(estimate: MeanEstimate, bounds: tuple[float, float] | None) -> MeanEstimate:
    if bounds is None or estimate.estimate is None or estimate.ci is None:
        return estimate
    low, high = bounds

    def clip(x: float) -> float:
        return min(high, max(low, x))

    ci = (clip(estimate.ci[0]), clip(estimate.ci[1]))
    return MeanEstimate(estimate.method, clip(estimate.estimate), estimate.std_error, ci, estimate.lam, estimate.reason)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on 64-bit integers whose outputs look uniform."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def audit_keys(item_ids: npt.ArrayLike, *, seed: int) -> np.ndarray:
    """A pseudo-random key in [0, 1) per item id, fixed by ``(seed, id)`` alone."""
    ids = np.asarray(item_ids).reshape(-1)
    if ids.size and ids.dtype.kind not in "iu":
        raise ValueError("item ids must be integers")
    salt = _mix(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    mixed = _mix(ids.astype(np.int64).view(np.uint64) ^ salt)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def audit_sample(item_ids: npt.ArrayLike, *, size: int, seed: int) -> np.ndarray:
    """The audit sample: ``size`` item ids, in the order they should be labelled.

    Each item gets a key from :func:`audit_keys`; the sample is the ``size`` items with the
    smallest keys, smallest first.  So: the same ids and seed give the same sample in any input
    order; any ``size`` items are equally likely to form it (a simple random sample), and its
    first ``k`` items are a simple random sample of size ``k`` too, which is what lets an
    estimate use the labelled part of an audit still in progress (:func:`audit_prefix`); a
    larger ``size`` extends the sample instead of redrawing it; adding items to a project
    changes the sample only where a new item's key is among the smallest.  The keys depend on
    the ids and the seed only, never on content, labels or the judge.  Pick the seed before
    looking at the judge's results and keep it: redrawing until the audit looks good would
    void the interval.
    """
    ids = np.asarray(item_ids).reshape(-1)
    if int(size) != size or not 0 <= size <= ids.size:
        raise ValueError(f"size must be an integer between 0 and the number of items ({ids.size}); got {size!r}")
    if np.unique(ids).size != ids.size:
        raise ValueError("item ids must not repeat")
    keys = audit_keys(ids, seed=seed)
    return ids[np.lexsort((ids, keys))[: int(size)]]


def audit_prefix(audit_order: npt.ArrayLike, labelled_ids: Iterable[int]) -> np.ndarray:
    """The longest prefix of ``audit_order`` whose items are all labelled.

    A prefix of the draw order is itself a uniform sample; "whichever audited items happen to
    be labelled" is not (hard items take longer), so estimates use this prefix only.
    """
    order = np.asarray(audit_order).reshape(-1)
    done = np.isin(order, np.fromiter(labelled_ids, dtype=np.int64))
    missing = np.flatnonzero(~done)
    return order[: missing[0] if missing.size else order.size]
