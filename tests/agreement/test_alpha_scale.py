"""Alpha on data too large for the ``krippendorff`` package's N x V x V tensor."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from krippendorff import krippendorff as kd

import agreement
from agreement import _ratio


def slider_ratings(n_units: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 raters per unit on a 0-100 slider, 10 % of ratings missing."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, n_units)
    units = np.repeat(np.arange(n_units), 3)
    raters = np.tile(np.arange(3), n_units)
    values = np.clip(np.round(truth[units] + rng.normal(0, 12, units.size)), 0, 100)
    keep = rng.random(units.size) >= 0.1
    return units[keep], raters[keep], values[keep]


def pairwise_reference(units: np.ndarray, values: np.ndarray, level: str) -> float:
    """Alpha from a coincidence matrix built pair by pair, with the package's own metric.

    Independent of the engine's closed forms: every ordered pair of ratings in a unit
    adds 1 / (m_u - 1) to o[c, k]; expected coincidences and distances then come from
    ``krippendorff``'s internal functions, which only need V x V memory.
    """
    domain, codes = np.unique(values, return_inverse=True)
    m = np.bincount(units)
    order = np.argsort(units, kind="stable")
    u, c = units[order], codes[order]
    o = np.zeros((domain.size, domain.size))
    start = np.r_[0, np.cumsum(m)[:-1]]
    for offset in range(1, int(m.max())):
        i = np.flatnonzero(np.arange(u.size) + offset < start[u] + m[u])
        j = i + offset
        weight = 1.0 / (m[u[i]] - 1.0)
        np.add.at(o, (c[i], c[j]), weight)
        np.add.at(o, (c[j], c[i]), weight)
    n_v = o.sum(axis=0)
    e = kd._random_coincidences(n_v)
    d = kd._distances(domain, kd._distance_metric(level), n_v)
    return 1.0 - float((o * d).sum() / (e * d).sum())


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_it_handles_a_slider_far_beyond_the_reference_memory(level: str) -> None:
    # 200k units x 101 values x 101 values x 8 bytes: the reference would need ~16 GB per array.
    units, raters, values = slider_ratings(200_000)
    got = agreement.alpha(units, raters, values, level=level, bootstrap_draws=0).alpha
    assert got == pytest.approx(pairwise_reference(units, values, level), abs=1e-9)


def test_it_handles_raw_float_ratio_scores_with_thousands_of_distinct_values() -> None:
    rng = np.random.default_rng(3)
    truth = rng.lognormal(1.0, 0.6, 600)
    units = np.repeat(np.arange(600), 3)
    values = truth[units] * rng.lognormal(0.0, 0.2, units.size)  # ~1800 distinct values: Fourier path
    assert np.unique(values).size > _ratio.RATIO_EXACT_MAX_V
    got = agreement.alpha(units, np.tile([0, 1, 2], 600), values, level="ratio", bootstrap_draws=0).alpha
    assert got == pytest.approx(pairwise_reference(units, values, "ratio"), abs=1e-9)


def test_it_stays_linear_in_memory_and_time() -> None:
    units, raters, values = slider_ratings(300_000, seed=1)
    agreement.alpha(units[:100], raters[:100], values[:100], level="interval", bootstrap_draws=0)
    tracemalloc.start()
    start = time.perf_counter()
    result = agreement.alpha(units, raters, values, level="interval", bootstrap_draws=0)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.alpha is not None
    # ~810k ratings: a handful of float64/intp arrays of that length (6.5 MB each).  The
    # reference would allocate 300k x 101 x 101 x 8 bytes = 24 GB.
    assert peak < 80 * 2**20
    # Linear work takes well under a second; anything quadratic in 300k units takes hours.
    assert elapsed < 30.0


def test_it_bootstraps_a_large_value_domain_within_bounded_memory() -> None:
    units, raters, values = slider_ratings(10_000, seed=2)
    tracemalloc.start()
    result = agreement.alpha(units, raters, values, level="ordinal", bootstrap_draws=300)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    low, high = result.ci
    assert low < result.alpha < high
    assert peak < 300 * 2**20
