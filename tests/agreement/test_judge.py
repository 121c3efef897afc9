"""Judge-versus-human helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agreement import judge_as_rater, judge_trusted, judge_vs_humans, reliability_matrix_to_long
from tests.agreement.helpers import KRIPPENDORFF_2011, reference_alpha

HUMANS = {  # unit: ratings by humans 1, 2, 3 on a 1-5 ordinal scale
    1: [1, 1, 2],  # median 1
    2: [3, 4],  # two different middle values: no single consensus category
    3: [5, 5, 4],  # 5
    4: [2, 2, 2],  # 2
    5: [4],  # a single human: 4
    6: [3, 3],  # 3
}
JUDGE = {1: 1, 2: 4, 3: 4, 4: 2, 5: 5, 6: 3, 7: 1}  # unit 7 has no human ratings


def _humans() -> tuple[list[int], list[int], list[float]]:
    units, raters, values = [], [], []
    for unit, ratings in HUMANS.items():
        for rater, value in enumerate(ratings, start=1):
            units.append(unit)
            raters.append(rater)
            values.append(float(value))
    return units, raters, values


def test_it_compares_a_judge_with_the_human_consensus() -> None:
    result = judge_vs_humans(*_humans(), list(JUDGE), list(JUDGE.values()), level="ordinal", categories=[1, 2, 3, 4, 5])
    # Compared units 1, 3, 4, 5, 6: consensus 1, 5, 2, 4, 3 against judge 1, 4, 2, 5, 3.
    assert result.units == 5
    assert result.units_without_consensus == 1
    assert result.exact_accuracy == pytest.approx(3 / 5)
    assert result.within_one_accuracy == 1.0
    # Both marginals uniform over 1-5: chance agreement 1/5, so kappa = (3/5 - 1/5) / (4/5).
    assert result.kappa.value == pytest.approx(0.5)
    # Linear: observed 2/5, chance 40/25.  Quadratic: observed 2/5, chance 100/25.
    assert result.kappa_linear.value == pytest.approx(0.75)
    assert result.kappa_quadratic.value == pytest.approx(0.9)
    # No ties: rho = 1 - 6 * 2 / (5 * 24).
    assert result.spearman.value == pytest.approx(0.9)
    assert result.confusion.labels == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.confusion.counts == [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 1, 0],
    ]
    pair = np.array([[1, 5, 2, 4, 3], [1, 4, 2, 5, 3]], dtype=float)
    assert result.alpha.alpha == pytest.approx(reference_alpha(pair, "ordinal"), abs=1e-12)
    low, high = result.alpha.ci
    assert low <= result.alpha.alpha <= high
    json.dumps(result.as_dict(), allow_nan=False)


def test_it_uses_majority_consensus_and_no_numeric_measures_for_nominal() -> None:
    result = judge_vs_humans(*_humans(), list(JUDGE), list(JUDGE.values()), level="nominal", bootstrap_draws=0)
    # Majorities: unit 1 -> 1, unit 3 -> 5, unit 4 -> 2, unit 5 -> 4, unit 6 -> 3; unit 2 is tied.
    assert result.units == 5
    assert result.exact_accuracy == pytest.approx(3 / 5)
    assert result.spearman is None
    assert result.within_one_accuracy is None
    assert result.kappa_linear is None
    assert result.kappa.value == pytest.approx(0.5)
    assert result.alpha.ci is None


def test_it_uses_the_numeric_median_for_interval_judges() -> None:
    result = judge_vs_humans(*_humans(), list(JUDGE), list(JUDGE.values()), level="interval", bootstrap_draws=0)
    # Unit 2's median 3.5 now counts: judge 4 is within one but not exact.
    assert result.units == 6
    assert result.units_without_consensus == 0
    assert result.exact_accuracy == pytest.approx(3 / 6)
    assert result.within_one_accuracy == 1.0
    assert result.confusion is None
    assert result.kappa is None


def _substituted_matrix(humans: np.ndarray, judge: np.ndarray, row: int) -> np.ndarray:
    out = humans.copy()
    out[row] = np.where(np.isnan(humans[row]), np.nan, judge)
    return out


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_it_substitutes_the_judge_for_each_human_in_turn(level: str) -> None:
    judge = np.array([1, 2, 3, 3, 2, 2, 4, 2, 2, 5, np.nan, 3])  # no score for unit 10
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    scored = ~np.isnan(judge)
    result = judge_as_rater(
        units, raters, values, np.flatnonzero(scored), judge[scored], level=level, bootstrap_draws=400, seed=3
    )
    assert result.human.alpha == pytest.approx(reference_alpha(KRIPPENDORFF_2011, level), abs=1e-12)
    expected = [reference_alpha(_substituted_matrix(KRIPPENDORFF_2011, judge, row), level) for row in range(4)]
    assert [result.substituted[r].alpha for r in range(4)] == pytest.approx(expected, abs=1e-12)
    assert result.mean_substituted == pytest.approx(np.mean(expected), abs=1e-12)
    assert result.difference == pytest.approx(np.mean(expected) - result.human.alpha, abs=1e-12)
    for interval in [result.human.ci, result.mean_substituted_ci, result.difference_ci]:
        assert interval is not None
        assert interval[0] < interval[1]
    assert result.difference_ci[0] <= result.difference <= result.difference_ci[1]
    json.dumps(result.as_dict(), allow_nan=False)


def test_it_leaves_alpha_unchanged_when_the_judge_copies_a_human() -> None:
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    copy_of_b = KRIPPENDORFF_2011[1]
    scored = ~np.isnan(copy_of_b)
    result = judge_as_rater(units, raters, values, np.flatnonzero(scored), copy_of_b[scored], level="ordinal")
    assert result.substituted[1].alpha == result.human.alpha
    assert result.substituted[1].ci == result.human.ci  # same resampled units


def test_it_explains_when_no_substitution_is_defined() -> None:
    result = judge_as_rater([1, 1], [1, 2], [1.0, 2.0], [9], [3.0], level="interval", bootstrap_draws=50)
    assert result.mean_substituted is None
    assert result.reason.startswith("no substitution")
    assert result.substituted[1].reason == "no unit has two or more ratings"


def test_it_trusts_a_judge_within_the_margin_of_the_humans() -> None:
    assert judge_trusted(0.78, 0.80, margin=0.05, units=200).trusted
    assert judge_trusted(0.90, 0.80, margin=0.0, units=50).trusted


def test_it_explains_why_a_judge_is_not_trusted() -> None:
    low = judge_trusted(0.70, 0.80, margin=0.05, units=200)
    assert not low.trusted
    assert low.reason == "judge agreement 0.700 is below human agreement 0.800 minus margin 0.050 (= 0.750)"
    few = judge_trusted(0.95, 0.80, margin=0.05, units=20)
    assert not few.trusted
    assert few.reason == "only 20 units compared; at least 50 are needed"
    assert judge_trusted(None, 0.8, margin=0.05, units=100).reason == "the judge's agreement is undefined"
    assert not judge_trusted(0.8, None, margin=0.05, units=100).trusted
    with pytest.raises(ValueError, match="margin"):
        judge_trusted(0.8, 0.8, margin=-0.1, units=100)


def test_it_counts_within_one_in_categories_when_given_the_scale() -> None:
    # Humans agree on 1 and 5; the judge says 3 and 5.  On the scale [1, 3, 5] the judge is one
    # category off on unit 1 (within one); in value units it is two off (not within one).
    units, raters, values = [1, 1, 2, 2], [1, 2, 1, 2], [1.0, 1.0, 5.0, 5.0]
    on_scale = judge_vs_humans(units, raters, values, [1, 2], [3.0, 5.0], level="ordinal", categories=[1, 3, 5])
    by_value = judge_vs_humans(units, raters, values, [1, 2], [3.0, 5.0], level="ordinal", bootstrap_draws=0)
    assert on_scale.within_one_accuracy == 1.0
    assert by_value.within_one_accuracy == 0.5
    assert on_scale.confusion.counts == [[0, 1, 0], [0, 0, 0], [0, 0, 1]]
