"""Per-annotator diagnostics: leave-one-rater-out alpha and agreement with the others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agreement._data import Level, Pairable, Ratings, as_ratings, check_level, dense_codes, pairable
from agreement.alpha import AlphaResult, alpha_of, json_float


@dataclass(frozen=True)
class RaterAgreement:
    """How one annotator relates to the rest.

    ``alpha_without`` is alpha with this rater's ratings removed and ``alpha_change`` is
    ``alpha_without - alpha`` (positive: the data agree better without this rater).
    ``units_compared`` counts units this rater rated together with at least one other
    rater; ``units_with_consensus`` those where the others have a single consensus value
    (see :func:`rater_agreement`), over which ``exact_match_rate`` is taken.
    ``mean_absolute_deviation`` (numeric levels only) is the mean ``|own - consensus|``
    over all compared units.
    """

    rater: int
    ratings: int
    alpha_without: AlphaResult
    alpha_change: float | None
    units_compared: int
    units_with_consensus: int
    exact_match_rate: float | None
    mean_absolute_deviation: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "rater": int(self.rater),
            "ratings": int(self.ratings),
            "alpha_without": self.alpha_without.as_dict(),
            "alpha_change": json_float(self.alpha_change),
            "units_compared": int(self.units_compared),
            "units_with_consensus": int(self.units_with_consensus),
            "exact_match_rate": json_float(self.exact_match_rate),
            "mean_absolute_deviation": json_float(self.mean_absolute_deviation),
        }


@dataclass(frozen=True)
class RaterReport:
    """Alpha of all raters (no interval) and one :class:`RaterAgreement` per rater."""

    alpha: AlphaResult
    raters: tuple[RaterAgreement, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"alpha": self.alpha.as_dict(), "raters": [r.as_dict() for r in self.raters]}


@dataclass(frozen=True, eq=False)
class Consensus:
    """Leave-one-out consensus of the other raters, one entry per pairable rating."""

    value: np.ndarray  # consensus of the others (NaN where it does not exist)
    single: np.ndarray  # bool: the others agree on one value
    match: np.ndarray  # bool: own rating equals that single value


def leave_one_out_consensus(p: Pairable, level: Level) -> Consensus:
    """Consensus of the *other* raters of each rating's unit.

    Nominal: the others' most frequent value; when several values tie for most frequent
    there is no consensus.  Other levels: the median of the others' values; at the
    ordinal level an even number of others whose two middle values differ has no single
    consensus category (their midpoint still serves for the absolute deviation).
    """
    if level == "nominal":
        return _majority(p)
    return _median(p, single_required=level == "ordinal")


def _majority(p: Pairable) -> Consensus:
    _, codes = dense_codes(p.x)
    key = p.unit.astype(np.int64) * (int(codes.max()) + 1) + codes
    _, entry, counts = np.unique(key, return_inverse=True, return_counts=True)
    entry_unit = np.empty(counts.size, dtype=np.intp)
    entry_unit[entry] = p.unit
    top = np.zeros(p.n_units)
    np.maximum.at(top, entry_unit, counts)
    at_top = counts == top[entry_unit]
    n_top = np.bincount(entry_unit, weights=at_top, minlength=p.n_units)
    runner_up = np.zeros(p.n_units)
    np.maximum.at(runner_up, entry_unit, np.where(at_top, 0, counts))
    # Removing one's own rating lowers one's own value count by one; then compare the
    # others' counts: see the case analysis in the branches below.
    own = counts[entry]
    unit = p.unit
    own_top = own == top[unit]
    unique_top = n_top[unit] == 1
    own_wins = own_top & unique_top & (top[unit] - 1 > runner_up[unit])
    other_wins = (own_top & (n_top[unit] == 2)) | (~own_top & unique_top)
    single = own_wins | other_wins
    value = np.where(own_wins, p.x, np.nan)
    return Consensus(value=value, single=single, match=own_wins)


def _median(p: Pairable, *, single_required: bool) -> Consensus:
    order = np.lexsort((p.x, p.unit))
    xs = p.x[order]
    m = p.m.astype(np.intp, copy=False)
    start = np.r_[0, np.cumsum(m)[:-1]]
    unit = p.unit[order]
    pos = np.arange(xs.size) - start[unit]
    others = m[unit] - 1
    lo = (others - 1) // 2
    hi = others // 2
    # Index among the others -> index within the unit, skipping one's own position.
    lo_val = xs[start[unit] + lo + (lo >= pos)]
    hi_val = xs[start[unit] + hi + (hi >= pos)]
    median = (lo_val + hi_val) / 2.0
    single = (lo_val == hi_val) if single_required else np.ones(xs.size, dtype=bool)
    out_value = np.empty(xs.size)
    out_single = np.empty(xs.size, dtype=bool)
    out_value[order] = median
    out_single[order] = single
    return Consensus(value=out_value, single=out_single, match=out_single & (p.x == out_value))


def unit_consensus(ratings: Ratings, level: Level) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consensus of *all* raters of each unit: ``(unit ids, value, has single value)``.

    Majority (unique most frequent value) for nominal; median otherwise, where at the
    ordinal level an even number of ratings whose two middle values differ has no single
    consensus category.  ``value`` is NaN where no consensus exists.
    """
    n_units = ratings.unit_ids.size
    if ratings.size == 0:
        return ratings.unit_ids, np.zeros(0), np.zeros(0, dtype=bool)
    if level == "nominal":
        distinct, codes = dense_codes(ratings.values)
        key = ratings.unit.astype(np.int64) * distinct.size + codes
        keys, counts = np.unique(key, return_counts=True)
        entry_unit, entry_code = keys // distinct.size, keys % distinct.size
        top = np.zeros(n_units)
        np.maximum.at(top, entry_unit, counts)
        at_top = counts == top[entry_unit]
        single = np.bincount(entry_unit, weights=at_top, minlength=n_units) == 1
        value = np.full(n_units, np.nan)
        winners = at_top & single[entry_unit]
        value[entry_unit[winners]] = distinct[entry_code[winners]]
        return ratings.unit_ids, value, single
    order = np.lexsort((ratings.values, ratings.unit))
    xs = ratings.values[order]
    m = np.bincount(ratings.unit, minlength=n_units)
    start = np.r_[0, np.cumsum(m)[:-1]]
    lo_val = xs[start + (m - 1) // 2]
    hi_val = xs[start + m // 2]
    single = (lo_val == hi_val) if level == "ordinal" else np.ones(n_units, dtype=bool)
    value = np.where(single, (lo_val + hi_val) / 2.0, np.nan)
    return ratings.unit_ids, value, single


def rater_agreement(units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike, *, level: Level) -> RaterReport:
    """Leave-one-rater-out alpha and agreement with the others' consensus, per rater.

    Removing a rater and recomputing alpha shows whether that rater pulls reliability
    down; the consensus comparison shows *how* (rarely matching the others, or far from
    them on a numeric scale).  Consensus is majority for nominal, median otherwise (see
    :func:`leave_one_out_consensus`).
    """
    level = check_level(level)
    ratings = as_ratings(units, raters, values)
    full = alpha_of(ratings, level)
    per_rater_counts = np.bincount(ratings.rater, minlength=ratings.rater_ids.size)
    p = pairable(ratings)
    compared = np.zeros(ratings.rater_ids.size)
    with_consensus = np.zeros(ratings.rater_ids.size)
    matches = np.zeros(ratings.rater_ids.size)
    deviation = np.zeros(ratings.rater_ids.size)
    if p.n_units:
        consensus = leave_one_out_consensus(p, level)
        size = ratings.rater_ids.size
        compared = np.bincount(p.rater, minlength=size).astype(np.float64)
        with_consensus = np.bincount(p.rater, weights=consensus.single, minlength=size)
        matches = np.bincount(p.rater, weights=consensus.match, minlength=size)
        if level != "nominal":
            deviation = np.bincount(p.rater, weights=np.abs(p.x - consensus.value), minlength=size)
    report = []
    for code, rater_id in enumerate(ratings.rater_ids.tolist()):
        without = alpha_of(_without(ratings, code), level)
        change = None if without.alpha is None or full.alpha is None else without.alpha - full.alpha
        report.append(
            RaterAgreement(
                rater=int(rater_id),
                ratings=int(per_rater_counts[code]),
                alpha_without=without,
                alpha_change=change,
                units_compared=int(compared[code]),
                units_with_consensus=int(with_consensus[code]),
                exact_match_rate=float(matches[code] / with_consensus[code]) if with_consensus[code] else None,
                mean_absolute_deviation=(
                    float(deviation[code] / compared[code]) if level != "nominal" and compared[code] else None
                ),
            )
        )
    return RaterReport(alpha=full, raters=tuple(report))


def _without(ratings: Ratings, rater_code: int) -> Ratings:
    return ratings.subset(ratings.rater != rater_code)
