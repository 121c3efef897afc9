"""Live (incremental) Krippendorff's alpha: the coincidence matrix as a sum over units.

Alpha depends on the ratings only through the coincidence matrix
``o_ck = sum_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)`` (notation of ``agreement._stats``), and
each unit adds its own term. A new, changed or deleted rating therefore changes only its unit's
term: subtract the unit's old contribution, add the new one, and alpha is read from the sum
instead of recomputed from every rating.

The sum is kept *exactly*, in integers: a cell ``(m, c, k)`` (``c <= k``) holds, over the units
with ``m`` ratings, ``sum_u n_uc n_uk`` (``c < k``) or ``sum_u n_uc (n_uc - 1)`` (``c == k``).
Dividing by ``m - 1`` happens only when alpha is read, so additions and subtractions in any
order never drift, and a database can keep the cells with ``count = count + delta``. Distances
are computed at read time from the values themselves, which is what makes one summary serve
every level:

* nominal, interval and ratio distances depend on the two values only;
* the ordinal distance depends on the value marginals ``n_c`` too (midranks), and those are
  the row sums of the coincidence matrix, again exact integers: ``n_c = sum_m rowsum_m(c) /
  (m - 1)``, each term an integer because every unit of size ``m`` adds ``n_uc (m - 1)``.

Free-valued interval and ratio criteria (e.g. 0-100 sliders, float scores) simply have more
cells (at most the number of distinct value pairs within units); reading them costs O(cells).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agreement._base import unit_value_table, within_group_pairs
from agreement._data import Level, as_ratings, check_level, dense_codes
from agreement._ratio import RATIO_EXACT_MAX_V, ratio_distance, ratio_pair_sum
from agreement.alpha import NO_PAIRABLE, NO_RATINGS, NO_VARIATION, AlphaResult, _undefined, point_result

Cell = tuple[int, float, float]
"""``(m, c, k)``: units with ``m`` ratings, values ``c <= k``."""


def unit_cells(values: Iterable[float]) -> dict[Cell, int]:
    """One unit's contribution: its cells and their integer counts (empty below two ratings)."""
    values = list(values)
    m = len(values)
    if m < 2:
        return {}
    counts = Counter(float(v) for v in values)
    ordered = sorted(counts)
    cells: dict[Cell, int] = {}
    for i, c in enumerate(ordered):
        n_c = counts[c]
        if n_c > 1:
            cells[(m, c, c)] = n_c * (n_c - 1)
        for k in ordered[i + 1 :]:
            cells[(m, c, k)] = n_c * counts[k]
    return cells


def cells_delta(before: Iterable[float], after: Iterable[float]) -> dict[Cell, int]:
    """What replacing a unit's ratings ``before`` by ``after`` adds to the cells (zeros left out)."""
    delta = dict(unit_cells(after))
    for cell, count in unit_cells(before).items():
        delta[cell] = delta.get(cell, 0) - count
    return {cell: count for cell, count in delta.items() if count}


def cells_merge(total: dict[Cell, int], delta: Mapping[Cell, int]) -> dict[Cell, int]:
    """Add ``delta`` into ``total`` in place (dropping cells that reach zero); returns ``total``."""
    for cell, count in delta.items():
        now = total.get(cell, 0) + count
        if now:
            total[cell] = now
        else:
            total.pop(cell, None)
    return total


@dataclass(frozen=True)
class CellArrays:
    """Cells as parallel arrays, the shape in which they come out of a database."""

    m: np.ndarray
    c: np.ndarray
    k: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, cells: Mapping[Cell, int]) -> CellArrays:
        if not cells:
            return cls(*(np.zeros(0) for _ in range(4)))
        m, c, k = (np.asarray(a, dtype=np.float64) for a in zip(*cells, strict=True))
        return cls(m.astype(np.int64), c, k, np.fromiter(cells.values(), dtype=np.int64, count=len(cells)))

    def as_dict(self) -> dict[Cell, int]:
        return {
            (int(m), float(c), float(k)): int(n)
            for m, c, k, n in zip(self.m, self.c, self.k, self.count, strict=True)
            if n
        }


