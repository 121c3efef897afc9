"""Simple agreement measures: percent agreement, Cohen's kappa, Spearman's rho.

They complement alpha for reporting: percent agreement is what people intuitively
read, kappa and rho compare exactly two sources (two raters, or a judge against a
human consensus).  Each returns a :class:`Measure` whose ``value`` is None, with a
``reason``, when the statistic is undefined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from agreement._data import as_ratings, dense_codes, pairable
from agreement.alpha import json_float

Weights = Literal["linear", "quadratic"] | None


@dataclass(frozen=True)
class Measure:
    """A single agreement statistic over ``units`` compared units (or paired ratings)."""

    value: float | None
    reason: str | None
    units: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"value": json_float(self.value), "reason": self.reason, "units": int(self.units)}


def percent_agreement(units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike) -> Measure:
    """Mean over pairable units of the share of rater pairs that gave identical values.

    For a unit with ``m`` ratings, ``n_c`` of them equal to ``c``, the share is
    ``sum_c n_c (n_c - 1) / (m (m - 1))``.  Averaging per unit (rather than pooling pairs)
    keeps units with many raters from dominating.  Exact equality is used, so for
    continuous scores this is rarely meaningful; use alpha there.
    """
    p = pairable(as_ratings(units, raters, values))
    if p.n_units == 0:
        return Measure(None, "no unit has two or more ratings", 0)
    _, codes = dense_codes(p.x)
    key = p.unit.astype(np.int64) * (int(codes.max()) + 1) + codes
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    same = np.bincount(p.unit[first], weights=counts * (counts - 1.0), minlength=p.n_units)
    m = p.pairable_m
    share = same / (m * (m - 1.0))
    return Measure(float(share.mean()), None, p.n_units)


def pair_ratings(
    units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike, rater_a: int, rater_b: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unit ids, values of rater_a, values of rater_b)`` over units both of them rated."""
    u = np.asarray(units)
    r = np.asarray(raters)
    v = np.asarray(values, dtype=np.float64)
    a = (r == rater_a) & ~np.isnan(v)
    b = (r == rater_b) & ~np.isnan(v)
    common, ia, ib = np.intersect1d(u[a], u[b], assume_unique=False, return_indices=True)
    return common, v[a][ia], v[b][ib]


def _paired(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"expected two 1-D arrays of equal length; got shapes {x.shape} and {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def cohen_kappa(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    weights: Weights = None,
    categories: npt.ArrayLike | None = None,
) -> Measure:
    """Cohen's kappa between two aligned rating arrays (pairs with a NaN are skipped).

    ``kappa = 1 - sum(w * O) / sum(w * E)`` with ``O`` the observed joint proportions,
    ``E`` the product of the two raters' marginals (chance agreement *per rater*, which is
    what separates kappa from alpha/Scott's pi), and disagreement weights ``w``:
    ``[i != j]`` unweighted, ``|i - j|`` linear, ``(i - j)^2`` quadratic on the *positions*
    ``i, j`` of the values in ``categories``.  Weighted kappa needs the ordered scale: if
    ``categories`` is omitted the sorted observed values are used, which understates
    distances when scale points were never used, so pass the full scale for ordinal data.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")
    x, y = _paired(a, b)
    if x.size == 0:
        return Measure(None, "no paired ratings", 0)
    scale = np.unique(np.concatenate([x, y])) if categories is None else np.asarray(categories, dtype=np.float64)
    if categories is not None:
        if scale.ndim != 1 or np.unique(scale).size != scale.size:
            raise ValueError("categories must be a 1-D sequence of distinct values")
        if not (np.isin(x, scale).all() and np.isin(y, scale).all()):
            raise ValueError("a rating is not among the given categories")
    order = np.argsort(scale, kind="stable")
    position = order[np.searchsorted(scale, x, sorter=order)], order[np.searchsorted(scale, y, sorter=order)]
    k = scale.size
    observed = np.bincount(position[0] * k + position[1], minlength=k * k).reshape(k, k) / x.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    else:
        w = ((i - j) ** 2).astype(np.float64)
    chance = float((w * expected).sum())
    if chance == 0.0:
        return Measure(None, "no chance disagreement: both raters used one and the same category", int(x.size))
    return Measure(1.0 - float((w * observed).sum()) / chance, None, int(x.size))


def average_ranks(x: npt.NDArray[np.float64]) -> np.ndarray:
    """Ranks 1..n with ties given the mean of the ranks they span."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start..end-1 (0-based) -> mean + 1
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> Measure:
    """Spearman's rho: Pearson correlation of average ranks (the tie-correct form).

    The shortcut ``1 - 6 sum d^2 / (n (n^2 - 1))`` is exact only without ties, and rubric
    scales are full of ties, hence ranks-then-Pearson.
    """
    x, y = _paired(a, b)
    if x.size < 2:
        return Measure(None, "fewer than two paired ratings", int(x.size))
    rx, ry = average_ranks(x), average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    sx, sy = float(rx @ rx), float(ry @ ry)
    if sx == 0.0 or sy == 0.0:
        which = "first" if sx == 0.0 else "second"
        return Measure(None, f"no variation: the {which} source gave every unit the same value", int(x.size))
    rho = float(rx @ ry) / np.sqrt(sx * sy)
    return Measure(float(np.clip(rho, -1.0, 1.0)), None, int(x.size))
