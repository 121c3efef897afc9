"""Where the truth lies when the judge is wrong: agreement.judge_landing, own_weight_fit and
calibrate_distribution's share of the rest (agreement/calibration_map.py)."""

import numpy as np
import pytest

from agreement import calibrate_distribution, error_weights, judge_landing, label_posterior, own_weight_fit
from agreement.calibration_map import DEFAULT_OWN_WEIGHT

ORDINAL = [1, 2, 3, 4, 5]
PRIOR = [0.10, 0.20, 0.30, 0.25, 0.15]
ERRORS = error_weights(5, "ordinal", 0.25)
SAMPLED_FOUR = [0.0, 0.0, 0.2, 0.8, 0.0]  # five samples, four 4s and a 3: nothing on 1, 2 or 5


def test_the_landing_is_bayes_rule_over_the_raters_errors():
    landing = judge_landing(prior=PRIOR, errors=ERRORS)
    assert np.allclose(landing.sum(axis=1), 1.0) and np.allclose(np.diag(landing), 0.0)
    # A wrong 4 came from a 3 or a 5, in proportion to how common each is and how often it is rated 4.
    assert landing[3, 2] / landing[3, 4] == pytest.approx(PRIOR[2] * ERRORS[2, 3] / (PRIOR[4] * ERRORS[4, 3]))
    assert landing[3, 0] < 0.05  # two points away is rare under a decay of 0.25
    assert int(np.argmax(landing[4])) == 3  # a wrong 5 can only have come from below, mostly a 4


def test_a_sampled_judge_can_be_overruled_by_two_people_only_with_the_landing():
    own = calibrate_distribution(SAMPLED_FOUR, verdict_index=3, calibrated=0.8)
    landing = judge_landing(prior=PRIOR, errors=ERRORS)[3]
    shared = calibrate_distribution(SAMPLED_FOUR, verdict_index=3, calibrated=0.8, landing=landing, own_weight=0.0)
    assert own[3] == shared[3] == pytest.approx(0.8) and shared.sum() == pytest.approx(1.0)
    assert shared[4] == pytest.approx(0.2 * landing[4])
    two_fives = {"points": ORDINAL, "level": "ordinal", "ratings": [5, 5], "rater_accuracy": 0.85}
    # Without the landing 5 has the floor's 1 in 4,000 of the rest: two fives do not move the judge.
    assert ORDINAL[int(np.argmax(label_posterior(prior=own, **two_fives)))] == 4
    assert ORDINAL[int(np.argmax(label_posterior(prior=shared, **two_fives)))] == 5


def test_the_judges_own_share_is_kept_by_default_and_weighed_when_asked():
    dist = [0.05, 0.15, 0.6, 0.2, np.nan]
    landing = judge_landing(prior=PRIOR, errors=ERRORS)[2]
    alone = calibrate_distribution(dist, verdict_index=2, calibrated=0.7)
    assert np.allclose(alone, calibrate_distribution(dist, verdict_index=2, calibrated=0.7, landing=landing))
    half = calibrate_distribution(dist, verdict_index=2, calibrated=0.7, landing=landing, own_weight=0.5)
    none = calibrate_distribution(dist, verdict_index=2, calibrated=0.7, landing=landing, own_weight=0.0)
    assert np.allclose(half, (alone + none) / 2)
    with pytest.raises(ValueError, match="own_weight"):
        calibrate_distribution(dist, verdict_index=2, calibrated=0.7, landing=landing, own_weight=1.5)
    with pytest.raises(ValueError, match="landing"):
        calibrate_distribution(dist, verdict_index=2, calibrated=0.7, landing=[0.5, 0.5], own_weight=0.5)


def _wrong_verdicts(rng, n, *, informative):
    """``n`` wrong verdicts of a judge whose truths land by the rater model; its own distribution
    either names the truth as its second choice (log-probabilities that know) or is five samples
    that all agree (nothing on any other point)."""
    landing = judge_landing(prior=PRIOR, errors=ERRORS)
    dists, verdicts, truths = [], [], []
    for _ in range(n):
        v = int(rng.integers(5))
        t = int(rng.choice(5, p=landing[v]))
        dist = np.full(5, 0.01)
        dist[v] = 0.9
        if informative:
            dist[t] = 0.06
        else:
            dist = np.eye(5)[v]
        dists.append(dist / dist.sum())
        verdicts.append(v)
        truths.append(t)
    return dists, verdicts, truths, landing


def test_the_weight_is_chosen_on_the_wrong_verdicts_of_gold():
    rng = np.random.default_rng(3)
    sampled = _wrong_verdicts(rng, 60, informative=False)
    knowing = _wrong_verdicts(rng, 60, informative=True)
    fit = lambda d, v, t, landing: own_weight_fit(dists=d, verdict_indices=v, truth_indices=t, landing=landing)  # noqa: E731
    assert fit(*sampled) == 0.0  # samples say nothing about where the errors land: the rater model does
    assert fit(*knowing) == 1.0  # a judge whose second choice is the truth: its own share
    right = ([np.eye(5)[2]] * 40, [2] * 40, [2] * 40, sampled[3])
    assert fit(*right) == DEFAULT_OWN_WEIGHT  # no wrong verdict on gold: nothing to weigh, half each
    few = (*(x[:5] for x in knowing[:3]), knowing[3])
    assert fit(*few) == DEFAULT_OWN_WEIGHT
