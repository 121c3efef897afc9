"""Alpha from unit *profiles*: the fast path for few raters on a short integer scale.

A unit enters Krippendorff's coincidence matrix only through its profile, the number of
its ratings that took each value (``n_u1 .. n_uV``); which rater gave which value does
not matter.  Three coders on a 5-point scale allow a few dozen profiles, so alpha is a
function of the *histogram of profiles*: one pass over the ratings to find each unit's
profile, one pass over the units to count them, and V x V arithmetic for the rest.  That
replaces the dozen passes over the ratings of the general path (``_data.as_ratings`` then
``_stats``), which is what a reliability report without a bootstrap needs.

Finding every unit's profile *and* checking that no rater rated a unit twice takes one
``np.bincount``.  Each rating becomes a float weight that is a sum of two powers of two::

    w = B**c + 2**(K + j)      c: the value's position on the scale (0..V-1)
                               j: the rater's bit (0..R-1); B = 2**b > R; K = b * V

and ``S_u = sum of w over unit u``.  Every partial sum is an integer below ``N * 2**(K+R)
<= 2**53``, so the float sums are exact.  Without duplicates ``S_u`` packs, in bits
0..K-1, the profile as base-B digits (a digit is at most ``m_u <= R < B``, so none
overflows) and, in bits K..K+R-1, the set of raters of unit u.

Duplicate check.  Decode ``m'_u`` = sum of the V low base-B digits and ``p_u`` = number
of set bits above bit K.  Carries only lower a digit sum, and truncating to V digits only
drops digits, so ``m'_u <= m_u``; ``sum_u m'_u == N`` therefore proves every digit is the
true count and the high bits are exactly the sum of ``2**j`` over the unit's ratings.  A
sum of powers of two has fewer set bits than terms exactly when a term repeats, so
``p_u == m'_u`` for every unit proves that no rater occurs twice in it.  Units are then
grouped by ``S_u`` (profile and rater set), whose range is at most ``2**STATE_BITS``, so
a second bincount over the units counts them, and both checks run once per distinct state.

When any condition fails (NaN, non-integer or widely spread values, many raters, unit ids
far beyond the number of ratings, non-integer ids) :func:`unit_profiles` returns None and
the caller takes the general path, which handles (or rejects) everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agreement._data import Level
from agreement._ratio import ratio_distance

STATE_BITS = 22
"""Profile digits plus rater bits: at most 2**22 states, i.e. a 32 MiB histogram."""

_MAX_TABLE = 1 << 16  # (rater id, value) lookup-table entries
_MAX_SLOTS = STATE_BITS // 2  # scale points from lowest to highest value (at least one rater bit)
_SPAN_FACTOR = 4  # unit ids up to 4 x the number of ratings are bincount bins themselves
_MIN_SPAN = 1 << 16
DUPLICATE = "a rater rated the same unit more than once; keep one rating per (unit, rater)"


@dataclass(frozen=True, eq=False)
class Profiles:
    """Pairable units grouped by profile: ``units[p]`` units have value counts ``counts[p]``."""

    values: np.ndarray  # (V,) scale points, ascending (some may be unused)
    counts: np.ndarray  # (P, V) float: ratings of each value in a unit of profile p; sum >= 2
    units: np.ndarray  # (P,) float: number of units with profile p

    @property
    def m(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def n_units(self) -> int:
        return int(self.units.sum())

    @property
    def n_c(self) -> np.ndarray:
        """Pairable ratings per value."""
        return self.units @ self.counts

    def has_variation(self) -> bool:
        return int(np.count_nonzero(self.n_c)) >= 2

    def delta(self, level: Level) -> np.ndarray:
        """Krippendorff's squared difference between every two scale points, V x V."""
        v = self.values
        if level == "nominal":
            return 1.0 - np.eye(v.size)
        if level == "ordinal":
            # delta_ck = (sum_{g=c}^{k} n_g - (n_c + n_k) / 2)^2 = (r_k - r_c)^2 with midranks r.
            n_c = self.n_c
            v = np.cumsum(n_c) - n_c / 2.0
        if level == "ratio":
            return ratio_distance(v[:, None], v[None, :])
        return (v[:, None] - v[None, :]) ** 2

    def disagreements(self, level: Level) -> tuple[float, float]:
        """``(D_o, D_e)`` from the coincidence matrix ``o = sum_p units_p (n_p n_p' - diag n_p) / (m_p - 1)``.

        The diagonal never counts (``delta_cc = 0``), so ``n D_o = sum_p units_p n_p' delta n_p
        / (m_p - 1)``; a unit whose ratings agree adds an exact 0.
        """
        delta = self.delta(level)
        n_c = self.n_c
        n = float(n_c.sum())
        scaled = self.counts * (self.units / (self.m - 1.0))[:, None]
        observed = float(((scaled @ delta) * self.counts).sum()) / n
        expected = float(n_c @ delta @ n_c) / (n * (n - 1.0))
        return observed, expected


