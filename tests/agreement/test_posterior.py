"""The posterior stopping rule (agreement/posterior.py, posterior_target.py, calibration_map.py,
rater_model.py): worked examples a reader can check by hand, and properties over random inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import (
    CalibrationMap,
    calibrate_distribution,
    calibration_map_fit,
    label_posterior,
    majority_accuracy,
    overlap_next_posterior,
    posterior_target_choose,
    rater_model_fit,
    rating_likelihood,
)

ORDINAL = [1, 2, 3, 4, 5]

scales = st.sampled_from([("nominal", [0, 1]), ("nominal", ["a", "b", "c"]), ("ordinal", ORDINAL)])
accuracies = st.floats(min_value=0.35, max_value=0.99)


def test_it_combines_a_prior_and_one_rating_by_bayes_rule():
    post = label_posterior(points=[0, 1], prior=[0.3, 0.7], ratings=[1], rater_accuracy=0.85)
    assert post[1] == pytest.approx(0.7 * 0.85 / (0.7 * 0.85 + 0.3 * 0.15))


def test_it_settles_two_raters_one_point_apart_on_neither_lower_by_default():
    post = label_posterior(points=ORDINAL, level="ordinal", ratings=[3, 4], rater_accuracy=0.85)
    assert abs(post[2] - post[3]) < 0.05 and post[2] + post[3] > 0.95  # a near tie between the two
    leaning = label_posterior(points=ORDINAL, level="ordinal", prior=[0.1, 0.1, 0.3, 0.4, 0.1], ratings=[3, 4])
    assert int(np.argmax(leaning)) == 3  # the base rate breaks it, towards the higher point here


def test_it_lets_a_more_accurate_rater_break_a_tie():
    post = label_posterior(points=ORDINAL, level="ordinal", ratings=[3, 4], rater_accuracy=[0.95, 0.8])
    assert int(np.argmax(post)) == 2


def test_it_spreads_ordinal_errors_mostly_to_the_neighbours():
    like = rating_likelihood(points=ORDINAL, level="ordinal", value=4, accuracy=0.8)
    # P(rating 4 | label 3) > P(rating 4 | label 2) > P(rating 4 | label 1)
    assert like[3] == pytest.approx(0.8)
    assert like[2] > like[1] > like[0] > 0


@settings(max_examples=200, deadline=None)
@given(scale=scales, accuracy=accuracies)
def test_it_gives_each_label_a_distribution_over_ratings(scale, accuracy):
    level, points = scale
    total = sum(rating_likelihood(points=points, level=level, value=v, accuracy=accuracy) for v in points)
    assert np.allclose(total, 1.0)


@settings(max_examples=200, deadline=None)
@given(scale=scales, data=st.data())
def test_it_returns_a_posterior_that_sums_to_one(scale, data):
    level, points = scale
    k = len(points)
    prior = data.draw(st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=k, max_size=k))
    ratings = data.draw(st.lists(st.sampled_from(points), max_size=6))
    acc = data.draw(st.lists(accuracies, min_size=len(ratings), max_size=len(ratings)))
    post = label_posterior(points=points, level=level, prior=prior, ratings=ratings, rater_accuracy=acc)
    assert post.sum() == pytest.approx(1.0)
    assert np.all(post > 0)


@settings(max_examples=200, deadline=None)
@given(scale=scales, data=st.data())
def test_it_never_lowers_a_label_when_one_more_rater_agrees_with_it(scale, data):
    level, points = scale
    k = len(points)
    judge = data.draw(st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=k, max_size=k))
    ratings = data.draw(st.lists(st.sampled_from(points), max_size=5))
    label = data.draw(st.sampled_from(points))
    # Raters who give the true label more often than any one wrong label (on a 5-point ordinal
    # scale an error lands on the one neighbour of an end point up to 75 % of the time).
    accuracy = data.draw(st.floats(min_value=0.5 if k == 2 else 0.45, max_value=0.99))
    before = label_posterior(points=points, level=level, judge_dist=judge, ratings=ratings, rater_accuracy=accuracy)
    after = label_posterior(
        points=points, level=level, judge_dist=judge, ratings=[*ratings, label], rater_accuracy=accuracy
    )
    at = points.index(label)
    assert after[at] >= before[at] - 1e-12


def test_it_stops_when_a_confident_judge_and_one_human_agree():
    judge = [0.05, 0.9, 0.03, 0.01, 0.01]
    kw = {"points": ORDINAL, "level": "ordinal", "judge_dist": judge, "target": 0.95, "min_overlap": 1}
    first = overlap_next_posterior(**kw, ratings=[], max_overlap=5)
    assert first.action == "rate" and first.label == 2  # the minimum is one human
    agree = overlap_next_posterior(**kw, ratings=[2], max_overlap=5)
    assert agree.action == "settled" and agree.label == 2 and agree.probability >= 0.95
    disagree = overlap_next_posterior(**kw, ratings=[4], max_overlap=5)
    assert disagree.action == "rate"
    capped = overlap_next_posterior(**kw, ratings=[4], max_overlap=1)
    assert capped.action == "exhausted" and capped.label in (2, 4)


def test_it_lets_a_calibrated_judge_decide_alone_only_at_minimum_zero():
    decision = overlap_next_posterior(points=[0, 1], judge_dist=[0.01, 0.99], target=0.95, min_overlap=0, max_overlap=3)
    assert decision.action == "settled" and decision.ratings == 0 and decision.label == 1
    with pytest.raises(ValueError):
        overlap_next_posterior(points=[0, 1], target=1.0, min_overlap=0, max_overlap=3)


def test_it_computes_a_majority_of_three_as_a_textbook_would():
    p = 0.8
    assert majority_accuracy(points=[0, 1], rater_accuracy=p) == pytest.approx(p**3 + 3 * p**2 * (1 - p))


def test_it_calibrates_an_overconfident_judge_on_gold():
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.6, 1.0, 4000)
    correct = rng.random(4000) < conf - 0.15  # claims 15 points more than it gets right
    cmap = calibration_map_fit(confidences=conf, correct=correct)
    assert np.all(np.diff(cmap.values) >= 0)
    assert cmap.apply([0.95])[0] == pytest.approx(0.80, abs=0.05)
    assert cmap.apply([0.7])[0] == pytest.approx(0.55, abs=0.05)
    assert CalibrationMap.from_dict(cmap.as_dict()) == cmap
    hist = calibration_map_fit(confidences=conf, correct=correct, method="histogram", bins=5)
    assert len(hist.values) == 5 and min(hist.values) > 0 and max(hist.values) < 1


@settings(max_examples=100, deadline=None)
@given(
    conf=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_it_never_maps_a_confidence_to_certainty_or_out_of_order(conf, seed):
    correct = np.random.default_rng(seed).random(len(conf)) < 0.7
    cmap = calibration_map_fit(confidences=conf, correct=correct)
    mapped = cmap.apply(sorted(conf))
    assert np.all((mapped > 0) & (mapped < 1))
    assert np.all(np.diff(mapped) >= 0)


def test_it_keeps_every_point_possible_in_a_calibrated_distribution():
    dist = calibrate_distribution([0.97, 0.03, np.nan, np.nan, np.nan], verdict_index=0, calibrated=0.8)
    assert dist.sum() == pytest.approx(1.0)
    assert dist[0] == pytest.approx(0.8)
    assert np.all(dist > 0)


def _simulated(rng, *, items=1500, raters=12, overlap=3):
    truth = rng.choice(2, size=items, p=[0.3, 0.7])
    acc = rng.uniform(0.7, 0.95, size=raters)
    units, who, values = [], [], []
    for i in range(items):
        for r in rng.choice(raters, overlap, replace=False):
            units.append(i)
            who.append(int(r))
            values.append(int(truth[i] if rng.random() < acc[r] else 1 - truth[i]))
    return truth, acc, units, who, values


def test_it_estimates_raters_accuracies_from_their_agreement_alone():
    _truth, acc, units, who, values = _simulated(np.random.default_rng(5))
    model = rater_model_fit(units=units, raters=who, values=values, points=[0, 1])
    fitted = np.array([model.accuracy_of(r) for r in range(len(acc))])
    assert np.abs(fitted - acc).max() < 0.06
    assert model.prior[1] == pytest.approx(0.7, abs=0.04)
    assert model.accuracy_of("someone new") == model.pooled


def test_it_uses_gold_where_there_is_some():
    units, who, values = [1, 1, 2, 2], ["x", "y", "x", "y"], [1, 0, 1, 0]
    # Without gold, x and y are symmetric; gold says y is right.
    model = rater_model_fit(units=units, raters=who, values=values, points=[0, 1], gold={1: 0, 2: 0}, shrinkage=0)
    assert model.accuracy_of("y") > 0.9 > 0.1 > model.accuracy_of("x")


def test_it_chooses_a_target_that_matches_fixed_overlap_three_with_fewer_ratings():
    acc = [0.8, 0.85, 0.9]
    choice = posterior_target_choose(points=[0, 1], rater_accuracies=acc, prior=[0.3, 0.7], simulations=6000)
    assert choice.expected_accuracy >= choice.reference_accuracy
    assert choice.expected_ratings < 3
    stricter = posterior_target_choose(
        points=[0, 1], rater_accuracies=acc, prior=[0.3, 0.7], accuracy=0.99, simulations=6000
    )
    assert stricter.target > choice.target and stricter.expected_ratings > choice.expected_ratings


def test_it_needs_no_human_when_the_judge_is_certain_and_may_decide_alone():
    sure = np.tile([0.001, 0.999], (50, 1))
    choice = posterior_target_choose(points=[0, 1], rater_accuracies=[0.85], judge_dists=sure, min_overlap=0)
    assert choice.expected_ratings == 0
