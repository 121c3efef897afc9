"""Krippendorff's alpha on long-format ratings, with a unit-bootstrap confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from agreement._data import Level, Ratings, as_ratings, check_level, pairable_view
from agreement._profiles import Profiles, unit_profiles
from agreement._stats import LevelStats, draw_alphas, level_stats
from agreement.bootstrap import percentile_interval, weight_chunks

NO_RATINGS = "no ratings"
NO_PAIRABLE = "no unit has two or more ratings"
NO_VARIATION = "no variation: every rating has the same value"
NO_EXPECTED = "no expected disagreement: the values' differences all vanish under this metric"


def json_float(value: float | None) -> float | None:
    """``value`` as a plain float, or None when it is missing or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with its ingredients.

    ``alpha`` is None exactly when it is undefined, and ``reason`` then says why (never
    NaN, never a made-up 1.0).  ``observed_disagreement``/``expected_disagreement`` are
    ``D_o`` and ``D_e`` (alpha = 1 - D_o / D_e).  ``pairable_units``/``pairable_values``
    count the units with two or more ratings and the ratings in them: only those carry
    information.  ``ci`` is the bootstrap percentile interval at ``ci_level`` over
    ``ci_draws`` defined resamples; when it is None, ``ci_reason`` says why.
    """

    alpha: float | None
    reason: str | None
    level: Level
    observed_disagreement: float | None
    expected_disagreement: float | None
    pairable_units: int
    pairable_values: int
    ci: tuple[float, float] | None
    ci_level: float
    ci_draws: int = 0
    ci_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (floats or None, the interval as a two-item list)."""
        return {
            "alpha": json_float(self.alpha),
            "reason": self.reason,
            "level": self.level,
            "observed_disagreement": json_float(self.observed_disagreement),
            "expected_disagreement": json_float(self.expected_disagreement),
            "pairable_units": int(self.pairable_units),
            "pairable_values": int(self.pairable_values),
            "ci": None if self.ci is None else [float(self.ci[0]), float(self.ci[1])],
            "ci_level": float(self.ci_level),
            "ci_draws": int(self.ci_draws),
            "ci_reason": self.ci_reason,
        }


def check_bootstrap(bootstrap_draws: int, ci_level: float) -> None:
    """Reject a negative draw count or a confidence level outside (0, 1)."""
    if int(bootstrap_draws) != bootstrap_draws or bootstrap_draws < 0:
        raise ValueError(f"bootstrap_draws must be a non-negative integer; got {bootstrap_draws!r}")
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must be strictly between 0 and 1; got {ci_level!r}")


