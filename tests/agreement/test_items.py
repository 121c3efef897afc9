"""Per-item disagreement scores against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from agreement import item_disagreement


def test_it_scores_interval_items_by_mean_squared_gap_over_the_widest_gap() -> None:
    units = [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5]
    raters = [1, 2, 3, 1, 2, 1, 2, 3, 1, 2, 1]
    values = [1, 1, 1, 1, 5, 1, 1, 5, 2, 3, 4]
    scores = item_disagreement(units, raters, values, level="interval", scale=[1, 5])
    # Widest gap (5 - 1)^2 = 16.  Unit 3: pairs 0, 16, 16 -> mean 32/3 -> 2/3.  Unit 4: 1/16.
    assert scores == pytest.approx({1: 0.0, 2: 1.0, 3: 2 / 3, 4: 1 / 16})
    assert 5 not in scores  # a single rating has no pair


def test_it_scores_nominal_items_by_the_share_of_disagreeing_pairs() -> None:
    units = [1, 1, 1, 2, 2, 2, 3, 3]
    raters = [1, 2, 3, 1, 2, 3, 1, 2]
    values = [0, 1, 2, 0, 0, 1, 4, 4]
    assert item_disagreement(units, raters, values, level="nominal") == pytest.approx({1: 1.0, 2: 2 / 3, 3: 0.0})


def test_it_scores_ratio_items_with_the_ratio_metric() -> None:
    units = [1, 1, 2, 2, 3, 3, 3]
    raters = [1, 2, 1, 2, 1, 2, 3]
    values = [0, 10, 5, 10, 2, 2, 4]
    # Largest distance on [0, 10] is ((10 - 0) / 10)^2 = 1.  Unit 2: (5/15)^2 = 1/9.
    # Unit 3: pairs 0, (2/6)^2, (2/6)^2 -> mean 2/27.
    scores = item_disagreement(units, raters, values, level="ratio", scale=[0, 10])
    assert scores == pytest.approx({1: 1.0, 2: 1 / 9, 3: 2 / 27})


def test_it_scores_ordinal_items_with_midrank_distances() -> None:
    units = [1, 1, 2, 2, 3, 3]
    raters = [1, 2, 1, 2, 1, 2]
    values = [1, 3, 2, 2, 1, 2]
    # Marginals n = (2, 3, 1): midranks 1, 3.5, 5.5.  Largest distance (5.5 - 1)^2 = 20.25.
    observed_scale = item_disagreement(units, raters, values, level="ordinal")
    assert observed_scale == pytest.approx({1: 1.0, 2: 0.0, 3: 6.25 / 20.25})
    # An unused top category 4 has midrank 6, so the largest distance becomes 25.
    full_scale = item_disagreement(units, raters, values, level="ordinal", scale=[1, 2, 3, 4])
    assert full_scale == pytest.approx({1: 20.25 / 25, 2: 0.0, 3: 6.25 / 25})


def test_it_keeps_scores_within_zero_and_one() -> None:
    rng = np.random.default_rng(0)
    units = np.repeat(np.arange(500), 4)
    raters = np.tile(np.arange(4), 500)
    values = rng.integers(1, 6, units.size).astype(float)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        scores = np.array(list(item_disagreement(units, raters, values, level=level).values()))
        assert scores.size == 500
        assert scores.min() >= 0.0
        assert scores.max() <= 1.0


def test_it_returns_zero_everywhere_without_variation_and_nothing_without_pairs() -> None:
    assert item_disagreement([1, 1, 2, 2], [1, 2, 1, 2], [3, 3, 3, 3], level="interval") == {1: 0.0, 2: 0.0}
    assert item_disagreement([1, 2], [1, 1], [3, 4], level="interval") == {}


def test_it_rejects_ratings_outside_the_scale() -> None:
    with pytest.raises(ValueError, match="outside the scale"):
        item_disagreement([1, 1], [1, 2], [0, 7], level="interval", scale=[1, 5])
    with pytest.raises(ValueError, match="not among the categories"):
        item_disagreement([1, 1], [1, 2], [1, 7], level="ordinal", scale=[1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        item_disagreement([1, 1], [1, 2], [-1, 2], level="ratio")
