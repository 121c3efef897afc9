"""Per-annotator diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agreement import rater_agreement, reliability_matrix_to_long
from tests.agreement.helpers import KRIPPENDORFF_2011, reference_alpha


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_it_recomputes_alpha_without_each_rater(level: str) -> None:
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    report = rater_agreement(units, raters, values, level=level)
    assert report.alpha.alpha == pytest.approx(reference_alpha(KRIPPENDORFF_2011, level), abs=1e-12)
    assert [r.rater for r in report.raters] == [0, 1, 2, 3]
    for row, entry in enumerate(report.raters):
        expected = reference_alpha(np.delete(KRIPPENDORFF_2011, row, axis=0), level)
        assert entry.alpha_without.alpha == pytest.approx(expected, abs=1e-12)
        assert entry.alpha_change == pytest.approx(expected - report.alpha.alpha, abs=1e-12)
        assert entry.ratings == int((~np.isnan(KRIPPENDORFF_2011[row])).sum())


NOMINAL = {  # unit: {rater: value}
    1: {10: 1, 20: 1, 30: 2},
    2: {10: 1, 20: 2, 30: 3},
    3: {10: 1, 20: 1, 30: 1, 40: 2},
    4: {10: 2, 40: 2},
    5: {30: 3},
}


def _long(table: dict[int, dict[int, float]]) -> tuple[list[int], list[int], list[float]]:
    rows = [(u, r, v) for u, by_rater in table.items() for r, v in by_rater.items()]
    units, raters, values = zip(*rows, strict=True)
    return list(units), list(raters), list(values)


def test_it_compares_each_rater_with_the_majority_of_the_others() -> None:
    report = rater_agreement(*_long(NOMINAL), level="nominal")
    by_rater = {r.rater: r for r in report.raters}
    # Rater 10: units 1 and 2 have tied others (no consensus); units 3 and 4 match.
    assert (by_rater[10].units_compared, by_rater[10].units_with_consensus) == (4, 2)
    assert by_rater[10].exact_match_rate == 1.0
    # Rater 20: only unit 3 has a majority among the others (1, 1, 2 -> 1), which it matches.
    assert (by_rater[20].units_compared, by_rater[20].units_with_consensus) == (3, 1)
    assert by_rater[20].exact_match_rate == 1.0
    # Rater 30: unit 1 (others 1, 1; own 2) misses, unit 3 matches, unit 2 tied, unit 5 unpaired.
    assert (by_rater[30].units_compared, by_rater[30].units_with_consensus) == (3, 2)
    assert by_rater[30].exact_match_rate == 0.5
    # Rater 40: unit 3 (others all 1; own 2) misses, unit 4 (other 2) matches.
    assert (by_rater[40].units_compared, by_rater[40].units_with_consensus) == (2, 2)
    assert by_rater[40].exact_match_rate == 0.5
    assert all(r.mean_absolute_deviation is None for r in report.raters)


NUMERIC = {1: {1: 1, 2: 2, 3: 4}, 2: {1: 3, 2: 3, 3: 3}, 3: {1: 1, 2: 5}}


def test_it_compares_each_rater_with_the_median_of_the_others_on_an_ordinal_scale() -> None:
    by_rater = {r.rater: r for r in rater_agreement(*_long(NUMERIC), level="ordinal").raters}
    # Rater 1: unit 1 others 2, 4 (two middle values differ: no single category, median 3);
    # unit 2 others 3, 3 -> match; unit 3 other 5 -> miss.  |1-3| + 0 + |1-5| = 6 over 3 units.
    assert (by_rater[1].units_compared, by_rater[1].units_with_consensus) == (3, 2)
    assert by_rater[1].exact_match_rate == 0.5
    assert by_rater[1].mean_absolute_deviation == pytest.approx(2.0)
    # Rater 2: unit 1 others 1, 4 (median 2.5, no single); unit 2 match; unit 3 other 1 -> miss.
    assert by_rater[2].exact_match_rate == 0.5
    assert by_rater[2].mean_absolute_deviation == pytest.approx((0.5 + 0 + 4) / 3)
    # Rater 3: unit 1 others 1, 2 (median 1.5); unit 2 match.
    assert (by_rater[3].units_compared, by_rater[3].units_with_consensus) == (2, 1)
    assert by_rater[3].exact_match_rate == 1.0
    assert by_rater[3].mean_absolute_deviation == pytest.approx(1.25)


def test_it_uses_the_numeric_median_on_an_interval_scale() -> None:
    by_rater = {r.rater: r for r in rater_agreement(*_long(NUMERIC), level="interval").raters}
    # Every compared unit has a numeric median; rater 1 matches only unit 2.
    assert (by_rater[1].units_compared, by_rater[1].units_with_consensus) == (3, 3)
    assert by_rater[1].exact_match_rate == pytest.approx(1 / 3)
    assert by_rater[1].mean_absolute_deviation == pytest.approx(2.0)


def test_it_reports_raters_with_nothing_to_compare() -> None:
    report = rater_agreement([1, 1, 2], [1, 2, 3], [1.0, 2.0, 5.0], level="interval")
    lonely = next(r for r in report.raters if r.rater == 3)
    assert lonely.units_compared == 0
    assert lonely.exact_match_rate is None
    assert lonely.mean_absolute_deviation is None
    # Removing rater 1 leaves no unit with two ratings.
    first = next(r for r in report.raters if r.rater == 1)
    assert first.alpha_without.alpha is None
    assert first.alpha_change is None
    json.dumps(report.as_dict(), allow_nan=False)
