"""Judge-first routing: exact bounds, the threshold on constructed gold, queue order, slices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agreement import gold_accuracy, proportion, queue_order, slice_audit, threshold_choose
from agreement._binomial import lower_bound, lower_bounds, normal_quantile
from agreement.triage import start_count


def test_clopper_pearson_bounds_match_published_values() -> None:
    # 95 % two-sided for 5 of 10: [0.1871, 0.8129]; for 0 of 10 the upper bound is 1 - 0.025^(1/10).
    assert proportion(5, 10).ci == pytest.approx((0.18709, 0.81291), abs=1e-5)
    assert proportion(0, 10).ci == pytest.approx((0.0, 1 - 0.025**0.1))
    # One-sided 95 % lower bound of n successes in n trials: 0.05^(1/n).
    assert lower_bound(100, 100, 0.05) == pytest.approx(0.05**0.01)
    assert lower_bounds(np.array([0, 3, 50]), np.array([5, 10, 100]), 0.025) == pytest.approx(
        [0.0, 0.066739, 0.398321], abs=1e-6
    )
    assert normal_quantile(0.95) == pytest.approx(1.959964)
    assert proportion(0, 0).value is None


def test_bounds_for_many_pairs_match_one_at_a_time_and_the_normal_limit() -> None:
    k = np.array([1, 7, 400, 9_000, 18_000, 3, 50_000])
    n = np.array([1, 10, 500, 10_000, 20_000, 3, 50_000])
    together = lower_bounds(k, n, 0.05)
    assert together == pytest.approx([lower_bound(int(a), int(b), 0.05) for a, b in zip(k, n, strict=True)])
    # Far from 0 and 1 with many trials, the exact bound meets the normal one: 0.9 - 1.645 sd.
    assert together[4] == pytest.approx(0.9 - 1.644854 * np.sqrt(0.9 * 0.1 / 20_000), abs=2e-4)
    assert together[6] == pytest.approx(0.05 ** (1 / 50_000))


def test_gold_accuracy_counts_matches_and_skips_missing_pairs() -> None:
    acc = gold_accuracy([1, 2, 3, np.nan, 5], [1, 2, 4, 4, np.nan])
    assert (acc.successes, acc.total, acc.value) == (2, 3, pytest.approx(2 / 3))
    assert acc.ci is not None and acc.ci[0] < 2 / 3 < acc.ci[1]


def _gold(groups: list[tuple[float, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Gold verdicts as (confidence, items, correct) groups."""
    conf = np.concatenate([np.full(n, c) for c, n, _ in groups])
    correct = np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for _, n, k in groups])
    return conf, correct


def test_it_keeps_the_confident_half_when_only_that_half_clears_the_bar() -> None:
    conf, correct = _gold([(0.9, 100, 100), (0.6, 100, 50)])
    choice = threshold_choose(conf, correct, target=0.9, min_kept=50)
    assert choice.threshold == 0.9
    assert choice.kept_share == 0.5 and choice.accuracy == 1.0
    assert choice.lower == pytest.approx(0.05**0.01)  # 100 of 100, one-sided 95 %
    assert [(p.kept, p.passes) for p in choice.curve] == [(100, True), (200, False)]
    assert choice.curve[1].accuracy == pytest.approx(0.75)
    assert choice.tested == 2 and choice.reason is None
    assert json.loads(json.dumps(choice.as_dict()))["curve"][0] == {
        "threshold": 0.9,
        "kept": 100,
        "kept_share": 0.5,
        "accuracy": 1.0,
        "lower": choice.lower,
        "passes": True,
    }


def test_it_keeps_nothing_when_no_threshold_reaches_the_bar() -> None:
    conf, correct = _gold([(0.9, 100, 100), (0.6, 100, 50)])
    choice = threshold_choose(conf, correct, target=0.98)  # 100/100 only supports 0.970
    assert choice.threshold is None and choice.kept_share == 0.0
    assert "do not reach 0.980" in str(choice.reason)


def test_it_stops_at_the_first_failure_even_if_a_lower_threshold_would_pass() -> None:
    # The most confident 100 are 85 % right (fail); with the next 400 perfect ones, the 500 kept
    # at 0.9 are 97 % right and their bound passes, but testing stopped at the first failure.
    conf, correct = _gold([(0.99, 100, 85), (0.9, 400, 400)])
    choice = threshold_choose(conf, correct, target=0.9, min_kept=100)
    assert choice.threshold is None and choice.tested == 1
    assert choice.curve[1].lower > 0.9 and not choice.curve[1].passes


