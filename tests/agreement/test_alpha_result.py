"""Alpha's result object, undefined cases and input validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

import agreement
from agreement import reliability_matrix_to_long
from tests.agreement.helpers import KRIPPENDORFF_2011

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@pytest.mark.parametrize("level", LEVELS)
def test_it_reports_no_ratings(level: str) -> None:
    result = agreement.alpha([], [], [], level=level)
    assert result.alpha is None
    assert result.reason == "no ratings"
    assert result.ci is None
    assert result.pairable_units == 0


@pytest.mark.parametrize("level", LEVELS)
def test_it_reports_when_no_unit_has_two_ratings(level: str) -> None:
    result = agreement.alpha([1, 2, 3], [1, 1, 2], [1.0, 2.0, 3.0], level=level)
    assert result.alpha is None
    assert result.reason == "no unit has two or more ratings"
    assert result.observed_disagreement is None


@pytest.mark.parametrize("level", LEVELS)
def test_it_reports_no_variation_instead_of_nan_or_one(level: str) -> None:
    # Unit 3's lone 5 is not pairable, so every pairable rating is 4.
    result = agreement.alpha([1, 1, 2, 2, 3], [1, 2, 1, 2, 1], [4.0, 4.0, 4.0, 4.0, 5.0], level=level)
    assert result.alpha is None
    assert result.reason == "no variation: every rating has the same value"
    assert result.observed_disagreement == 0.0
    assert result.expected_disagreement == 0.0
    assert result.pairable_units == 2
    assert result.pairable_values == 4


def test_it_reports_ratio_data_whose_differences_all_vanish() -> None:
    # krippendorff defines ((a - b) / (a + b))^2 as 0 when a + b = 0, so -1 and 1 never differ.
    result = agreement.alpha([1, 1, 2, 2], [1, 2, 1, 2], [-1.0, 1.0, 1.0, -1.0], level="ratio")
    assert result.alpha is None
    assert result.reason.startswith("no expected disagreement")


@pytest.mark.parametrize("level", LEVELS)
def test_it_gives_exactly_one_for_perfect_agreement(level: str) -> None:
    units = np.repeat(np.arange(50), 3)
    values = np.repeat(np.linspace(0.1, 9.7, 50), 3)  # non-representable floats, all raters agree
    result = agreement.alpha(units, np.tile([1, 2, 3], 50), values, level=level, bootstrap_draws=200)
    assert result.alpha == 1.0
    assert result.observed_disagreement == 0.0
    assert result.ci == (1.0, 1.0)


def test_it_reports_the_disagreements_of_the_worked_example() -> None:
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    result = agreement.alpha(units, raters, values, level="nominal", bootstrap_draws=0)
    # Krippendorff (2011) works this example by hand: 11 pairable units, n = 40 pairable
    # values with marginals n_c = (9, 13, 10, 5, 3) and 32 of the 40 coincidences on the
    # diagonal.  So D_o = 8 / 40 and D_e = (40^2 - sum n_c^2) / (40 * 39) = 1216 / 1560.
    assert result.pairable_units == 11
    assert result.pairable_values == 40
    assert result.observed_disagreement == pytest.approx(8 / 40, abs=1e-15)
    assert result.expected_disagreement == pytest.approx(1216 / 1560, abs=1e-15)
    assert result.alpha == pytest.approx(1 - (8 / 40) / (1216 / 1560), abs=1e-15)


def test_it_serialises_to_strict_json() -> None:
    units, raters, values = reliability_matrix_to_long(KRIPPENDORFF_2011)
    defined = agreement.alpha(units, raters, values, level="interval", bootstrap_draws=100).as_dict()
    undefined = agreement.alpha([1, 1], [1, 2], [3.0, 3.0], level="interval").as_dict()
    text = json.dumps([defined, undefined], allow_nan=False)
    back = json.loads(text)
    assert back[0]["alpha"] == pytest.approx(0.849, abs=5e-4)
    assert len(back[0]["ci"]) == 2
    assert back[0]["ci_draws"] == 100
    assert back[1]["alpha"] is None
    assert back[1]["reason"].startswith("no variation")


def test_it_is_a_frozen_dataclass() -> None:
    result = agreement.alpha([1, 1], [1, 2], [1.0, 2.0], level="interval", bootstrap_draws=0)
    with pytest.raises(AttributeError):
        result.alpha = 0.5  # type: ignore[misc]


def test_it_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        agreement.alpha([1, 1], [1, 2], [1.0, 2.0], level="cardinal")  # type: ignore[arg-type]


def test_it_rejects_arrays_of_different_length() -> None:
    with pytest.raises(ValueError, match="equal length"):
        agreement.alpha([1, 1, 2], [1, 2], [1.0, 2.0], level="nominal")


def test_it_rejects_two_ratings_by_one_rater_of_one_unit() -> None:
    with pytest.raises(ValueError, match="more than once"):
        agreement.alpha([1, 1, 1], [7, 8, 7], [1.0, 2.0, 3.0], level="nominal")


def test_it_rejects_infinite_values_and_non_integer_ids() -> None:
    with pytest.raises(ValueError, match="finite"):
        agreement.alpha([1, 1], [1, 2], [1.0, np.inf], level="interval")
    with pytest.raises(TypeError, match="integer ids"):
        agreement.alpha([1.5, 1.5], [1, 2], [1.0, 2.0], level="interval")


def test_it_rejects_bad_bootstrap_settings() -> None:
    with pytest.raises(ValueError, match="bootstrap_draws"):
        agreement.alpha([1, 1], [1, 2], [1.0, 2.0], level="interval", bootstrap_draws=-1)
    with pytest.raises(ValueError, match="ci_level"):
        agreement.alpha([1, 1], [1, 2], [1.0, 2.0], level="interval", ci_level=1.0)


def test_it_does_not_import_django() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(agreement.__file__).resolve().parent.parent
    code = "import sys, agreement, agreement.judge, agreement.raters; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"
