"""The bootstrap interval kept by changes (agreement/live_bootstrap.py): the sums kept up to date
unit by unit equal a full build, and each draw's alpha equals the report engine's under the same
weights."""

from __future__ import annotations

import numpy as np
import pytest

from agreement._data import as_ratings
from agreement._stats import draw_alphas
from agreement.alpha import prepare
from agreement.live_bootstrap import DrawSums, draw_sums_build, poisson_weights, sums_alphas, units_changed_together

LEVELS = ("nominal", "ordinal", "interval", "ratio")
DRAWS = 60
SEED = 20


def _long(state: dict[int, list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [(u, r, v) for u, values in state.items() for r, v in enumerate(values)]
    u, r, v = zip(*rows, strict=True)
    return np.asarray(u, dtype=np.int64), np.asarray(r), np.asarray(v, dtype=np.float64)


def _world(rng: np.random.Generator, units: int) -> dict[int, list[float]]:
    return {
        int(u): [float(v) for v in rng.integers(1, 6, size=rng.integers(1, 5))]
        for u in rng.choice(10_000, size=units, replace=False)
    }


def test_poisson_weights_depend_on_the_unit_and_draw_alone():
    ids = np.arange(5_000, dtype=np.int64) * 7 + 3
    weights = poisson_weights(ids, 200, seed=SEED)
    assert weights.shape == (200, 5_000)
    assert weights.mean() == pytest.approx(1.0, abs=0.01) and weights.var() == pytest.approx(1.0, abs=0.02)
    # The same unit gets the same column whatever else is asked with it; another seed, others.
    assert np.array_equal(poisson_weights(ids[[10, 4_000]], 200, seed=SEED), weights[:, [10, 4_000]])
    assert not np.array_equal(poisson_weights(ids[:50], 200, seed=SEED + 1), weights[:, :50])
    assert np.corrcoef(weights[:, 0], weights[:, 1])[0, 1] == pytest.approx(0.0, abs=0.25)


@pytest.mark.parametrize("level", LEVELS)
def test_each_draws_alpha_equals_the_report_engines_under_the_same_weights(level):
    rng = np.random.default_rng(1)
    units, raters, values = _long(_world(rng, 400))
    stats, undefined = prepare(as_ratings(units, raters, values, compact=False), level)
    assert stats is not None and undefined is None
    weights = poisson_weights(stats.unit_ids, DRAWS, SEED)
    expected = draw_alphas(stats, weights)
    kept = draw_sums_build(units, values, draws=DRAWS, seed=SEED)
    assert np.allclose(kept.alphas(level), expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.isfinite(expected).all()


@pytest.mark.parametrize("level", LEVELS)
def test_sums_kept_by_changes_equal_a_full_build_after_inserts_changes_and_deletes(level):
    rng = np.random.default_rng(7)
    world = _world(rng, 300)
    units, _, values = _long(world)
    kept = draw_sums_build(units, values, draws=DRAWS, seed=SEED)
    for _ in range(40):
        changes = []
        for unit in rng.choice(12_000, size=rng.integers(1, 6), replace=False):
            unit = int(unit)
            before = list(world.get(unit, []))
            after = list(before)
            move = rng.integers(0, 3)
            if move == 0 or not after:
                after.append(float(rng.integers(1, 8)))  # new rating, sometimes a value never seen
            elif move == 1:
                after[rng.integers(0, len(after))] = float(rng.integers(1, 6))  # a correction
            else:
                after.pop(rng.integers(0, len(after)))  # a deletion
            world[unit] = after
            changes.append((unit, before, after))
        kept.units_changed(changes)
        full = draw_sums_build(*_long({u: v for u, v in world.items() if v})[::2], draws=DRAWS, seed=SEED)
        assert np.array_equal(kept.values, full.values)
        assert np.allclose(kept.sums, full.sums, rtol=0, atol=1e-9)
        assert np.allclose(kept.alphas(level), full.alphas(level), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_it_round_trips_through_bytes_and_says_when_no_interval_can_be_drawn():
    rng = np.random.default_rng(3)
    units, _, values = _long(_world(rng, 200))
    kept = draw_sums_build(units, values, draws=DRAWS, seed=SEED)
    again = DrawSums.from_bytes(kept.to_bytes())
    assert again.seed == SEED and np.array_equal(again.sums, kept.sums) and np.array_equal(again.values, kept.values)
    interval, used, reason = again.interval("ordinal")
    assert interval is not None and interval[0] < interval[1] and used == DRAWS and reason is None
    # Every unit agrees on one value: no variation in any draw, no interval.
    same = draw_sums_build([1, 1, 2, 2], [3.0, 3.0, 3.0, 3.0], draws=DRAWS, seed=SEED)
    assert np.isnan(sums_alphas(same.sums, same.values, "interval")).all()
    assert same.interval("interval")[0] is None


def test_several_data_sets_changed_together_equal_each_changed_alone():
    rng = np.random.default_rng(11)
    worlds = {key: _world(rng, 150) for key in ("a", "b")}
    together = {key: DrawSums.empty(draws=DRAWS, seed=SEED) for key in worlds}
    alone = {key: DrawSums.empty(draws=DRAWS, seed=SEED) for key in worlds}
    changes = {key: [(u, [], values) for u, values in world.items()] for key, world in worlds.items()}
    units_changed_together(together, changes)
    for key, rows in changes.items():
        alone[key].units_changed(rows[::-1])  # order does not matter either
        assert np.array_equal(together[key].values, alone[key].values)
        assert np.allclose(together[key].sums, alone[key].sums, rtol=0, atol=1e-9)