def test_its_default_start_can_absorb_two_errors() -> None:
    assert start_count(0.95, 0.95) == 124
    assert lower_bound(122, 124, 0.05) >= 0.95 > lower_bound(121, 123, 0.05)
    # Fewer gold items than the start count: the whole set is the one candidate.
    conf, correct = _gold([(0.9, 40, 40)])
    assert [p.kept for p in threshold_choose(conf, correct, target=0.95).curve] == [40]


def test_the_chosen_thresholds_accuracy_falls_short_of_the_bar_rarely() -> None:
    # Confidence uniform on [0, 1] and right with that probability: the accuracy above t is
    # (1 + t) / 2, so a target of 0.8 is met exactly for t >= 0.6.
    rng = np.random.default_rng(11)
    short = chosen = 0
    for _ in range(300):
        conf = rng.random(400)
        choice = threshold_choose(conf, rng.random(400) < conf, target=0.8, max_candidates=40)
        if choice.threshold is not None:
            chosen += 1
            short += choice.threshold < 0.6
    assert chosen > 100
    assert short / 300 <= 0.05 + 0.03  # at most 1 - ci_level, plus simulation noise


def test_threshold_choose_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        threshold_choose([0.5], [1, 0], target=0.9)
    with pytest.raises(ValueError, match="booleans"):
        threshold_choose([0.5], [0.5], target=0.9)
    with pytest.raises(ValueError, match="target"):
        threshold_choose([0.5], [1], target=1.5)
    with pytest.raises(ValueError, match="no finite gold set"):
        threshold_choose([0.5], [1], target=1.0)
    assert threshold_choose([], [], target=0.9).reason == "no gold items"


def test_the_queue_serves_the_least_confident_first_ties_by_id() -> None:
    assert queue_order([5, 3, 9, 1], [0.9, 0.2, 0.2, 0.5]).tolist() == [3, 9, 1, 5]
    with pytest.raises(ValueError, match="NaN"):
        queue_order([1], [np.nan])


def test_a_confidently_wrong_slice_is_flagged_and_calibrated_ones_are_not() -> None:
    slices = ["news"] * 50 + ["code"] * 50 + ["chat"] * 50
    correct = np.r_[np.ones(45), np.zeros(5), np.ones(5), np.zeros(45), np.ones(40), np.zeros(10)]
    conf = np.r_[np.full(50, 0.9), np.full(50, 0.95), np.full(50, 0.8)]
    report = slice_audit(slices, correct, conf, target=0.85)
    assert [s.slice for s in report] == ["code", "chat", "news"]  # largest gap first
    code, chat, news = report
    assert code.overconfident and code.below_target
    # Held against what its 0.95 means on the other slices (right on 45 of 50 at 0.9, the most
    # any confidence there earned: 46 / 52 after smoothing), not against 0.95 itself.
    assert code.expected_accuracy == pytest.approx(46 / 52) and code.mean_confidence == pytest.approx(0.95)
    assert code.gap == pytest.approx(46 / 52 - 0.1)
    assert not news.overconfident and not news.below_target
    assert not chat.overconfident
    # Three slices: each interval is at 1 - 0.05 / 3.
    assert code.accuracy.ci_level == pytest.approx(1 - 0.05 / 3)
    assert json.loads(json.dumps([s.as_dict() for s in report]))[0]["slice"] == "code"
    assert slice_audit([], [], []) == ()


def test_calibrated_slices_are_rarely_flagged() -> None:
    rng = np.random.default_rng(5)
    flagged = 0
    for _ in range(200):
        conf = rng.uniform(0.6, 1.0, 400)
        slices = rng.integers(0, 5, 400).tolist()
        flagged += any(s.overconfident for s in slice_audit(slices, rng.random(400) < conf, conf))
    assert flagged / 200 <= 0.08


def test_a_judge_overconfident_everywhere_flags_no_slice_but_one_worse_than_the_rest() -> None:
    """Raw confidences of 0.95 that earn 0.85 everywhere are the calibration's business, not a
    slice's: only the slice where the judge is worse than elsewhere at the same confidence."""
    rng = np.random.default_rng(11)
    slices = np.repeat(["forum", "news", "code", "reviews", "legal"], 300)
    conf = rng.uniform(0.9, 0.99, slices.size)
    right = rng.random(slices.size) < np.where(slices == "legal", 0.3, 0.85)
    report = {s.slice: s for s in slice_audit(slices.tolist(), right, conf)}
    assert [name for name, s in report.items() if s.overconfident] == ["legal"]
    assert all(s.accuracy.ci[1] < s.mean_confidence for s in report.values()), "each below its raw confidence"
    assert report["news"].expected_accuracy < 0.8, "news held against the others, legal's errors included"
