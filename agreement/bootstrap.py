"""Vectorised unit bootstrap.

Resampling units with replacement is the same as giving every unit a multinomial weight
``w_u`` (how often it was drawn).  Every disagreement statistic in this package is a
function of *weighted sums of per-unit sufficient statistics* (``sum_u w_u f_u``), so a
whole block of draws is one matrix product ``W @ F`` instead of a Python loop that would
rebuild a coincidence matrix per draw.  Draws are processed in chunks sized so that no
temporary exceeds :data:`CHUNK_ELEMENTS` elements, which bounds memory whatever the
number of draws.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

CHUNK_ELEMENTS = 1 << 22
"""Upper bound on elements of any (draws x width) temporary built for one chunk."""

DENSE_ELEMENTS = 1 << 23
"""Sparse per-unit statistics are densified for BLAS when units x width stays below this."""


def weight_chunks(n_units: int, draws: int, seed: int, width: int = 0) -> Iterator[np.ndarray]:
    """Yield ``(chunk, n_units)`` float arrays of bootstrap weights, ``draws`` rows in total.

    Row ``d`` counts how many times each unit was drawn when ``n_units`` units are sampled
    uniformly with replacement; rows sum to ``n_units``.  ``width`` is the widest
    per-draw temporary the consumer will build, used only to size chunks.
    """
    rng = np.random.default_rng(seed)
    per_draw = max(n_units, width, 1)
    chunk = max(1, min(draws, CHUNK_ELEMENTS // per_draw))
    done = 0
    while done < draws:
        size = min(chunk, draws - done)
        picks = rng.integers(0, n_units, size=(size, n_units))
        picks += (np.arange(size, dtype=picks.dtype) * n_units)[:, None]
        counts = np.bincount(picks.ravel(), minlength=size * n_units)
        yield counts.reshape(size, n_units).astype(np.float64)
        done += size


class UnitMatrix:
    """A sparse (units x width) matrix of per-unit statistics, for computing ``W @ S``.

    Stored as coordinates because most units touch only a few columns (the values they
    received).  When the dense form is small it is built once and multiplied with BLAS;
    otherwise each product gathers ``W[:, rows]`` and sums the gathered columns per output
    column, which costs draws x nonzeros rather than draws x units x width.
    """

    def __init__(
        self,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        vals: npt.NDArray[np.float64],
        n_units: int,
        width: int,
    ) -> None:
        self.n_units = n_units
        self.width = width
        self.nnz = int(vals.size)
        self._dense: np.ndarray | None = None
        if n_units * width <= DENSE_ELEMENTS:
            flat = np.bincount(rows * width + cols, weights=vals, minlength=n_units * width)
            self._dense = flat.reshape(n_units, width)
            return
        # Column-sorted coordinates: one gather of W's columns, one segmented sum.
        order = np.argsort(cols, kind="stable")
        self._rows = rows[order]
        self._vals = vals[order]
        sorted_cols = cols[order]
        self._starts = np.flatnonzero(np.r_[True, sorted_cols[1:] != sorted_cols[:-1]]) if vals.size else order
        self._cols = sorted_cols[self._starts]

    @property
    def is_dense(self) -> bool:
        """Whether products use the dense form (BLAS)."""
        return self._dense is not None

    @property
    def chunk_width(self) -> int:
        """Elements per draw of the temporaries built by :meth:`left_multiply`."""
        return self.width if self._dense is not None else max(self.width, self.nnz)

    def left_multiply(self, w: np.ndarray) -> np.ndarray:
        """Return ``w @ S`` for weights ``w`` of shape ``(draws, n_units)``."""
        if self._dense is not None:
            return w @ self._dense
        out = np.zeros((w.shape[0], self.width))
        if self.nnz:
            gathered = np.take(w, self._rows, axis=1)
            gathered *= self._vals
            out[:, self._cols] = np.add.reduceat(gathered, self._starts, axis=1)
        return out


def percentile_interval(
    draws: npt.NDArray[np.float64], ci_level: float
) -> tuple[tuple[float, float] | None, int, str | None]:
    """Percentile interval of bootstrap replicates; NaN marks an undefined replicate.

    Undefined replicates (resamples without variation) are dropped.  If more of them
    exist than the mass of one tail, ``(1 - ci_level) / 2``, they could have filled
    that tail entirely, so the remaining percentiles no longer bound the statistic and
    no interval is returned.  Returns ``(interval, defined replicates, reason)``.
    """
    total = int(draws.size)
    defined = draws[~np.isnan(draws)]
    undefined = total - int(defined.size)
    tail = (1.0 - ci_level) / 2.0
    if total == 0:
        return None, 0, "no bootstrap draws requested"
    if defined.size == 0 or undefined > tail * total:
        return (
            None,
            int(defined.size),
            f"{undefined} of {total} bootstrap resamples had no variation (more than the "
            f"{tail:.1%} tail allowance), too few units for an interval",
        )
    lo, hi = np.quantile(defined, [tail, 1.0 - tail])
    return (float(lo), float(hi)), int(defined.size), None