def unit_profiles(units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike) -> Profiles | None:
    """Profiles of the pairable units, or None when the fast path does not apply.

    Raises ``ValueError`` when a rater rated a unit twice, as the general path does.
    """
    u, r, v = np.asarray(units), np.asarray(raters), np.asarray(values)
    n = v.size
    if not (u.ndim == r.ndim == v.ndim == 1 and u.size == r.size == n and 0 < n < 2**31):
        return None
    if u.dtype.kind not in "iu" or r.dtype.kind not in "iu" or v.dtype.kind not in "iuf":
        return None
    # Values as int32 first: their range decides applicability (sliders and raw scores leave
    # here) and is cheap to read; NaN, infinities and fractions are caught by the comparison.
    with np.errstate(invalid="ignore"):
        code = v.astype(np.int32)
    low, high = int(code.min()), int(code.max())
    slots = high - low + 1
    if low < 0 or slots > _MAX_SLOTS:
        return None
    lo_r, hi_r = int(r.min()), int(r.max())
    if lo_r < 0 or (high + 1) * (hi_r + 1) > _MAX_TABLE:
        return None
    # Unit ids are bincount bins: as they are when they start near 0, shifted otherwise
    # (item ids deep in a big table would make every per-unit pass run over empty bins).
    lo_u, hi_u = int(u.min()), int(u.max())
    if lo_u < 0 or hi_u >= 2**62 or hi_u - lo_u >= max(_SPAN_FACTOR * n, _MIN_SPAN):
        return None
    if lo_u <= (hi_u - lo_u) // 2:
        lo_u = 0
    bit = _rater_bits(r, lo_r, hi_r, slots)
    if bit is None or not np.equal(code, v).all():
        return None
    n_bits = int(bit.max()) + 1
    b = n_bits.bit_length()  # B = 2**b > n_bits >= raters per unit (without duplicates)
    k = b * slots
    # Row index into a (rater id, value) table of weights B**c + 2**(K + j); intp indices
    # because take() converts any other integer type first.
    width = high + 1
    index = r.astype(np.intp, copy=False) * width
    index += code
    del code
    table = np.zeros((hi_r + 1, width))
    used = bit >= 0
    table[used, low:] = 2.0 ** (k + bit[used])[:, None] + 2.0 ** (b * np.arange(slots))[None, :]
    # The weights overwrite their own indices (take reads index i before writing slot i),
    # which saves a fresh 8-byte-per-rating array; "clip" never clips (every index is in
    # range by construction) but, unlike "raise", does not copy the output first.
    weights = index.view(np.float64)
    table.ravel().take(index, out=weights, mode="clip")
    del index
    unit = u.astype(np.intp, copy=False)
    if lo_u:
        unit = unit - lo_u
    sums = np.bincount(unit, weights=weights)
    del weights, unit
    if float(sums.max()) >= 2.0 ** (k + n_bits):  # only duplicates get here; bounds the histogram below
        raise ValueError(DUPLICATE)
    histogram = np.bincount(sums.astype(np.intp))
    state = np.flatnonzero(histogram)
    count = histogram[state]
    digits = (state[:, None] >> (b * np.arange(slots))) & ((1 << b) - 1)
    m = digits.sum(axis=1)
    if int(count @ m) != n or (np.bitwise_count(state >> k) != m).any():
        raise ValueError(DUPLICATE)
    pairable = m >= 2
    return Profiles(
        values=np.arange(low, high + 1, dtype=np.float64),
        counts=digits[pairable].astype(np.float64),
        units=count[pairable].astype(np.float64),
    )


def _rater_bits(r: np.ndarray, lo: int, hi: int, slots: int) -> np.ndarray | None:
    """Bit of each rater id in ``0..hi`` (-1 for ids that do not occur), or None if too many."""
    span = hi - lo + 1
    bit = np.full(hi + 1, -1, dtype=np.intp)
    if span.bit_length() * slots + span <= STATE_BITS:
        bit[lo:] = np.arange(span)  # ids lo..hi: one bit each, used or not (saves a pass)
        return bit
    present = np.bincount(r.astype(np.intp, copy=False), minlength=hi + 1) > 0  # faster than present[r] = True
    raters = int(np.count_nonzero(present))
    if raters.bit_length() * slots + raters > STATE_BITS:
        return None
    bit[present] = np.arange(raters)
    return bit
