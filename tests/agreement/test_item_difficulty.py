"""The item-difficulty model of the posterior rule (agreement/rater_model.py: a shared slope of
raters' logit accuracy on an observed difficulty covariate; posterior_target.py: the target
simulated with it): recovering known parameters from synthetic data, and monotonicity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import (
    RaterModel,
    calibration_map_fit,
    difficulty_covariate,
    judge_alone_choose,
    posterior_target_choose,
    rater_model_fit,
    shifted_accuracy,
)


def _logistic(x):
    return 1 / (1 + np.exp(-x))


def _world(rng, *, slope, items=3000, raters=20, overlap=3, gold_share=0.0, kind="binary"):
    """Items with a covariate z; rater r is right with logit theta_r + slope (z - mean z)."""
    k = 2 if kind == "binary" else 5
    truth = rng.integers(0, k, size=items)
    z = rng.normal(1.5, 1.2, size=items)  # like the logit of a judge's confidence
    theta = rng.uniform(1.0, 2.5, size=raters)
    units, who, values = [], [], []
    for i in range(items):
        for r in rng.choice(raters, overlap, replace=False):
            right = rng.random() < _logistic(theta[r] + slope * (z[i] - z.mean()))
            if right:
                v = truth[i]
            elif kind == "binary":
                v = 1 - truth[i]
            else:
                v = int(np.clip(truth[i] + rng.choice([-1, 1]), 0, k - 1))
                v = v if v != truth[i] else truth[i] - 1 if truth[i] > 0 else truth[i] + 1
            units.append(i)
            who.append(int(r))
            values.append(int(v))
    gold = {i: int(truth[i]) for i in range(int(gold_share * items))}
    return truth, z, theta, units, who, values, gold


@pytest.mark.parametrize("slope", [0.0, 0.4, 0.8])
def test_it_recovers_a_known_difficulty_slope_and_raters_accuracies(slope):
    rng = np.random.default_rng(int(slope * 10) + 3)
    _truth, z, theta, units, who, values, gold = _world(rng, slope=slope, gold_share=0.1)
    model = rater_model_fit(units=units, raters=who, values=values, points=[0, 1], gold=gold,
                            covariates={i: float(c) for i, c in enumerate(z)})  # fmt: skip
    assert model.difficulty_slope == pytest.approx(slope, abs=0.12)
    assert model.covariate_center == pytest.approx(z.mean(), abs=0.05)
    fitted = np.array([model.accuracy_of(r) for r in range(theta.size)])
    assert np.abs(fitted - _logistic(theta)).max() < 0.07


def test_it_recovers_the_slope_on_an_ordinal_scale_too():
    rng = np.random.default_rng(11)
    *_, z, _theta, units, who, values, gold = _world(rng, slope=0.6, kind="ordinal", gold_share=0.1)
    model = rater_model_fit(units=units, raters=who, values=values, points=[0, 1, 2, 3, 4], level="ordinal",
                            gold=gold, covariates={i: float(c) for i, c in enumerate(z)})  # fmt: skip
    assert model.difficulty_slope == pytest.approx(0.6, abs=0.15)


def test_it_fits_exactly_the_old_model_without_covariates():
    rng = np.random.default_rng(4)
    _truth, _z, _theta, units, who, values, _gold = _world(rng, slope=0.5, items=500)
    plain = rater_model_fit(units=units, raters=who, values=values, points=[0, 1])
    assert plain.difficulty_slope == 0.0 and plain.covariate_center == 0.0
    assert plain.accuracy_of(3, covariate=5.0) == plain.accuracy_of(3)


def test_it_keeps_the_slope_near_zero_on_a_handful_of_ratings():
    # Four disagreeing ratings cannot say how difficulty moves accuracy: the prior holds the slope.
    model = rater_model_fit(units=[1, 1, 2, 2], raters=["x", "y", "x", "y"], values=[1, 0, 1, 1], points=[0, 1],
                            covariates={1: -2.0, 2: 4.0})  # fmt: skip
    assert abs(model.difficulty_slope) < 0.3


def test_it_makes_raters_more_accurate_where_the_judge_is_surer():
    model = RaterModel(points=(0, 1), level="nominal", prior=(0.5, 0.5), pooled=0.85, error_decay=1.0,
                       accuracy={"x": 0.85}, difficulty_slope=0.3, covariate_center=2.0)  # fmt: skip
    sure = [model.accuracy_of("x", difficulty_covariate(c)) for c in (0.55, 0.7, 0.9, 0.99)]
    assert sure == sorted(sure) and sure[0] < 0.85 < sure[-1]
    assert model.accuracy_of("x", None) == 0.85 == model.accuracy_of("x", 2.0)
    assert model.as_dict()["difficulty_slope"] == 0.3


@settings(max_examples=60, deadline=None)
@given(st.floats(0.06, 0.99), st.floats(-3, 3), st.floats(0, 3))
def test_it_shifts_accuracy_monotonically_and_within_range(accuracy, shift, more):
    low, high = shifted_accuracy(accuracy, shift), shifted_accuracy(accuracy, shift + more)
    assert 0.05 <= low <= high <= 0.995
    assert shifted_accuracy(accuracy, 0.0) == accuracy


def test_it_reads_the_covariate_as_the_logit_of_the_confidence():
    assert difficulty_covariate(0.5) == pytest.approx(0.0)
    assert difficulty_covariate(0.9) == pytest.approx(np.log(9))
    assert difficulty_covariate(1.0) == pytest.approx(np.log(999))
    assert difficulty_covariate(None) is None and difficulty_covariate(float("nan")) is None


def test_it_chooses_a_higher_target_and_asks_for_more_where_items_are_harder():
    dists = np.tile([0.3, 0.7], (200, 1))
    common = {"points": [0, 1], "rater_accuracies": [0.85], "judge_dists": dists, "simulations": 6000,
              "accuracy": 0.93}  # fmt: skip
    easy = posterior_target_choose(**common, accuracy_shift=np.full(200, 1.0))
    typical = posterior_target_choose(**common)
    hard = posterior_target_choose(**common, accuracy_shift=np.full(200, -1.0))
    assert easy.expected_ratings < typical.expected_ratings < hard.expected_ratings


def test_it_prices_fixed_overlap_lower_when_difficulty_varies():
    # Majority of three is concave in accuracy where raters are good: the same mean accuracy spread
    # over easy and hard items gives fixed overlap 3 a lower reference than one accuracy for all.
    dists = np.tile([0.5, 0.5], (200, 1))
    common = {"points": [0, 1], "rater_accuracies": [0.85], "judge_dists": dists, "simulations": 20000}
    even = posterior_target_choose(**common)
    spread = posterior_target_choose(**common, accuracy_shift=np.r_[np.full(100, 1.5), np.full(100, -1.5)])
    assert spread.reference_accuracy < even.reference_accuracy - 0.01


def _gold(rng, confidences, accuracy_at):
    conf = rng.choice(confidences, size=400)
    return conf, rng.random(400) < np.vectorize(accuracy_at.get)(conf)


def test_the_judge_decides_alone_only_where_gold_shows_it_reaches_the_raised_target():
    rng = np.random.default_rng(2)
    calibrated = np.r_[np.full(100, 0.995), np.full(100, 0.6)]
    dists = np.c_[1 - calibrated, calibrated]
    gold_c, gold_ok = _gold(rng, [0.995, 0.6], {0.995: 0.995, 0.6: 0.6})
    common = {"points": [0, 1], "rater_accuracies": [0.85], "judge_dists": dists, "calibrated": calibrated}
    alone = judge_alone_choose(gold_calibrated=gold_c, gold_correct=gold_ok, **common)
    assert alone.threshold == pytest.approx(0.995)
    assert alone.choice.expected_ratings < alone.without.expected_ratings
    assert alone.choice.target >= alone.without.target, "the judge's errors alone are made up on the rated items"
    assert alone.choice.expected_accuracy >= alone.choice.reference_accuracy


def test_the_judge_never_decides_alone_where_gold_shows_it_below_the_target():
    # Raters 0.95 accurate: fixed overlap 3 is about 0.99 accurate, so the target is high, and gold
    # shows the judge's best verdicts right 85 % of the time: never alone, whatever else.
    rng = np.random.default_rng(3)
    gold_raw, gold_ok = _gold(rng, [0.99, 0.7], {0.99: 0.85, 0.7: 0.6})
    cmap = calibration_map_fit(confidences=gold_raw, correct=gold_ok)
    calibrated = cmap.apply(np.r_[np.full(100, 0.99), np.full(100, 0.7)])
    alone = judge_alone_choose(gold_calibrated=cmap.apply(gold_raw), gold_correct=gold_ok, points=[0, 1],
                               rater_accuracies=[0.95], judge_dists=np.c_[1 - calibrated, calibrated],
                               calibrated=calibrated)  # fmt: skip
    assert calibrated.max() < 0.9 and alone.threshold is None and alone.choice == alone.without


def test_a_judge_no_surer_than_one_person_is_never_left_alone():
    rng = np.random.default_rng(4)
    calibrated = np.full(200, 0.8)
    gold_c, gold_ok = _gold(rng, [0.8], {0.8: 0.8})
    alone = judge_alone_choose(gold_calibrated=gold_c, gold_correct=gold_ok, points=[0, 1], rater_accuracies=[0.9],
                               judge_dists=np.c_[1 - calibrated, calibrated], calibrated=calibrated)  # fmt: skip
    assert alone.threshold is None
