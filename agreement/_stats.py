"""Per-unit sufficient statistics of Krippendorff's alpha, one class per level.

Notation (Krippendorff 2011): ``n_uc`` ratings of value c in unit u, ``m_u = sum_c n_uc``,
``n_c = sum_u n_uc`` over pairable units, ``n = sum_c n_c``.  The coincidence matrix is
``o_ck = sum_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)`` and::

    D_o = (1 / n) sum_{c,k} o_ck delta_ck
    D_e = 1 / (n (n - 1)) sum_{c,k} n_c n_k delta_ck
    alpha = 1 - D_o / D_e

Because ``delta_cc = 0`` the diagonal never matters, and ``n * D_o`` is a sum over units
of ``do_u = sum_{i != j in u} delta(x_i, x_j) / (m_u - 1)``.  Each level below computes
``do_u`` and whatever per-unit marginals ``D_e`` needs in closed form, never the N x V x V
tensor the reference implementation materialises:

* interval: ``sum_{i != j} (x_i - x_j)^2 = 2 m SS`` with ``SS`` the centred sum of squares,
  so both disagreements are sums of squares (time and memory O(N));
* ordinal: with midranks ``r_c = sum_{g <= c} n_g - n_c / 2`` the ordinal difference is
  exactly ``(r_c - r_k)^2`` (``sum_{g=c}^{k} n_g - (n_c + n_k) / 2 = r_k - r_c``), so ordinal
  alpha is interval alpha on midranks, again O(N);
* nominal: ``sum_{c != k} n_uc n_uk = m_u^2 - sum_c n_uc^2``, O(N);
* ratio: ``do_u`` from pairs of distinct values inside each unit; ``D_e`` exactly for up
  to ``RATIO_EXACT_MAX_V`` values, otherwise by the Fourier quadrature of ``_ratio``.

``weighted(W)`` evaluates both disagreements for many unit-weight vectors at once (the
bootstrap), as products of ``W`` with per-unit statistics.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from agreement import bootstrap
from agreement._base import LevelStats, pairable_table, within_group_pairs
from agreement._data import Level, Pairable, dense_codes
from agreement._ratio import RatioStats
from agreement.bootstrap import UnitMatrix

EXACT_SUM_LIMIT = 2.0**26
"""Ordinal unit sums of centred midranks are exact (no rounding) while ``max(m) * n`` is below this."""


class IntervalStats(LevelStats):
    """Interval metric ``(a - b)^2``; also serves ordinal alpha on midranks."""

    level: Level = "interval"

    def __init__(self, p: Pairable, x: np.ndarray | None = None, *, exact: bool = False) -> None:
        """``x`` (a fresh array this object may overwrite) replaces the ratings' values, e.g.
        ordinal midranks.  ``exact`` promises that every per-unit sum below is computed
        without rounding (values on a 1/2 grid and small enough), which makes shifting by a
        representative rating unnecessary."""
        super().__init__(p)
        size = p.unit_ids.size
        rep: np.ndarray | float = 0.0
        if exact and x is not None:
            s1 = np.bincount(p.unit, weights=x, minlength=size)
            d = np.multiply(x, x, out=x)
        else:
            # Shifted sums: subtracting one of the unit's own ratings bounds the
            # cancellation in s2 - s1^2/m and makes a unit in perfect agreement exactly 0.
            exact = False
            x = p.x if x is None else x
            full_rep = np.empty(size)
            full_rep[p.unit] = x
            d = full_rep[p.unit]
            np.subtract(x, d, out=d)
            s1 = np.bincount(p.unit, weights=d, minlength=size)
            np.multiply(d, d, out=d)
            rep = p.restrict(full_rep)
        s2 = np.bincount(p.unit, weights=d, minlength=size)
        del d, x
        s1, s2 = p.restrict(s1), p.restrict(s2)
        m = self.m
        # In perfect agreement s2 = s1^2 / m exactly (either way above), hence ss_u = 0
        # exactly; the clamp only removes rounding below zero elsewhere.  Arrays are
        # reused in place: fresh allocations of unit-sized arrays cost page faults.
        dev = s1 / m
        ss_u = np.multiply(s1, dev, out=s1)
        np.subtract(s2, ss_u, out=ss_u)
        np.maximum(ss_u, 0.0, out=ss_u)
        factor = m - 1.0
        np.divide(m, factor, out=factor)
        factor *= 2.0
        self._do_u = np.multiply(factor, ss_u, out=factor)
        # Total sum of squares = within units + between unit means (all O(U) arrays).
        dev += rep  # unit means
        self.mean = float(np.einsum("i,i->", m, dev)) / self.n
        dev -= self.mean  # unit mean minus grand mean
        self.ss_total = float(ss_u.sum()) + float(np.einsum("i,i,i->", m, dev, dev))
        self._ss_u, self._dev = ss_u, dev
        # Not exact: rep was set to the per-unit representatives above (an array, no copy here).
        self._constancy_inputs = (ss_u, dev) if exact else (s2, np.asarray(rep))

    @cached_property
    def _constancy(self) -> tuple[np.ndarray, np.ndarray]:
        # Shifted sums: s2 > 0 exactly when a rating differs from the representative.
        # Exact sums: ss_u is exactly 0 for a unit in agreement, and its mean (offset by
        # the grand mean, an injective map on the 1/2 grid) identifies its value.
        spread, value = self._constancy_inputs
        return spread > 0, value

    @property
    def do_u(self) -> np.ndarray:
        return self._do_u

    def expected_numerator(self) -> float:
        return 2.0 * self.n * self.ss_total

    @cached_property
    def _features(self) -> np.ndarray:
        """Per-unit ``[m, sum(x - mean), sum((x - mean)^2), do_u]``: with ``dev`` the unit mean
        minus the grand mean, ``sum(x - mean) = m dev`` and ``sum((x - mean)^2) = ss_u + m dev^2``."""
        m, dev = self.m, self._dev
        return np.column_stack([m, m * dev, self._ss_u + m * dev * dev, self._do_u])

    def weighted(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, t1, t2, do = (w @ self._features).T
        ss = t2 - t1 * t1 / n
        return do / n, 2.0 * ss / (n - 1.0)


class OrdinalStats(IntervalStats):
    """Ordinal metric: interval alpha on midranks of the pairable value marginals."""

    level: Level = "ordinal"

    def __init__(self, p: Pairable, codes: np.ndarray, n_codes: int) -> None:
        n_c = np.bincount(codes, minlength=n_codes).astype(np.float64)
        if not p.all_kept:  # ratings of single-rating units are not pairable
            n_c -= np.bincount(codes[(p.m == 1)[p.unit]], minlength=n_codes)
        self.n_c = n_c
        n = float(n_c.sum())
        # Midranks are multiples of 1/2; centred on n/2 they stay below n/2 in size, so
        # unit sums of them and of their squares are exact while m_max * n < 2^26.
        midrank = np.cumsum(n_c) - n_c / 2.0 - n / 2.0
        exact = float(p.m.max()) * n < EXACT_SUM_LIMIT
        super().__init__(p, midrank[codes], exact=exact)
        self.codes = codes
        self.n_codes = n_codes

    def has_variation(self) -> bool:
        return int(np.count_nonzero(self.n_c)) >= 2

    @cached_property
    def _table(self) -> tuple[np.ndarray, ...]:
        return pairable_table(self.p, self.codes, self.n_codes)

    @cached_property
    def _pairs(self) -> tuple[UnitMatrix, UnitMatrix, np.ndarray, np.ndarray]:
        """Value counts and off-diagonal coincidences o_ck (c < k) as per-unit matrices."""
        t_unit, t_code, t_count = self._table
        counts = UnitMatrix(t_unit, t_code, t_count, self.n_units, self.n_codes)
        i, j = within_group_pairs(t_unit)
        pair_keys, key_code = np.unique(t_code[i] * self.n_codes + t_code[j], return_inverse=True)
        weight = t_count[i] * t_count[j] / (self.m[t_unit[i]] - 1.0)
        coincidences = UnitMatrix(t_unit[i], key_code.reshape(-1), weight, self.n_units, pair_keys.size)
        return counts, coincidences, pair_keys // self.n_codes, pair_keys % self.n_codes

    @cached_property
    def _mode(self) -> str:
        """How :meth:`weighted` gets the observed disagreement of a block of draws.

        ``"pairs"``: few scale points give few distinct value pairs, whose coincidences
        multiply out cheapest.  ``"counts"``: many scale points but a (units x values)
        matrix that fits; two dense BLAS products.  ``"sparse"``: neither fits; a gather
        per coincidence (draws x pairs).
        """
        if self._pairs[1].is_dense:
            return "pairs"
        if self.n_units * self.n_codes <= bootstrap.DENSE_ELEMENTS:
            return "counts"
        return "sparse"

    @cached_property
    def _dense_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """``n_uc`` and ``m n_uc / (m - 1)`` as dense (units x values) matrices."""
        t_unit, t_code, t_count = self._table
        flat = np.bincount(t_unit * self.n_codes + t_code, weights=t_count, minlength=self.n_units * self.n_codes)
        counts = flat.reshape(self.n_units, self.n_codes)
        return counts, counts * (self.m / (self.m - 1.0))[:, None]

    @property
    def chunk_width(self) -> int:
        counts, coincidences, _, _ = self._pairs
        if self._mode == "counts":
            return max(self.n_units, self.n_codes)
        return max(self.n_units, counts.chunk_width, coincidences.chunk_width)

    def weighted(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Midranks move with the resampled marginals, so they are rebuilt per draw and the
        # observed disagreement cannot use fixed per-unit sums.
        counts, coincidences, key_c, key_k = self._pairs
        if self._mode == "counts":
            dense, scaled = self._dense_counts
            n_dc = w @ dense
        else:
            n_dc = counts.left_multiply(w)
        n = n_dc.sum(axis=1)
        midrank = np.cumsum(n_dc, axis=1) - n_dc / 2.0
        centre = (n_dc * midrank).sum(axis=1) / n
        spread = midrank - centre[:, None]
        ss = (n_dc * spread * spread).sum(axis=1)
        if self._mode == "counts":
            # n do_u = 2 (m sum_c n_uc r_c^2 - (sum_c n_uc r_c)^2) / (m - 1), summed with weights.
            first = ((w @ scaled) * midrank * midrank).sum(axis=1)
            unit_sum = dense @ midrank.T  # (units x draws)
            unit_sum *= unit_sum
            unit_sum /= (self.m - 1.0)[:, None]
            do = 2.0 * (first - np.einsum("ud,du->d", unit_sum, w))
        else:
            gap = midrank[:, key_c] - midrank[:, key_k]
            do = 2.0 * (coincidences.left_multiply(w) * gap * gap).sum(axis=1)
        return do / n, 2.0 * ss / (n - 1.0)


class NominalStats(LevelStats):
    """Nominal metric ``[a != b]``."""

    level: Level = "nominal"

    def __init__(self, p: Pairable, codes: np.ndarray, n_codes: int) -> None:
        super().__init__(p)
        t_unit, t_code, t_count = pairable_table(p, codes, n_codes)
        same = np.bincount(t_unit, weights=t_count * t_count, minlength=self.n_units)
        self._do_u = (self.m * self.m - same) / (self.m - 1.0)
        self.n_c = np.bincount(t_code, weights=t_count, minlength=n_codes)
        self._table = (t_unit, t_code, t_count, n_codes)

    def has_variation(self) -> bool:
        return int(np.count_nonzero(self.n_c)) >= 2

    @property
    def do_u(self) -> np.ndarray:
        return self._do_u

    def expected_numerator(self) -> float:
        return self.n * self.n - float(self.n_c @ self.n_c)

    @cached_property
    def _counts(self) -> UnitMatrix:
        t_unit, t_code, t_count, n_codes = self._table
        return UnitMatrix(t_unit, t_code, t_count, self.n_units, n_codes)

    @property
    def chunk_width(self) -> int:
        return max(self.n_units, self._counts.chunk_width)

    def weighted(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_dc = self._counts.left_multiply(w)
        n = w @ self.m
        expected = n * n - (n_dc * n_dc).sum(axis=1)
        return (w @ self._do_u) / n, expected / (n * (n - 1.0))


def level_stats(p: Pairable, level: Level) -> LevelStats:
    """Build the statistics of ``level`` for pairable ratings ``p`` (at least one unit)."""
    if level == "interval":
        return IntervalStats(p)
    values, codes = dense_codes(p.x, compact=False)
    if level == "ordinal":
        return OrdinalStats(p, codes, values.size)
    if level == "nominal":
        return NominalStats(p, codes, values.size)
    return RatioStats(p, codes, values.astype(np.float64))


def draw_alphas(stats: LevelStats, w: np.ndarray) -> np.ndarray:
    """Alpha for each weight row; NaN where the resample has no variation (alpha undefined).

    A resample is degenerate exactly when every drawn unit is internally constant and
    all share one value; testing that on unit constants avoids trusting a D_e that is
    zero only up to rounding.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        do, de = stats.weighted(w)
    degenerate = ~(de > 0)
    # Only resamples that drew no internally varied unit can be degenerate; find those
    # with one BLAS pass and inspect just them.
    suspects = np.flatnonzero(w @ stats.varied_units == 0)
    if suspects.size:
        constant = stats.unit_constant
        drawn = w[suspects] > 0
        low = np.where(drawn, constant, np.inf).min(axis=1)
        high = np.where(drawn, constant, -np.inf).max(axis=1)
        degenerate[suspects] |= low == high
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = 1.0 - do / de
    alphas[degenerate] = np.nan
    return alphas
