"""A bootstrap interval of alpha that follows changes at the cost of the change.

The report's bootstrap (``agreement.bootstrap``) gives every unit a multinomial weight per draw
and evaluates alpha on the weighted coincidence matrix ``O(w) = sum_u w_u o_u``, where ``o_u``
is unit ``u``'s own term (``agreement.live``). Multinomial weights are tied together (each draw
sums to the number of units), so one new unit would change every weight. Here each unit's weight
in draw ``d`` is instead an independent Poisson(1) count computed from ``(seed, unit id, d)``
alone (the Poisson bootstrap, which the multinomial one approaches as units grow). Then:

* a draw's matrix is a sum over units, kept per draw: :class:`DrawSums` holds
  ``S[d] = sum_u w_du o_u`` (draws x values x values);
* a unit whose ratings change from ``before`` to ``after`` moves every draw by
  ``w_du (o_u(after) - o_u(before))``: O(draws x values^2) per changed unit, whatever the
  number of other units;
* alpha of each draw is read from ``S[d]`` (O(draws x values^2)), and the percentile interval
  from those.

:func:`draw_sums_build` (every unit) and :meth:`DrawSums.units_changed` (a few) give the same
sums up to rounding, and both give, draw for draw, the alpha of ``agreement._stats`` under the
same weights (tests/agreement/test_live_bootstrap.py). Scales with many distinct values (free
interval or ratio numbers) make ``values^2`` large; :data:`MAX_VALUES` bounds it, above which
callers keep the full bootstrap.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agreement._data import Level, check_level
from agreement._ratio import ratio_distance
from agreement.bootstrap import percentile_interval

MAX_VALUES = 64
"""Distinct values above which a criterion keeps the full bootstrap (state grows as values^2)."""

_UNITS_PER_BLOCK = 4_096

Change = tuple[int, Sequence[float], Sequence[float]]
"""A unit's id, its ratings' values before and after."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
# Poisson(1) CDF up to where it reaches 1 in double precision: a weight is how many thresholds
# a uniform number passes.
_POISSON_CDF = np.cumsum([np.exp(-1.0) / np.prod(np.arange(1, k + 1, dtype=np.float64)) for k in range(20)])
_THRESHOLDS = np.ceil(np.minimum(_POISSON_CDF, 1.0) * 2.0**53).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 that scatters nearby inputs."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def poisson_weights(unit_ids: npt.ArrayLike, draws: int, seed: int) -> np.ndarray:
    """``(draws, units)`` Poisson(1) weights, each a function of ``(seed, unit id, draw)`` only:
    the same unit gets the same weights whenever and with whatever other units it is asked."""
    with np.errstate(over="ignore"):
        units = np.asarray(unit_ids, dtype=np.int64).astype(np.uint64)
        key = _mix(units * _GOLDEN + np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
        counters = np.arange(1, draws + 1, dtype=np.uint64)[:, None] * _GOLDEN
        bits = _mix(key[None, :] + counters)
    # A 53-bit uniform u = top / 2^53; the weight counts the CDF values at or below u, compared as
    # integers. Four comparisons settle 98 % of the weights; the rest look up the tail.
    top = bits >> np.uint64(11)
    weights = (top >= _THRESHOLDS[0]).astype(np.float64)
    for threshold in _THRESHOLDS[1:4]:
        weights += top >= threshold
    tail = np.flatnonzero(top >= _THRESHOLDS[3])
    if tail.size:
        weights.flat[tail] += np.searchsorted(_THRESHOLDS[4:], top.flat[tail], side="right")
    return weights


def unit_matrix(counts: np.ndarray) -> np.ndarray:
    """Units' coincidence terms from their value counts ``(units, values)``: ``(units, values,
    values)`` with ``o_ck = (n_c n_k - [c = k] n_c) / (m - 1)``, zero below two ratings."""
    m = counts.sum(axis=1)
    out = counts[:, :, None] * counts[:, None, :]
    diagonal = np.arange(counts.shape[1])
    out[:, diagonal, diagonal] -= counts
    scale = np.zeros(m.shape)
    np.divide(1.0, m - 1.0, out=scale, where=m >= 2)
    return out * scale[:, None, None]


@dataclass
class DrawSums:
    """Per-draw weighted coincidence matrices over the values ``values`` (ascending)."""

    values: np.ndarray
    sums: np.ndarray  # (draws, values, values)
    seed: int

    @classmethod
    def empty(cls, *, draws: int, seed: int) -> DrawSums:
        """No unit yet: the value axis grows as changes bring values."""
        return cls(values=np.zeros(0), sums=np.zeros((draws, 0, 0)), seed=seed)

    @property
    def draws(self) -> int:
        return int(self.sums.shape[0])

    def _codes_of(self, values: Iterable[float]) -> np.ndarray:
        """Value codes, widening the value axis (zeros for every draw) for values not seen yet."""
        array = np.asarray(list(values), dtype=np.float64)
        new = np.setdiff1d(array, self.values)
        if new.size:
            values = np.union1d(self.values, new)
            at = np.searchsorted(values, self.values)
            sums = np.zeros((self.draws, values.size, values.size))
            sums[:, at[:, None], at[None, :]] = self.sums
            self.values, self.sums = values, sums
        return np.searchsorted(self.values, array)

    def _counts(self, units: Sequence[Sequence[float]]) -> np.ndarray:
        sizes = np.fromiter((len(unit) for unit in units), dtype=np.int64, count=len(units))
        flat = np.fromiter((v for unit in units for v in unit), dtype=np.float64, count=int(sizes.sum()))
        row = np.repeat(np.arange(len(units)), sizes)
        size = self.values.size
        codes = np.searchsorted(self.values, flat)
        return np.bincount(row * size + codes, minlength=len(units) * size).reshape(len(units), size).astype(float)

    def units_changed(self, changes: Sequence[Change]) -> None:
        """Units ``(id, ratings before, ratings after)`` changed (a new unit has no ratings before,
        a removed one none after): every draw moves by the unit's weight times its change."""
        units_changed_together({"": self}, {"": changes})

    def _add(self, block: Sequence[Change], weights: np.ndarray) -> None:
        """Add ``weights`` (draws x len(block)) times the block's changes to every draw."""
        size = self.values.size
        delta = unit_matrix(self._counts([after for _, _, after in block]))
        delta -= unit_matrix(self._counts([before for _, before, _ in block]))
        self.sums += (weights @ delta.reshape(len(block), size * size)).reshape(self.draws, size, size)

    def alphas(self, level: Level) -> np.ndarray:
        """Alpha of each draw; NaN where the draw has no variation (or no pairable unit)."""
        return sums_alphas(self.sums, self.values, level)

    def interval(self, level: Level, ci_level: float = 0.95) -> tuple[tuple[float, float] | None, int, str | None]:
        """The percentile interval of the draws' alphas: (interval, defined draws, reason)."""
        return percentile_interval(self.alphas(level), ci_level)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, values=self.values, sums=self.sums, seed=np.array([self.seed], dtype=np.int64))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DrawSums:
        with np.load(io.BytesIO(data)) as stored:
            return cls(values=stored["values"], sums=stored["sums"], seed=int(stored["seed"][0]))