def alpha(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    level: Level,
    bootstrap_draws: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> AlphaResult:
    """Krippendorff's alpha of long-format ratings.

    ``units``, ``raters`` and ``values`` are equal-length 1-D arrays, one row per rating
    (missing ratings are absent rows; NaN values are dropped).  ``level`` is one of
    ``"nominal"``, ``"ordinal"``, ``"interval"``, ``"ratio"``; for nominal data pass
    category codes.  Equals ``krippendorff.alpha`` on the same data, in time and memory
    linear in the number of ratings (see ``agreement._stats`` for the closed forms).

    The interval resamples pairable units with replacement ``bootstrap_draws`` times
    (``0`` skips it) from ``numpy.random.default_rng(seed)``; units, not single ratings,
    are the independent observations, since ratings of one unit are correlated.

    Without a bootstrap, integer ratings on a short scale from a few raters (e.g. up to 7
    raters on 5 points) take the profile path of ``agreement._profiles``: two bincounts
    instead of validating, coding and aggregating every rating separately.
    """
    level = check_level(level)
    check_bootstrap(bootstrap_draws, ci_level)
    if not bootstrap_draws:
        # A point estimate on a short integer scale needs only the histogram of unit profiles.
        profiles = unit_profiles(units, raters, values)
        if profiles is not None:
            return profile_result(profiles, level, ci_level)
    return alpha_of(as_ratings(units, raters, values, compact=False), level, bootstrap_draws, seed, ci_level)


def profile_result(profiles: Profiles, level: Level, ci_level: float) -> AlphaResult:
    """The point estimate from unit profiles, with the same undefined cases as :func:`prepare`."""
    if profiles.n_units == 0:
        return _undefined(level, NO_PAIRABLE, ci_level)
    units, values = profiles.n_units, int(profiles.n_c.sum())
    if not profiles.has_variation():
        return _undefined(level, NO_VARIATION, ci_level, observed=0.0, expected=0.0, units=units, values=values)
    observed, expected = profiles.disagreements(level)
    return point_result(level, observed, expected, units, values, None, ci_level)


def _undefined(level: Level, reason: str, ci_level: float, **counts: Any) -> AlphaResult:
    return AlphaResult(
        alpha=None,
        reason=reason,
        level=level,
        observed_disagreement=counts.get("observed"),
        expected_disagreement=counts.get("expected"),
        pairable_units=counts.get("units", 0),
        pairable_values=counts.get("values", 0),
        ci=None,
        ci_level=ci_level,
        ci_reason=f"alpha is undefined: {reason}",
    )


def prepare(ratings: Ratings, level: Level) -> tuple[LevelStats | None, AlphaResult | None]:
    """Statistics for ``ratings``, or the undefined result explaining why there are none."""
    if ratings.size == 0:
        return None, _undefined(level, NO_RATINGS, 0.95)
    p = pairable_view(ratings)
    if p.n_units == 0:
        return None, _undefined(level, NO_PAIRABLE, 0.95)
    stats = level_stats(p, level)
    if not stats.has_variation():
        counts = {"observed": 0.0, "expected": 0.0, "units": p.n_units, "values": p.n}
        return None, _undefined(level, NO_VARIATION, 0.95, **counts)
    return stats, None


def alpha_of(
    ratings: Ratings,
    level: Level,
    bootstrap_draws: int = 0,
    seed: int = 0,
    ci_level: float = 0.95,
) -> AlphaResult:
    """:func:`alpha` on already validated :class:`~agreement._data.Ratings`."""
    stats, undefined = prepare(ratings, level)
    if stats is None:
        assert undefined is not None
        return replace(undefined, ci_level=ci_level)
    if bootstrap_draws:
        draws = joint_draws([stats], stats.unit_ids, bootstrap_draws, seed)[0]
        return result_of(stats, draws, ci_level)
    return result_of(stats, None, ci_level)


def result_of(stats: LevelStats, draws: np.ndarray | None, ci_level: float) -> AlphaResult:
    """Assemble an :class:`AlphaResult` from statistics and optional bootstrap replicates."""
    observed, expected = stats.point()
    return point_result(stats.level, observed, expected, stats.n_units, int(stats.n), draws, ci_level)


def point_result(
    level: Level,
    observed: float,
    expected: float,
    units: int,
    values: int,
    draws: np.ndarray | None,
    ci_level: float,
) -> AlphaResult:
    """Alpha from ``D_o`` and ``D_e`` of ``units`` pairable units holding ``values`` ratings."""
    if not expected > 0.0:  # only ratio data mixing signs can get here: delta(-a, a) is 0 by convention
        counts = {"observed": observed, "expected": expected, "units": units, "values": values}
        return _undefined(level, NO_EXPECTED, ci_level, **counts)
    ci: tuple[float, float] | None
    ci_reason: str | None
    if draws is None:
        ci, used, ci_reason = None, 0, "bootstrap skipped (bootstrap_draws=0)"
    else:
        ci, used, ci_reason = percentile_interval(draws, ci_level)
    return AlphaResult(
        alpha=1.0 - observed / expected,
        reason=None,
        level=level,
        observed_disagreement=observed,
        expected_disagreement=expected,
        pairable_units=units,
        pairable_values=values,
        ci=ci,
        ci_level=ci_level,
        ci_draws=used,
        ci_reason=ci_reason,
    )


def joint_draws(stats: Sequence[LevelStats], universe: np.ndarray, draws: int, seed: int) -> list[np.ndarray]:
    """Bootstrap replicates of several data sets under the *same* resampled units.

    ``universe`` holds sorted unit ids; each resample draws ``len(universe)`` of them with
    replacement and every data set is evaluated on the units it shares with the draw.
    Sharing the draws is what gives valid intervals for differences between data sets
    (e.g. humans-only versus judge-substituted alpha).
    """
    positions: list[np.ndarray | None] = []
    for s in stats:
        if s.unit_ids is universe:
            positions.append(None)
            continue
        pos = np.searchsorted(universe, s.unit_ids)
        identity = pos.size == universe.size and bool((pos == np.arange(pos.size)).all())
        positions.append(None if identity else pos)
    width = max(s.chunk_width for s in stats)
    out: list[list[np.ndarray]] = [[] for _ in stats]
    for w in weight_chunks(universe.size, draws, seed, width):
        for k, (s, position) in enumerate(zip(stats, positions, strict=True)):
            out[k].append(draw_alphas(s, w if position is None else w[:, position]))
    return [np.concatenate(parts) for parts in out]
