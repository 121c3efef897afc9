"""A verdict's distribution and confidence, and calibration against gold, worked by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from agreement import calibration, verdict_uncertainty

NAN = math.nan
FIVE = [1, 2, 3, 4, 5]


def test_it_turns_ordinal_samples_into_frequencies_and_one_minus_normalised_dispersion() -> None:
    u = verdict_uncertainty(points=FIVE, level="ordinal", samples=[3, 3, 4, 3, 2])
    assert u.distribution == pytest.approx((0, 0.2, 0.6, 0.2, 0))
    assert u.value == 3  # lower median, as judges.aggregation picks from samples
    # E|X - 3| = 0.2 * 1 + 0.2 * 1 = 0.4 categories; half the range is 2 -> dispersion 0.2.
    assert u.dispersion == pytest.approx(0.2)
    assert u.confidence == pytest.approx(0.8)
    assert u.method == "dispersion"
    assert u.top_probability == pytest.approx(0.6)
    assert u.expected == pytest.approx(3.0)
    assert (u.samples, u.with_probabilities, u.off_scale) == (5, 0, 0.0)


def test_it_gives_nominal_verdicts_the_top_probability() -> None:
    u = verdict_uncertainty(points=[0, 1], level="nominal", samples=[1, 0, 1])
    assert u.distribution == pytest.approx((1 / 3, 2 / 3))
    assert (u.value, u.method) == (1, "top")
    assert u.confidence == pytest.approx(2 / 3)
    assert u.expected == pytest.approx(2 / 3)  # P(1) on a 0/1 scale
    assert u.dispersion is None


def test_it_is_fully_confident_when_every_answer_agrees() -> None:
    for level in ("nominal", "ordinal", "interval"):
        u = verdict_uncertainty(points=FIVE, level=level, samples=[4, 4, 4])
        assert u.confidence == 1.0 and u.value == 4


def test_it_measures_ordinal_dispersion_in_ranks_and_interval_dispersion_in_values() -> None:
    ordinal = verdict_uncertainty(points=[1, 2, 10], level="ordinal", samples=[1, 2])
    interval = verdict_uncertainty(points=[1, 2, 10], level="interval", samples=[1, 2])
    # Ordinal: one rank apart on a range of 2 ranks -> 0.5 * 1 / 1.  Interval: 0.5 * 1 / 4.5.
    assert ordinal.confidence == pytest.approx(0.5)
    assert interval.confidence == pytest.approx(1 - 0.5 / 4.5)
    extremes = verdict_uncertainty(points=[0, 50, 100], level="interval", samples=[0, 100])
    assert extremes.confidence == pytest.approx(0.0)  # half the mass at each end: the most spread


def test_it_spreads_unreported_probability_evenly_but_never_above_the_smallest_reported() -> None:
    # Reported 0.9; the missing 0.1 is shared by the two unreported points (0.05 each, below 0.1).
    u = verdict_uncertainty(points=FIVE, level="ordinal", probabilities=[[NAN, 0.1, 0.6, 0.2, NAN]])
    assert u.distribution == pytest.approx((0.05, 0.1, 0.6, 0.2, 0.05))
    assert u.off_scale == pytest.approx(0.0)
    # Reported 0.72; each of the three unreported is at most 0.02 (top-k reporting): 0.06 on the
    # scale, 0.22 off it; the distribution is renormalised over the 0.78 on the scale.
    u = verdict_uncertainty(points=FIVE, level="nominal", probabilities=[[NAN, NAN, 0.7, 0.02, NAN]])
    assert u.distribution == pytest.approx(tuple(np.array([0.02, 0.02, 0.7, 0.02, 0.02]) / 0.78))
    assert u.off_scale == pytest.approx(0.22)
    assert u.confidence == pytest.approx(0.7 / 0.78)
    assert u.with_probabilities == 1


def test_it_conditions_on_answering_on_the_scale() -> None:
    u = verdict_uncertainty(points=FIVE, level="nominal", probabilities=[[0.1, 0.2, 0.3, 0.2, 0.1]])
    assert u.off_scale == pytest.approx(0.1)
    assert u.distribution == pytest.approx((1 / 9, 2 / 9, 3 / 9, 2 / 9, 1 / 9))


def test_it_averages_answers_with_and_without_probabilities() -> None:
    # The first answer has no probabilities (all its mass on 5); the second reports 4 and 5 evenly.
    u = verdict_uncertainty(points=FIVE, level="ordinal", samples=[5, 4], probabilities=[None, [0, 0, 0, 0.5, 0.5]])
    assert u.distribution == pytest.approx((0, 0, 0, 0.25, 0.75))
    assert u.value == 5
    assert u.confidence == pytest.approx(1 - 0.25 / 2)
    assert u.top_probability == pytest.approx(0.75)


def test_it_scores_the_callers_verdict_when_given() -> None:
    u = verdict_uncertainty(points=[1, 2], level="nominal", samples=[1, 1, 2], verdict=2)
    assert (u.value, u.confidence) == (2, pytest.approx(1 / 3))
    top = verdict_uncertainty(points=FIVE, level="ordinal", samples=[3, 3, 4, 3, 2], method="top")
    assert (top.method, top.confidence) == ("top", pytest.approx(0.6))


def test_it_keeps_its_output_json_safe() -> None:
    out = verdict_uncertainty(points=FIVE, level="ordinal", samples=[2, 3]).as_dict()
    assert all(not isinstance(v, np.generic) for v in out.values())
    assert out["value"] == 2.0 and out["method"] == "dispersion"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": [6]}, "not a point"),
        ({"samples": [], "probabilities": None}, "give samples"),
        ({"probabilities": [[0.5, 0.6, 0, 0, 0]]}, "sum to"),
        ({"probabilities": [[-0.1, 0.5, 0, 0, 0]]}, r"\[0, 1\]"),
        ({"probabilities": [[0.5, 0.5]]}, "one entry per point"),
        ({"samples": [1, 2], "probabilities": [None]}, "one entry per sample"),
        ({"samples": [1], "verdict": 9}, "verdict"),
        ({"samples": [1], "method": "entropy"}, "method"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        verdict_uncertainty(points=FIVE, level="ordinal", **kwargs)


def test_it_refuses_dispersion_on_a_nominal_scale_and_unordered_ordinal_points() -> None:
    with pytest.raises(ValueError, match="ordered scale"):
        verdict_uncertainty(points=[0, 1], level="nominal", samples=[1], method="dispersion")
    with pytest.raises(ValueError, match="increasing"):
        verdict_uncertainty(points=[3, 1, 2], level="ordinal", samples=[1])


def test_it_computes_expected_calibration_error_by_hand() -> None:
    result = calibration([0.1, 0.3, 0.35, 0.9, 0.95], [0, 0, 1, 1, 1], bins=2)
    low, high = result.bins
    assert (low.count, high.count) == (3, 2)
    assert low.mean_confidence == pytest.approx(0.25) and low.accuracy == pytest.approx(1 / 3)
    assert high.mean_confidence == pytest.approx(0.925) and high.accuracy == 1.0
    # (3 * |1/3 - 0.25| + 2 * |1 - 0.925|) / 5 = (0.25 + 0.15) / 5
    assert result.ece == pytest.approx(0.08)
    assert result.max_error == pytest.approx(1 / 12)
    assert result.brier == pytest.approx((0.01 + 0.09 + 0.4225 + 0.01 + 0.0025) / 5)
    assert result.gap == pytest.approx(0.52 - 0.6)
    assert json.loads(json.dumps(result.as_dict()))["bins"][1]["count"] == 2


def test_it_puts_confidence_one_in_the_last_bin_and_reports_empty_bins() -> None:
    result = calibration([1.0, 1.0], [1, 1], bins=4)
    assert [b.count for b in result.bins] == [0, 0, 0, 2]
    assert result.bins[0].accuracy is None and result.ece == 0.0


def test_a_perfectly_calibrated_judge_has_an_ece_near_zero_and_an_overconfident_one_does_not() -> None:
    rng = np.random.default_rng(7)
    conf = rng.random(200_000)
    calibrated = calibration(conf, rng.random(conf.size) < conf)
    assert calibrated.ece < 0.01
    assert abs(calibrated.gap) < 0.01
    # Right with probability conf^2 while claiming conf: E[conf - conf^2] = 1/2 - 1/3.
    overconfident = calibration(conf, rng.random(conf.size) < conf**2)
    assert overconfident.ece == pytest.approx(1 / 6, abs=0.01)
    assert overconfident.gap == pytest.approx(1 / 6, abs=0.01)


def test_quantile_bins_hold_similar_counts() -> None:
    conf = np.random.default_rng(3).beta(8, 2, 1000)
    result = calibration(conf, conf > 0.5, bins=5, strategy="quantile")
    assert [b.count for b in result.bins] == [200] * 5
    assert calibration([], [], bins=3).ece is None


def test_calibration_refuses_confidences_outside_zero_one_and_non_boolean_correctness() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration([1.2], [1])
    with pytest.raises(ValueError, match="booleans"):
        calibration([0.5], [2])
    with pytest.raises(ValueError, match="equal lengths"):
        calibration([0.5, 0.2], [1])
