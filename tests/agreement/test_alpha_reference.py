"""Alpha against published worked examples and against the ``krippendorff`` package."""

from __future__ import annotations

import numpy as np
import pytest

import agreement
from agreement import _ratio, _stats, reliability_matrix_to_long
from tests.agreement.helpers import (
    HAYES_2007,
    KRIPPENDORFF_2011,
    KRIPPENDORFF_2011_BINARY,
    WIKIPEDIA,
    random_matrix,
    reference_alpha,
)

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def engine_alpha(matrix: np.ndarray, level: str) -> float | None:
    units, raters, values = reliability_matrix_to_long(matrix)
    return agreement.alpha(units, raters, values, level=level, bootstrap_draws=0).alpha


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_it_reproduces_krippendorff_2011_four_observers_twelve_units(level: str, published: float) -> None:
    assert round(engine_alpha(KRIPPENDORFF_2011, level), 3) == published


def test_it_reproduces_krippendorff_2011_binary_two_observers() -> None:
    assert round(engine_alpha(KRIPPENDORFF_2011_BINARY, "nominal"), 3) == 0.095


def test_it_reproduces_hayes_krippendorff_2007_table_1_ordinal() -> None:
    assert round(engine_alpha(HAYES_2007, "ordinal"), 4) == 0.7598


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.691), ("interval", 0.811)])
def test_it_reproduces_the_wikipedia_worked_example(level: str, published: float) -> None:
    assert round(engine_alpha(WIKIPEDIA, level), 3) == published


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(40))
def test_it_equals_the_krippendorff_package_on_random_data(level: str, seed: int) -> None:
    matrix = random_matrix(seed, level)
    expected = reference_alpha(matrix, level)
    got = engine_alpha(matrix, level)
    if expected is None:
        # The reference raises or returns NaN exactly where alpha is undefined.
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(16))
def test_it_equals_the_krippendorff_package_on_the_fourier_ratio_path(seed: int, monkeypatch) -> None:
    # Force the O(V x J) quadrature that large value domains use onto data small enough for the reference.
    monkeypatch.setattr(_ratio, "RATIO_EXACT_MAX_V", 0)
    rng = np.random.default_rng(1000 + seed)
    matrix = np.round(rng.lognormal(1.0, 1.0 + seed % 3, (int(rng.integers(2, 6)), int(rng.integers(5, 60)))), 4)
    if seed % 4 == 0:
        matrix[rng.random(matrix.shape) < 0.2] = 0.0  # zeros are handled apart from the log-transform
    if seed % 5 == 0:
        matrix = -matrix  # values of one sign: all non-positive
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    expected = reference_alpha(matrix, "ratio")
    assert expected is not None
    assert engine_alpha(matrix, "ratio") == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_it_equals_the_krippendorff_package_on_the_shifted_ordinal_path(seed: int, monkeypatch) -> None:
    # Large ordinal data sets (max(m) * n >= 2^26) shift unit sums by a representative rating.
    monkeypatch.setattr(_stats, "EXACT_SUM_LIMIT", 0.0)
    matrix = random_matrix(seed, "ordinal")
    expected = reference_alpha(matrix, "ordinal")
    got = engine_alpha(matrix, "ordinal")
    assert got is None if expected is None else got == pytest.approx(expected, abs=1e-9)


def test_it_matches_the_reference_for_ratio_data_of_mixed_sign_on_the_exact_path() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.integers(-5, 6, (3, 40)).astype(float)
    assert engine_alpha(matrix, "ratio") == pytest.approx(reference_alpha(matrix, "ratio"), abs=1e-9)


def test_it_refuses_mixed_sign_ratio_data_beyond_the_exact_path(monkeypatch) -> None:
    monkeypatch.setattr(_ratio, "RATIO_EXACT_MAX_V", 4)
    matrix = np.array([[-2.0, 1.0, 3.0, 4.0, 5.0], [-1.0, 2.0, 3.0, 4.0, 6.0]])
    with pytest.raises(ValueError, match="one sign"):
        engine_alpha(matrix, "ratio")


@pytest.mark.parametrize("level", LEVELS)
def test_it_does_not_depend_on_row_order_or_id_values(level: str) -> None:
    matrix = random_matrix(4, level)
    units, raters, values = reliability_matrix_to_long(matrix)
    rng = np.random.default_rng(0)
    order = rng.permutation(units.size)
    unit_ids = rng.choice(10**12, size=matrix.shape[1], replace=False) - 5 * 10**11  # sparse, negative ids
    rater_ids = np.array([900, -3, 17, 4, 55, 8])[: matrix.shape[0]]
    shuffled = agreement.alpha(
        unit_ids[units][order], rater_ids[raters][order], values[order], level=level, bootstrap_draws=0
    )
    assert shuffled.alpha == pytest.approx(reference_alpha(matrix, level), abs=1e-12)


def test_it_converts_a_reliability_matrix_to_long_format() -> None:
    units, raters, values = reliability_matrix_to_long([[1.0, np.nan, 3.0], [np.nan, 2.0, 4.0]])
    assert units.tolist() == [0, 2, 1, 2]
    assert raters.tolist() == [0, 0, 1, 1]
    assert values.tolist() == [1.0, 3.0, 2.0, 4.0]


def test_it_treats_nan_values_as_absent_rows() -> None:
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    padded = agreement.alpha(
        np.r_[units, [0, 11]], np.r_[raters, [9, 9]], np.r_[values, [np.nan, np.nan]], level="ordinal"
    )
    plain = agreement.alpha(units, raters, values, level="ordinal")
    assert padded.alpha == plain.alpha
    assert padded.ci == plain.ci
