"""Percent agreement, Cohen's kappa and Spearman's rho against hand computations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agreement import cohen_kappa, pair_ratings, percent_agreement, spearman
from agreement.pairwise import average_ranks


def test_it_averages_pairwise_agreement_over_pairable_units() -> None:
    # Unit 1: 1,1,1 -> 1.  Unit 2: 1,1,2 -> 2 of 6 ordered pairs agree.  Unit 3: 1,2 -> 0.
    # Unit 4 has one rating and is not pairable.  Mean = (1 + 1/3 + 0) / 3 = 4/9.
    units = [1, 1, 1, 2, 2, 2, 3, 3, 4]
    raters = [1, 2, 3, 1, 2, 3, 1, 2, 1]
    values = [1, 1, 1, 1, 1, 2, 1, 2, 3]
    result = percent_agreement(units, raters, values)
    assert result.value == pytest.approx(4 / 9, abs=1e-15)
    assert result.units == 3


def test_it_reports_percent_agreement_without_pairable_units() -> None:
    result = percent_agreement([1, 2], [1, 1], [1.0, 2.0])
    assert result.value is None
    assert result.reason == "no unit has two or more ratings"


def test_it_computes_the_textbook_two_by_two_kappa() -> None:
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5.
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    result = cohen_kappa(a, b)
    assert result.value == pytest.approx(0.4, abs=1e-15)
    assert result.units == 50


def test_it_weights_kappa_linearly_and_quadratically() -> None:
    # Joint cells (1,1) (1,2) (2,2) (2,3) (3,3) (3,3); rows 1/3 each, columns 1/6, 2/6, 3/6.
    # Unweighted: 1 - (2/6) / (2/3) = 0.5.  Linear: observed 2/6, chance 16/18 -> 0.625.
    # Quadratic: observed 2/6, chance 24/18 -> 0.75.
    a = [1, 1, 2, 2, 3, 3]
    b = [1, 2, 2, 3, 3, 3]
    assert cohen_kappa(a, b).value == pytest.approx(0.5, abs=1e-15)
    assert cohen_kappa(a, b, weights="linear").value == pytest.approx(0.625, abs=1e-15)
    assert cohen_kappa(a, b, weights="quadratic").value == pytest.approx(0.75, abs=1e-15)


def test_it_measures_weighted_distances_on_the_given_scale() -> None:
    # Same design on values 1, 2, 5 of a 1-5 scale: positions 0, 1, 4 instead of 0, 1, 2.
    # Linear: observed (1 + 3) / 6, chance (14 + 10 + 10) / 18 -> 1 - 6/17 = 11/17.
    a = [1, 1, 2, 2, 5, 5]
    b = [1, 2, 2, 5, 5, 5]
    on_scale = cohen_kappa(a, b, weights="linear", categories=[1, 2, 3, 4, 5])
    observed_only = cohen_kappa(a, b, weights="linear")
    assert on_scale.value == pytest.approx(11 / 17, abs=1e-15)
    assert observed_only.value == pytest.approx(0.625, abs=1e-15)


def test_it_uses_the_order_of_the_category_list() -> None:
    # Codes listed as 3 < 1 < 2: positions 3->0, 1->1, 2->2, so a 1-vs-2 disagreement is one
    # step and 3-vs-2 two steps; rating pairs (1,2), (3,2), (1,1), (2,2):
    # observed (1 + 2) / 4; rows 1: 1/2, 3: 1/4, 2: 1/4; cols 2: 3/4, 1: 1/4.
    a = [1, 3, 1, 2]
    b = [2, 2, 1, 2]
    # chance: sum_i sum_j p_i q_j |i - j| with p = (1/4, 1/2, 1/4) at positions 0,1,2 and
    # q = (0, 1/4, 3/4): 1/4 * (1/4 + 6/4) + 1/2 * (3/4) + 1/4 * 1/4 = 7/16 + 6/16 + 1/16 = 14/16.
    result = cohen_kappa(a, b, weights="linear", categories=[3, 1, 2])
    assert result.value == pytest.approx(1 - (3 / 4) / (14 / 16), abs=1e-15)


def test_it_reports_undefined_kappa() -> None:
    assert cohen_kappa([], []).reason == "no paired ratings"
    single = cohen_kappa([2, 2, 2], [2, 2, 2])
    assert single.value is None
    assert single.reason.startswith("no chance disagreement")
    with pytest.raises(ValueError, match="not among the given categories"):
        cohen_kappa([1, 7], [1, 2], categories=[1, 2, 3])


def test_it_skips_pairs_with_a_missing_value() -> None:
    result = cohen_kappa([1, np.nan, 0, 1], [1, 0, 0, np.nan])
    assert result.units == 2
    assert result.value == 1.0


def test_it_reproduces_the_wikipedia_spearman_example() -> None:
    # IQ versus hours of TV per week; no ties, published rho = -29/165.
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert spearman(iq, tv).value == pytest.approx(-29 / 165, abs=1e-15)


def test_it_gives_ties_their_average_rank() -> None:
    assert average_ranks(np.array([10.0, 20.0, 20.0, 5.0, 20.0])).tolist() == [2.0, 4.0, 4.0, 1.0, 4.0]
    # a ranks 1, 2.5, 2.5, 4 and b ranks 1.5, 1.5, 3, 4: Pearson of those = 3.75 / 4.5.
    assert spearman([1, 2, 2, 3], [1, 1, 2, 3]).value == pytest.approx(3.75 / 4.5, abs=1e-15)


def test_it_reports_undefined_spearman() -> None:
    assert spearman([1.0], [2.0]).reason == "fewer than two paired ratings"
    flat = spearman([3, 3, 3], [1, 2, 3])
    assert flat.value is None
    assert flat.reason == "no variation: the first source gave every unit the same value"


def test_it_pairs_two_raters_over_shared_units() -> None:
    units = [5, 5, 6, 7, 7, 8]
    raters = [1, 2, 1, 1, 2, 2]
    values = [1.0, 2.0, 3.0, 4.0, np.nan, 6.0]
    shared, a, b = pair_ratings(units, raters, values, 1, 2)
    assert shared.tolist() == [5]
    assert a.tolist() == [1.0]
    assert b.tolist() == [2.0]


def test_it_serialises_measures_to_json() -> None:
    text = json.dumps([spearman([1, 2], [2, 1]).as_dict(), spearman([1], [1]).as_dict()], allow_nan=False)
    assert json.loads(text)[0] == {"value": -1.0, "reason": None, "units": 2}
