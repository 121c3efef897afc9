"""Live alpha: cells kept up to date by deltas equal a full recompute after any sequence of changes."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pytest

import agreement
from agreement.live import CellArrays, Tally, cells_alpha, cells_build, cells_delta, tally_build, unit_cells

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _long(state: dict[int, dict[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [(u, r, v) for u, by_rater in state.items() for r, v in by_rater.items()]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    u, r, v = zip(*rows, strict=True)
    return np.asarray(u), np.asarray(r), np.asarray(v, dtype=np.float64)


def _same(live: agreement.AlphaResult, full: agreement.AlphaResult) -> None:
    assert (live.alpha is None) == (full.alpha is None), (live, full)
    assert live.reason == full.reason
    if full.alpha is not None:
        assert live.alpha == pytest.approx(full.alpha, abs=1e-9, rel=1e-9)
        assert live.observed_disagreement == pytest.approx(full.observed_disagreement, abs=1e-9, rel=1e-9)
        assert live.expected_disagreement == pytest.approx(full.expected_disagreement, abs=1e-9, rel=1e-9)
    assert live.pairable_units == full.pairable_units
    assert live.pairable_values == full.pairable_values


def _value_source(rng: np.random.Generator, kind: str):
    if kind == "scale":  # a 1-5 scale: few values, many coincidences
        return lambda: float(rng.integers(1, 6))
    if kind == "binary":
        return lambda: float(rng.integers(0, 2))
    # Free values (sliders, scores): nearly every value distinct, some repeated.
    pool = np.round(rng.uniform(0.5, 100.0, size=40), 3)
    return lambda: float(pool[rng.integers(0, pool.size)]) if rng.random() < 0.5 else round(rng.uniform(0.1, 100), 6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["scale", "binary", "free"])
def test_it_equals_a_full_recompute_after_random_inserts_changes_and_deletes(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    draw = _value_source(rng, kind)
    state: dict[int, dict[int, float]] = {}
    tally = Tally()
    for step in range(160):
        unit = int(rng.integers(0, 12))
        rater = int(rng.integers(0, 5))
        by_rater = state.setdefault(unit, {})
        before = list(by_rater.values())
        roll = rng.random()
        if rater in by_rater and roll < 0.3:
            del by_rater[rater]  # delete
        else:
            by_rater[rater] = draw()  # insert, or change
        tally.unit_changed(before, list(by_rater.values()))
        if step % 8 == 0 or step == 159:
            u, r, v = _long(state)
            assert tally.ratings == v.size
            for level in LEVELS:
                _same(tally.alpha(level), agreement.alpha(u, r, v, level=level, bootstrap_draws=0))
    # Rebuilt from scratch, the same cells as the incremental ones.
    u, r, v = _long(state)
    assert tally_build(u, r, v).cells == tally.cells


@pytest.mark.parametrize("level", LEVELS)
def test_it_equals_the_krippendorff_package(level: str) -> None:
    rng = np.random.default_rng(7)
    matrix = rng.integers(1, 6, size=(4, 60)).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    u, _, v = agreement.reliability_matrix_to_long(matrix)
    tally = Tally()
    for unit in np.unique(u):  # one unit at a time, as ratings would arrive
        tally.unit_changed([], v[u == unit].tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    assert tally.alpha(level).alpha == pytest.approx(expected, abs=1e-9)


def test_it_builds_the_same_cells_vectorised_as_unit_by_unit() -> None:
    rng = np.random.default_rng(3)
    units = rng.integers(0, 500, size=3000)
    values = rng.integers(1, 8, size=3000).astype(float)
    built = cells_build(units, values).as_dict()
    by_unit: dict = {}
    for unit in np.unique(units):
        for cell, count in unit_cells(values[units == unit].tolist()).items():
            by_unit[cell] = by_unit.get(cell, 0) + count
    assert built == by_unit


def test_a_unit_contribution_cancels_exactly() -> None:
    assert cells_delta([1.0, 2.0, 2.0], [1.0, 2.0, 2.0]) == {}
    assert unit_cells([3.0]) == {}
    assert unit_cells([1.0, 2.0, 2.0]) == {(3, 1.0, 2.0): 2, (3, 2.0, 2.0): 2}


def test_undefined_cases_read_like_the_engine() -> None:
    empty = cells_alpha(CellArrays.of({}), level="nominal", ratings=0)
    assert empty.reason == agreement.alpha([], [], [], level="nominal").reason
    lone = Tally()
    lone.unit_changed([], [1.0])
    assert lone.alpha("interval").reason == agreement.alpha([1], [1], [1.0], level="interval", bootstrap_draws=0).reason
    same = Tally()
    same.unit_changed([], [2.0, 2.0])
    assert same.alpha("ordinal").alpha is None
    assert same.alpha("ordinal").reason == agreement.alpha([1, 1], [1, 2], [2.0, 2.0], level="ordinal").reason
