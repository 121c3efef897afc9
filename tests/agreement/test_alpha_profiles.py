"""The profile fast path (few raters, short integer scale) against the general path."""

from __future__ import annotations

import numpy as np
import pytest

import agreement
from agreement._data import as_ratings
from agreement._profiles import unit_profiles
from agreement.alpha import alpha_of
from tests.agreement.helpers import reference_alpha

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def scale_ratings(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long-format ratings on a short integer scale with ids laid out as a database might."""
    rng = np.random.default_rng(seed)
    n_units, n_raters = int(rng.integers(2, 400)), int(rng.integers(2, 6))
    low = int(rng.integers(0, 3))
    high = low + int(rng.integers(1, 5))  # up to 5 raters x 5 points: within STATE_BITS
    truth = rng.integers(low, high + 1, n_units)
    noise = rng.integers(-1, 2, (n_raters, n_units)) * (rng.random((n_raters, n_units)) < 0.3)
    matrix = np.clip(truth + noise, low, high).astype(float)
    matrix[rng.random(matrix.shape) < rng.uniform(0.0, 0.5)] = np.nan
    rater, unit = np.nonzero(~np.isnan(matrix))
    values = matrix[rater, unit]
    if seed % 3 == 0:  # a project's items deep in a big table, with gaps
        unit_ids = 10**9 + np.sort(rng.choice(3 * n_units, n_units, replace=False))
    elif seed % 3 == 1:  # small ids with gaps: their own bincount bins
        unit_ids = np.arange(n_units) * 2
    else:
        unit_ids = np.arange(n_units)
    rater_ids = rng.choice(5000, n_raters, replace=False) if seed % 2 else np.arange(n_raters) + 1
    order = rng.permutation(values.size)  # the query has no ORDER BY
    values = values[order].astype(np.int64) if seed % 4 == 0 else values[order]
    return unit_ids[unit[order]], rater_ids[rater[order]], values


def general(units, raters, values, level):
    return alpha_of(as_ratings(units, raters, values, compact=False), level)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("level", LEVELS)
def test_it_equals_the_general_path(level: str, seed: int) -> None:
    units, raters, values = scale_ratings(seed)
    assert unit_profiles(units, raters, values) is not None
    fast = agreement.alpha(units, raters, values, level=level, bootstrap_draws=0)
    slow = general(units, raters, values, level)
    assert fast.reason == slow.reason
    assert (fast.pairable_units, fast.pairable_values) == (slow.pairable_units, slow.pairable_values)
    if slow.alpha is None:
        assert fast.alpha is None
        return
    assert fast.alpha == pytest.approx(slow.alpha, abs=1e-12)
    assert fast.observed_disagreement == pytest.approx(slow.observed_disagreement, rel=1e-12, abs=1e-300)
    assert fast.expected_disagreement == pytest.approx(slow.expected_disagreement, rel=1e-12)


def test_it_leaves_the_callers_arrays_alone() -> None:
    # The fast path computes in place on its own buffers; the inputs are the caller's.
    units, raters, values = scale_ratings(2)
    raters = raters.astype(np.intp)  # the dtype whose astype(copy=False) would alias
    before = [units.copy(), raters.copy(), values.copy()]
    assert unit_profiles(units, raters, values) is not None
    for got, kept in zip((units, raters, values), before, strict=True):
        assert np.array_equal(got, kept)
        assert got.dtype == kept.dtype


@pytest.mark.parametrize("level", LEVELS)
def test_it_equals_krippendorff_on_three_coders_and_a_five_point_scale(level: str) -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 6, 3000)
    matrix = np.clip(truth + rng.choice([-1, 0, 0, 0, 1], (3, 3000)), 1, 5).astype(float)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    units, raters, values = agreement.reliability_matrix_to_long(matrix)
    assert unit_profiles(units, raters, values) is not None
    got = agreement.alpha(units, raters, values, level=level, bootstrap_draws=0).alpha
    assert got == pytest.approx(reference_alpha(matrix, level), abs=1e-12)


@pytest.mark.parametrize("level", LEVELS)
def test_it_gives_exactly_one_when_every_unit_agrees(level: str) -> None:
    units = np.repeat(np.arange(60), 3)
    values = np.repeat(np.arange(60) % 4 + 1.0, 3)
    result = agreement.alpha(units, np.tile([4, 5, 6], 60), values, level=level, bootstrap_draws=0)
    assert result.observed_disagreement == 0.0
    assert result.alpha == 1.0


def test_it_reports_the_undefined_cases_like_the_general_path() -> None:
    lone = agreement.alpha([1, 2, 3], [1, 1, 2], [1.0, 2.0, 3.0], level="ordinal", bootstrap_draws=0)
    assert lone.reason == "no unit has two or more ratings"
    flat = agreement.alpha(
        [1, 1, 2, 2, 3], [1, 2, 1, 2, 1], [4.0, 4.0, 4.0, 4.0, 5.0], level="ordinal", bootstrap_draws=0
    )
    assert flat.reason == "no variation: every rating has the same value"
    assert (flat.pairable_units, flat.pairable_values, flat.observed_disagreement) == (2, 4, 0.0)
    assert flat.ci_level == 0.95


def has_duplicate(units: np.ndarray, raters: np.ndarray) -> bool:
    pairs = np.stack([units, raters], axis=1)
    return np.unique(pairs, axis=0).shape[0] < units.size


@pytest.mark.parametrize("seed", range(200))
def test_it_rejects_every_duplicate_rating_and_nothing_else(seed: int) -> None:
    # Duplicates are what could fool a packed sum: repeated raters carry into each other's
    # bits, and more ratings of one value than raters overflow a profile digit.
    rng = np.random.default_rng(seed)
    n_raters, n_units = int(rng.integers(1, 5)), int(rng.integers(1, 30))
    units = rng.integers(0, n_units, int(rng.integers(1, 25)))
    raters = rng.integers(0, n_raters, units.size)
    values = rng.integers(0, int(rng.integers(1, 6)), units.size).astype(float)
    if not has_duplicate(units, raters):
        assert unit_profiles(units, raters, values) is not None
        return
    with pytest.raises(ValueError, match="more than once"):
        unit_profiles(units, raters, values)


def test_it_rejects_a_rater_repeating_one_value_until_its_digit_overflows() -> None:
    # Rater 0 gives unit 0 the value 0 four times: n_00 = 4 = B, one more than 3 raters allow.
    units = np.array([0, 0, 0, 0, 1, 1, 1])
    raters = np.array([0, 0, 0, 0, 0, 1, 2])
    values = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="more than once"):
        agreement.alpha(units, raters, values, level="nominal", bootstrap_draws=0)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0, np.nan, 3.0],  # missing value: the general path drops the row
        [1.0, 2.5, 2.0, 3.0],  # not an integer
        [1.0, 2.0, 80.0, 3.0],  # a slider, not a short scale
        [-1.0, 1.0, 1.0, -1.0],  # negative
    ],
)
def test_it_leaves_other_data_to_the_general_path(values: list[float]) -> None:
    assert unit_profiles([1, 1, 2, 2], [1, 2, 1, 2], values) is None


def test_it_leaves_unit_ids_spread_far_beyond_the_ratings_to_the_general_path() -> None:
    units = np.repeat([5, 10**12], 2)
    assert unit_profiles(units, [1, 2, 1, 2], [1.0, 2.0, 2.0, 2.0]) is None
    assert agreement.alpha(units, [1, 2, 1, 2], [1.0, 2.0, 2.0, 2.0], level="nominal", bootstrap_draws=0).alpha == (
        pytest.approx(general(units, [1, 2, 1, 2], [1.0, 2.0, 2.0, 2.0], "nominal").alpha, abs=1e-12)
    )


def test_it_leaves_many_raters_to_the_general_path() -> None:
    units = np.repeat(np.arange(10), 30)
    raters = np.tile(np.arange(30), 10)
    values = (units + raters) % 5 + 1.0
    assert unit_profiles(units, raters, values) is None
    assert agreement.alpha(units, raters, values, level="ordinal", bootstrap_draws=0).alpha == pytest.approx(
        general(units, raters, values, "ordinal").alpha, abs=1e-12
    )
