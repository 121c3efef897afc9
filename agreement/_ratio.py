"""Expected disagreement for the ratio metric without a V x V matrix.

Krippendorff's ratio difference is ``delta(a, b) = ((a - b) / (a + b))**2``.  Unlike the
interval metric it does not expand into per-value sums, so the expected-disagreement
numerator ``E = sum_{c,k} n_c n_k delta(v_c, v_k)`` is, done directly, a V x V sum.
That is fine for a handful of scale points (and is what we do up to
:data:`RATIO_EXACT_MAX_V` distinct values) but not for raw float scores, where V is
about the number of ratings.

For positive values write ``y = log v``; then ``delta = tanh^2((y_c - y_k) / 2)
= 1 - g(y_c - y_k)`` with ``g(x) = sech^2(x / 2)``, whose Fourier transform is
``ghat(w) = 4 pi w / sinh(pi w)``.  Hence, with ``Phi(w) = sum_c n_c exp(i w y_c)``::

    sum_{c,k} n_c n_k delta_ck = (1 / pi) * int_0^inf ghat(w) * (n^2 - |Phi(w)|^2) dw.

The integrand is smooth and ``ghat`` decays like ``exp(-pi w)``, so the trapezoid rule
converges geometrically: by Poisson summation its only error is aliasing, each pair
picking up ``g(x + 2 pi m / h) - g(2 pi m / h)`` for m != 0, which is below
``exp(-margin)`` once the step ``h = 2 pi / (log-range + margin)``.  Cutting the integral
at ``w = 16`` loses a relative ``~1e-17``.  The cost is O(V x J) with J ~ 100-150 nodes,
linear in V, and the result agrees with the exact double sum to ~1e-13 relative.

``n^2 - |Phi|^2`` is evaluated as ``A (2n - A) - S^2`` with ``A = sum n_c (1 - cos(w y_c))``
and ``S = sum n_c sin(w y_c)`` on log-values centred at their mean; written that way
nothing cancels catastrophically when all values are close together.  Zeros are handled
apart: ``delta(0, b) = 1`` for ``b > 0`` and ``delta(0, 0) = 0``.

:class:`RatioStats` (the ratio level's per-unit statistics) lives here too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cached_property

import numpy as np
import numpy.typing as npt

from agreement._base import LevelStats, pairable_table, within_group_pairs
from agreement._data import Level, Pairable
from agreement.bootstrap import UnitMatrix

RATIO_EXACT_MAX_V = 512
"""Up to this many distinct values the ratio metric uses the exact V x V double sum."""

_BLOCK_VALUES = 1 << 15


def ratio_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """``((a - b) / (a + b))**2``, defined as 0 where ``a + b == 0`` (as krippendorff does)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = a + b
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a - b, total, out=out, where=total != 0)
    return out * out


def fourier_nodes(log_range: float, *, precise: bool = True) -> tuple[float, np.ndarray]:
    """Trapezoid step ``h`` and weights ``(h / pi) ghat(j h)`` of the nodes ``j = 1..J``.

    ``precise`` targets ~1e-16 relative error (point estimates); otherwise ~1e-12, which is
    ample for bootstrap replicates and needs about a quarter fewer nodes.
    """
    margin, omega_max = (40.0, 16.0) if precise else (28.0, 12.0)
    h = 2.0 * math.pi / (max(log_range, 0.0) + margin)
    omega = h * np.arange(1, math.ceil(omega_max / h) + 1, dtype=np.float64)
    return h, 4.0 * h * omega / np.sinh(math.pi * omega)


