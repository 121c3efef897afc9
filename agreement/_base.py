"""Shared machinery of the per-level statistics: sparse per-unit tables and the base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np

from agreement._data import Level, Pairable


def unit_value_table(unit: np.ndarray, code: np.ndarray, n_units: int, n_codes: int) -> tuple[np.ndarray, ...]:
    """Sparse ``n_uc``: arrays ``(unit, code, count)`` sorted by unit then code."""
    key = unit.astype(np.int64) * n_codes + code
    space = n_units * n_codes
    if space <= max(4 * key.size, 1 << 20):
        counts = np.bincount(key, minlength=space)
        key = np.flatnonzero(counts)
        count = counts[key]
    else:
        key, count = np.unique(key, return_counts=True)
    return (key // n_codes).astype(np.intp), (key % n_codes).astype(np.intp), count.astype(np.float64)


def within_group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``(i, j)``, ``i < j``, with ``group[i] == group[j]`` in a sorted array.

    Loops over the offset ``j - i`` (at most the largest group size), so the work is the
    number of pairs, not the square of the array length.
    """
    size = group.size
    if size < 2:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, size])
    later = np.repeat(starts + sizes, sizes) - np.arange(size) - 1
    idx = np.flatnonzero(later > 0)
    firsts, seconds = [], []
    offset = 1
    while idx.size:
        firsts.append(idx)
        seconds.append(idx + offset)
        offset += 1
        idx = idx[later[idx] >= offset]
    if not firsts:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    return np.concatenate(firsts), np.concatenate(seconds)


def pairable_table(p: Pairable, codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, ...]:
    """``unit_value_table`` restricted to pairable units, rows re-indexed to their positions."""
    t_unit, t_code, t_count = unit_value_table(p.unit, codes, p.unit_ids.size, n_codes)
    if not p.all_kept:
        kept = p.keep[t_unit]
        position = np.cumsum(p.keep, dtype=np.intp) - 1
        t_unit, t_code, t_count = position[t_unit[kept]], t_code[kept], t_count[kept]
    return t_unit, t_code, t_count


class LevelStats(ABC):
    """Sufficient statistics of alpha over the pairable units of one data set.

    Per-unit arrays (``do_u``, ``m``, ``unit_ids``, ...) run over pairable units only.
    """

    level: Level

    def __init__(self, p: Pairable) -> None:
        self.p = p
        self.m = p.pairable_m
        self.n = float(p.n)
        self.n_units = p.n_units

    @property
    def unit_ids(self) -> np.ndarray:
        """Ids of the pairable units (the rows of every per-unit array)."""
        return self.p.pairable_ids

    @cached_property
    def _constancy(self) -> tuple[np.ndarray, np.ndarray]:
        """``(varied, rep)``: whether each unit's ratings differ, and one rating of each unit."""
        p = self.p
        size = p.unit_ids.size
        rep = np.empty(size)
        rep[p.unit] = p.x  # whichever rating lands last: any one of the unit's values
        varied = np.bincount(p.unit, weights=p.x != rep[p.unit], minlength=size) > 0
        return p.restrict(varied), p.restrict(rep)

    @cached_property
    def varied_units(self) -> np.ndarray:
        """1.0 for units whose ratings differ, 0.0 for units in perfect agreement."""
        return self._constancy[0].astype(np.float64)

    @cached_property
    def unit_constant(self) -> np.ndarray:
        """The value of each unit whose ratings all agree, NaN where they differ."""
        varied, rep = self._constancy
        return np.where(varied, np.nan, rep)

    def has_variation(self) -> bool:
        """Whether the pairable ratings take at least two different values."""
        varied, rep = self._constancy
        return bool(varied.any()) or bool(rep.min() != rep.max())

    @property
    @abstractmethod
    def do_u(self) -> np.ndarray:
        """Per-unit ``sum_{i != j} delta(x_i, x_j) / (m_u - 1)``; ``n D_o`` is their sum."""

    @abstractmethod
    def expected_numerator(self) -> float:
        """``sum_{c,k} n_c n_k delta_ck``, i.e. ``n (n - 1) D_e``."""

    def point(self) -> tuple[float, float]:
        """``(D_o, D_e)`` of the data set."""
        n = self.n
        return float(self.do_u.sum()) / n, self.expected_numerator() / (n * (n - 1.0))

    @property
    def chunk_width(self) -> int:
        """Largest per-draw temporary of :meth:`weighted`, for sizing bootstrap chunks."""
        return self.n_units

    @abstractmethod
    def weighted(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(D_o, D_e)`` for each row of unit weights ``w`` (draws x pairable units)."""