def cells_build(units: npt.ArrayLike, values: npt.ArrayLike) -> CellArrays:
    """All units' cells from long-format ratings (one row per rating), vectorised.

    This is the full build (a rebuild after a bulk load); :func:`cells_delta` keeps it current.
    NaN values are dropped like missing ratings; raters do not matter to the cells.
    """
    v = np.asarray(values, dtype=np.float64)
    u = np.asarray(units)
    keep = ~np.isnan(v)
    u, v = u[keep], v[keep]
    if v.size == 0:
        return CellArrays.of({})
    unit_ids, unit = dense_codes(u)
    distinct, code = dense_codes(v)
    t_unit, t_code, t_count = unit_value_table(unit, code, unit_ids.size, distinct.size)
    m = np.bincount(unit, minlength=unit_ids.size)
    t_m = m[t_unit]
    pairable = t_m >= 2
    t_unit, t_code, t_count, t_m = t_unit[pairable], t_code[pairable], t_count[pairable], t_m[pairable]
    t_count = t_count.astype(np.int64)
    # Diagonal cells, then pairs of distinct values within a unit (codes ascend within a unit).
    i, j = within_group_pairs(t_unit)
    keys_m = np.concatenate([t_m, t_m[i]])
    keys_c = np.concatenate([t_code, t_code[i]])
    keys_k = np.concatenate([t_code, t_code[j]])
    counts = np.concatenate([t_count * (t_count - 1), t_count[i] * t_count[j]])
    n_codes = distinct.size
    key = (keys_m * n_codes + keys_c) * n_codes + keys_k
    key, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=counts, minlength=key.size).round().astype(np.int64)
    nonzero = total != 0
    key, total = key[nonzero], total[nonzero]
    return CellArrays(key // (n_codes * n_codes), distinct[(key // n_codes) % n_codes], distinct[key % n_codes], total)


def cells_alpha(cells: CellArrays, *, level: Level, ratings: int | None = None, ci_level: float = 0.95) -> AlphaResult:
    """Krippendorff's alpha (point estimate) from the cells; equals :func:`agreement.alpha`.

    ``ratings``, when known, is the number of ratings behind the cells (those of single-rating
    units included) and only tells "no ratings" from "no pairable unit" when both give no alpha.
    """
    level = check_level(level)
    use = (cells.count != 0) & (cells.m >= 2)
    m, c, k, count = cells.m[use], cells.c[use], cells.k[use], cells.count[use].astype(np.int64)
    if count.size == 0:
        return _undefined(level, NO_RATINGS if ratings == 0 else NO_PAIRABLE, ci_level)
    values, code = np.unique(np.concatenate([c, k]), return_inverse=True)
    ci, ki = code[: c.size], code[c.size :]
    off = ci != ki
    n_vals = values.size
    # Integer row sums per size m, then the exact division by m - 1.
    sizes = np.unique(m)
    n_c = np.zeros(n_vals, dtype=np.int64)
    units = 0
    for size in sizes.tolist():
        at = m == size
        row = np.bincount(ci[at], weights=count[at], minlength=n_vals)
        row += np.bincount(ki[at & off], weights=count[at & off], minlength=n_vals)
        row_int = row.round().astype(np.int64)
        n_c += row_int // (size - 1)
        units += int(row_int.sum()) // (size * (size - 1))
    n = int(n_c.sum())
    if int(np.count_nonzero(n_c)) < 2:
        return _undefined(level, NO_VARIATION, ci_level, observed=0.0, expected=0.0, units=units, values=n)
    present = n_c > 0
    x = values.astype(np.float64)
    weights = n_c.astype(np.float64)
    if level == "ordinal":
        # Midranks of the pairable marginals: values nobody uses any more get none (weight 0).
        x = np.cumsum(weights) - weights / 2.0 - n / 2.0
    c_x, k_x = x[ci[off]], x[ki[off]]
    pair_weight = 2.0 * count[off] / (m[off] - 1.0)
    if level == "nominal":
        observed_sum = float(pair_weight.sum())
        expected_sum = float(n) * n - float(weights @ weights)
    elif level == "ratio":
        observed_sum = float(pair_weight @ ratio_distance(c_x, k_x))
        xs, ws = x[present], weights[present]
        if xs.size <= RATIO_EXACT_MAX_V:
            expected_sum = float(ws @ ratio_distance(xs[:, None], xs[None, :]) @ ws)
        elif xs[0] < 0 < xs[-1]:
            raise ValueError(f"ratio level needs values of one sign beyond {RATIO_EXACT_MAX_V} distinct values")
        else:
            expected_sum = ratio_pair_sum(xs, ws)
    else:  # interval, and ordinal on midranks
        gap = c_x - k_x
        observed_sum = float(pair_weight @ (gap * gap))
        mean = float(weights @ x) / n
        dev = x - mean
        expected_sum = 2.0 * n * float(weights @ (dev * dev))
    observed = observed_sum / n
    expected = expected_sum / (n * (n - 1.0))
    return point_result(level, observed, expected, units, n, None, ci_level)


@dataclass
class Tally:
    """One data set's live statistics in memory: cells and the number of ratings behind them."""

    cells: dict[Cell, int] = field(default_factory=dict)
    ratings: int = 0

    def unit_changed(self, before: Iterable[float], after: Iterable[float]) -> None:
        """A unit's ratings went from ``before`` to ``after`` (insert, change or delete)."""
        before, after = list(before), list(after)
        cells_merge(self.cells, cells_delta(before, after))
        self.ratings += len(after) - len(before)

    def alpha(self, level: Level) -> AlphaResult:
        return cells_alpha(CellArrays.of(self.cells), level=level, ratings=self.ratings)


def tally_build(units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike) -> Tally:
    """A :class:`Tally` of long-format ratings (validated like :func:`agreement.alpha`'s input)."""
    r = as_ratings(units, raters, values)
    cells = cells_build(r.unit_ids[r.unit], r.values)
    return Tally(cells=cells.as_dict(), ratings=r.size)