def units_changed_together(kept: Mapping[str, DrawSums], changes: Mapping[str, Sequence[Change]]) -> None:
    """:meth:`DrawSums.units_changed` of several data sets that share their draws and seed (the
    criteria of one project): each changed unit's weights are drawn once for all of them."""
    first = next(iter(kept.values()))
    for key, sums in kept.items():  # widen each value axis once
        sums._codes_of([v for _, before, after in changes.get(key, ()) for v in (*before, *after)])
    ordered = {key: sorted(changes.get(key, ()), key=lambda change: change[0]) for key in kept}
    ids = np.unique(np.fromiter((c[0] for rows in ordered.values() for c in rows), dtype=np.int64))
    starts = dict.fromkeys(kept, 0)
    for begin in range(0, ids.size, _UNITS_PER_BLOCK):
        block_ids = ids[begin : begin + _UNITS_PER_BLOCK]
        weights = poisson_weights(block_ids, first.draws, first.seed)
        last = int(block_ids[-1])
        for key, sums in kept.items():
            rows = ordered[key]
            stop = starts[key]
            while stop < len(rows) and rows[stop][0] <= last:
                stop += 1
            block = rows[starts[key] : stop]
            starts[key] = stop
            if len(block) == block_ids.size:  # every unit of the block: no copy of the weights
                sums._add(block, weights)
            elif block:
                columns = np.searchsorted(block_ids, [unit for unit, _, _ in block])
                sums._add(block, weights[:, columns])


def draw_sums_build(
    unit_ids: npt.ArrayLike, values: npt.ArrayLike, *, draws: int, seed: int, value_axis: npt.ArrayLike = ()
) -> DrawSums:
    """Every unit's term, weighted: long-format ratings (one row per rating: its unit id and
    value; NaN dropped) to :class:`DrawSums`. ``value_axis``: values to include even if unused."""
    u = np.asarray(unit_ids, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(v)
    u, v = u[keep], v[keep]
    axis = np.union1d(np.asarray(value_axis, dtype=np.float64), v)
    ids, unit = np.unique(u, return_inverse=True)
    code = np.searchsorted(axis, v)
    size = axis.size
    counts = np.bincount(unit * size + code, minlength=ids.size * size).reshape(ids.size, size).astype(np.float64)
    sums = np.zeros((draws, size * size))
    pairable = np.flatnonzero(counts.sum(axis=1) >= 2)
    for start in range(0, pairable.size, _UNITS_PER_BLOCK):
        block = pairable[start : start + _UNITS_PER_BLOCK]
        terms = unit_matrix(counts[block]).reshape(block.size, size * size)
        sums += poisson_weights(ids[block], draws, seed) @ terms
    return DrawSums(values=axis, sums=sums.reshape(draws, size, size), seed=seed)


def sums_alphas(sums: np.ndarray, values: np.ndarray, level: Level) -> np.ndarray:
    """Alpha from weighted coincidence matrices ``(draws, values, values)``:
    ``1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck`` with ``n_c`` the row sums."""
    level = check_level(level)
    n_c = sums.sum(axis=2)
    n = n_c.sum(axis=1)
    x = np.asarray(values, dtype=np.float64)
    if level == "nominal":
        distance = np.broadcast_to(1.0 - np.eye(x.size), sums.shape)
    elif level == "interval":
        distance = np.broadcast_to((x[:, None] - x[None, :]) ** 2, sums.shape)
    elif level == "ratio":
        distance = np.broadcast_to(ratio_distance(x[:, None], x[None, :]), sums.shape)
    else:  # ordinal: squared gaps of the midranks of each draw's own marginals
        midrank = np.cumsum(n_c, axis=1) - n_c / 2.0
        distance = (midrank[:, :, None] - midrank[:, None, :]) ** 2
    observed = np.einsum("dck,dck->d", sums, distance)
    expected = np.einsum("dc,dk,dck->d", n_c, n_c, distance)
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = 1.0 - (n - 1.0) * observed / expected
    # No variation: fewer than two values with pairable ratings in the draw (alpha undefined).
    varied = np.count_nonzero(n_c > 1e-9, axis=1) >= 2
    alphas[~varied | ~(expected > 0)] = np.nan
    return alphas