def fourier_terms(y: npt.NDArray[np.float64], h: float, nodes: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(1 - cos(j h y), sin(j h y))`` for j = 1..nodes (arrays are reused: consume at once).

    The nodes are equally spaced, so instead of ~2 x nodes transcendental calls per value
    the angle-addition recurrence advances ``u_j = 1 - cos(j t)`` and ``s_j = sin(j t)``:
    ``u_{j+1} = u_j + u_1 - u_j u_1 + s_j s_1`` and ``s_{j+1} = s_j (1 - u_1) + (1 - u_j) s_1``.
    Carrying ``1 - cos`` (seeded as ``2 sin^2(t / 2)``) instead of ``cos`` keeps small angles
    accurate; rounding grows only linearly in j (~1e-14 after a few hundred steps).
    """
    theta = h * y
    s1 = np.sin(theta)
    u1 = np.sin(0.5 * theta)
    u1 *= u1
    u1 *= 2.0
    s, u = s1.copy(), u1.copy()
    s_next = np.empty_like(s)
    tmp = np.empty_like(s)
    for j in range(nodes):
        yield u, s
        if j + 1 == nodes:
            return
        np.multiply(s, u1, out=tmp)  # s_next = s + s1 - (s u1 + u s1)
        np.multiply(u, s1, out=s_next)
        tmp += s_next
        np.add(s, s1, out=s_next)
        s_next -= tmp
        np.multiply(u, u1, out=tmp)  # u_next = u + u1 - u u1 + s s1
        u += u1
        u -= tmp
        np.multiply(s, s1, out=tmp)
        u += tmp
        s, s_next = s_next, s


def fourier_sums(
    y: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], h: float, nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``A_j = sum_c counts_c (1 - cos(j h y_c))`` and ``S_j = sum_c counts_c sin(j h y_c)``.

    Processed in cache-sized blocks of values.
    """
    a_sum = np.zeros(nodes)
    s_sum = np.zeros(nodes)
    for start in range(0, y.size, _BLOCK_VALUES):
        weights = counts[start : start + _BLOCK_VALUES]
        for j, (u, s) in enumerate(fourier_terms(y[start : start + _BLOCK_VALUES], h, nodes)):
            a_sum[j] += weights @ u
            s_sum[j] += weights @ s
    return a_sum, s_sum


def fourier_pair_sum(
    n_pos: npt.ArrayLike, a_sum: npt.ArrayLike, s_sum: npt.ArrayLike, weights: npt.NDArray[np.float64]
) -> np.ndarray:
    """``sum_{c,k} n_c n_k delta_ck`` over positive values from the Fourier sums (vectorised).

    ``n_pos``, ``a_sum``/``s_sum`` may carry a leading draws axis: shapes ``(...)`` and
    ``(..., J)``.
    """
    n = np.asarray(n_pos, dtype=np.float64)[..., None]
    a = np.asarray(a_sum, dtype=np.float64)
    s = np.asarray(s_sum, dtype=np.float64)
    return (a * (2.0 * n - a) - s * s) @ weights


def centred_log(v: npt.NDArray[np.float64], counts: npt.NDArray[np.float64]) -> np.ndarray:
    """``log v`` minus its count-weighted mean, for positive ``v`` sorted (either way).

    Near the weighted median ``ref`` it is taken as ``log1p((v - ref) / ref)``: for values
    close together ``v - ref`` is exact, so their log-differences keep full relative
    precision where ``log(v) - log(ref)`` would keep only ~1e-16 of ``log(ref)``.  Far from
    ``ref`` (where log1p would lose the small ratio) ``log(v) - log(ref)`` is used.
    """
    if v.size and v[0] > v[-1]:
        return centred_log(v[::-1], counts[::-1])[::-1]
    cum = np.cumsum(counts)
    ref = float(v[min(int(np.searchsorted(cum, 0.5 * cum[-1])), v.size - 1)])
    near = np.abs(v - ref) <= 0.5 * ref
    y = np.log(v) - math.log(ref)
    y[near] = np.log1p((v[near] - ref) / ref)
    y -= float(counts @ y) / float(counts.sum())
    return y


def ratio_pair_sum(values: npt.NDArray[np.float64], counts: npt.NDArray[np.float64]) -> float:
    """``sum_{c,k} n_c n_k delta(v_c, v_k)`` for sorted distinct values of one sign, in O(V x J)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    n = np.asarray(counts, dtype=np.float64)
    zero = v == 0
    n_zero = float(n[zero].sum())
    v, n = v[~zero], n[~zero]
    n_pos = float(n.sum())
    total = 2.0 * n_zero * n_pos
    if v.size < 2:
        return total
    y = centred_log(v, n)
    h, weights = fourier_nodes(float(y.max() - y.min()))
    a_sum, s_sum = fourier_sums(y, n, h, weights.size)
    return total + float(fourier_pair_sum(n_pos, a_sum, s_sum, weights))


class RatioStats(LevelStats):
    """Ratio metric ``((a - b) / (a + b))^2``."""

    level: Level = "ratio"

    def __init__(self, p: Pairable, codes: np.ndarray, values: np.ndarray) -> None:
        super().__init__(p)
        self.codes = codes
        t_unit, t_code, t_count = pairable_table(p, codes, values.size)
        self.n_c = np.bincount(t_code, weights=t_count, minlength=values.size)
        used = self.n_c > 0
        self.values = values[used]  # drop table entries no pairable rating uses
        if not used.all():
            recode = np.cumsum(used, dtype=np.intp) - 1
            t_code, self.codes, self.n_c = recode[t_code], recode[codes], self.n_c[used]
        i, j = within_group_pairs(t_unit)
        gap = ratio_distance(self.values[t_code[i]], self.values[t_code[j]])
        contribution = 2.0 * t_count[i] * t_count[j] * gap / (self.m[t_unit[i]] - 1.0)
        self._do_u = np.bincount(t_unit[i], weights=contribution, minlength=self.n_units)
        self._table = (t_unit, t_code, t_count)
        v = self.values
        self.exact = v.size <= RATIO_EXACT_MAX_V
        if not self.exact and v[0] < 0 < v[-1]:
            raise ValueError(
                f"ratio level needs values of one sign when there are more than "
                f"{RATIO_EXACT_MAX_V} distinct values (a ratio scale has a true zero)"
            )

    def has_variation(self) -> bool:
        return self.values.size >= 2

    @property
    def do_u(self) -> np.ndarray:
        return self._do_u

    @cached_property
    def _delta(self) -> np.ndarray:
        return ratio_distance(self.values[:, None], self.values[None, :])

    def expected_numerator(self) -> float:
        if self.exact:
            return float(self.n_c @ self._delta @ self.n_c)
        return ratio_pair_sum(self.values, self.n_c)

    @cached_property
    def _counts(self) -> UnitMatrix:
        t_unit, t_code, t_count = self._table
        return UnitMatrix(t_unit, t_code, t_count, self.n_units, self.values.size)

    @cached_property
    def _fourier(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit features ``[n_pos, n_zero, A_1..A_J, S_1..S_J]`` and node weights."""
        t_unit, t_code, t_count = self._table
        v = np.abs(self.values)
        y = np.zeros(v.size)
        y[v > 0] = centred_log(v[v > 0], self.n_c[v > 0])
        positive = v[t_code] > 0
        unit, y, count = t_unit[positive], y[t_code[positive]], t_count[positive]
        h, weights = fourier_nodes(float(y.max() - y.min()) if y.size else 0.0, precise=False)
        nodes = weights.size
        features = np.empty((self.n_units, 2 + 2 * nodes))
        features[:, 0] = np.bincount(unit, weights=count, minlength=self.n_units)
        features[:, 1] = self.m - features[:, 0]
        for j, (u_j, s_j) in enumerate(fourier_terms(y, h, nodes)):
            features[:, 2 + j] = np.bincount(unit, weights=u_j * count, minlength=self.n_units)
            features[:, 2 + nodes + j] = np.bincount(unit, weights=s_j * count, minlength=self.n_units)
        return features, weights

    @property
    def chunk_width(self) -> int:
        if self.exact:
            return max(self.n_units, self._counts.chunk_width)
        return max(self.n_units, self._fourier[0].shape[1])

    def weighted(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.exact:
            n_dc = self._counts.left_multiply(w)
            n = n_dc.sum(axis=1)
            expected = ((n_dc @ self._delta) * n_dc).sum(axis=1)
        else:
            features, weights = self._fourier
            g = w @ features
            n_pos, n_zero = g[:, 0], g[:, 1]
            n = n_pos + n_zero
            half = (g.shape[1] - 2) // 2
            a_sum, s_sum = g[:, 2 : 2 + half], g[:, 2 + half :]
            expected = 2.0 * n_zero * n_pos + fourier_pair_sum(n_pos, a_sum, s_sum, weights)
        return (w @ self._do_u) / n, expected / (n * (n - 1.0))
