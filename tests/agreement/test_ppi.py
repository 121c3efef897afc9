"""Prediction-powered estimates of a dataset's mean label, and the audit sample."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from agreement import audit_keys, audit_prefix, audit_sample, mean_estimates


def test_it_works_a_small_dataset_by_hand() -> None:
    # Eight items; the judge says [1, 0, 0, 0] on the four audited ones and [1, 1, 0, 0] elsewhere.
    ids = np.arange(1, 9)
    predictions = [1, 0, 0, 0, 1, 1, 0, 0]
    result = mean_estimates(item_ids=ids, predictions=predictions, audit_ids=[1, 2, 3, 4], audit_labels=[1, 1, 0, 0])
    assert (result.items, result.audited, result.target) == (8, 4, "dataset")
    fpc = 1 - 4 / 8
    # Human only: mean 1/2, s^2 = 1/3.
    assert result.human.estimate == pytest.approx(0.5)
    assert result.human.std_error == pytest.approx(math.sqrt(fpc * (1 / 3) / 4))
    # PPI: mean_N(f) = 3/8, mean_n(Y - f) = 1/4; s^2(Y - f) over [0, 1, 0, 0] = 1/4.
    assert result.ppi.estimate == pytest.approx(3 / 8 + 1 / 4)
    assert result.ppi.std_error == pytest.approx(math.sqrt(fpc * 0.25 / 4))
    # PPI++: cov(Y, f) = 1/6, var(f) = 1/4 -> lambda = 2/3; Y - 2/3 f = [1/3, 1, 0, 0].
    assert result.ppi_plus.lam == pytest.approx(2 / 3)
    assert result.ppi_plus.estimate == pytest.approx(2 / 3 * 3 / 8 + 1 / 3)
    assert result.ppi_plus.std_error == pytest.approx(1 / 6)  # sqrt(0.5 * (2/9) / 4)
    z = 1.959964
    assert result.ppi_plus.ci == pytest.approx((result.ppi_plus.estimate - z / 6, result.ppi_plus.estimate + z / 6))
    # Judge only: the mean of f with the interval one would draw if f were the truth.
    assert result.judge.estimate == pytest.approx(3 / 8)
    assert result.judge.std_error == pytest.approx(np.std(predictions, ddof=1) / math.sqrt(8))
    out = json.loads(json.dumps(result.as_dict()))
    assert [e["method"] for e in out["estimates"]] == ["ppi++", "ppi", "human", "judge"]


def test_a_judge_anticorrelated_with_the_labels_gets_no_weight() -> None:
    result = mean_estimates(
        item_ids=[1, 2, 3, 4, 5, 6], predictions=[1, 0, 1, 1, 0, 1], audit_ids=[1, 2, 3], audit_labels=[1, 1, 0]
    )
    assert result.ppi_plus.lam == 0.0
    assert result.ppi_plus.estimate == result.human.estimate == pytest.approx(2 / 3)
    assert result.ppi_plus.ci == result.human.ci


def _world(rng: np.random.Generator, n_items: int, judge_error: float, skew: float = 0.0) -> tuple[np.ndarray, ...]:
    """Binary truth (70 % accepted) and a judge wrong on ``judge_error`` of items, saying 1 on ``skew`` more."""
    truth = (rng.random(n_items) < 0.7).astype(float)
    judge = np.where(rng.random(n_items) < judge_error, 1 - truth, truth)
    judge = np.where(rng.random(n_items) < skew, 1.0, judge)
    return truth, judge


def test_a_perfect_judge_gives_the_judges_estimate_with_a_zero_width_interval() -> None:
    rng = np.random.default_rng(1)
    truth, _ = _world(rng, 1000, 0.0)
    ids = np.arange(1000)
    audit = audit_sample(ids, size=100, seed=3)
    result = mean_estimates(item_ids=ids, predictions=truth, audit_ids=audit, audit_labels=truth[audit])
    assert result.ppi.estimate == pytest.approx(result.judge.estimate) == pytest.approx(truth.mean())
    assert result.ppi.width == pytest.approx(0.0) and result.ppi_plus.width == pytest.approx(0.0)
    assert result.ppi_plus.lam == pytest.approx(1.0)
    assert result.human.width > 0.1


def test_with_a_useless_judge_ppi_plus_falls_back_to_the_human_interval() -> None:
    rng = np.random.default_rng(2)
    ratios, ppi_ratios = [], []
    for seed in range(50):
        truth, _ = _world(rng, 2000, 0.0)
        noise = rng.random(2000)  # predictions unrelated to the labels
        ids = np.arange(2000)
        audit = audit_sample(ids, size=200, seed=seed)
        result = mean_estimates(item_ids=ids, predictions=noise, audit_ids=audit, audit_labels=truth[audit])
        assert result.ppi_plus.width <= result.human.width + 1e-12  # tuned on the audit: never wider
        ratios.append(result.ppi_plus.width / result.human.width)
        ppi_ratios.append(result.ppi.width / result.human.width)
    assert np.mean(ratios) > 0.98  # only the noise in lambda's estimate separates them
    assert np.mean(ppi_ratios) > 1.05  # plain PPI pays for a useless judge


def test_the_intervals_cover_the_dataset_mean_on_a_simulated_batch() -> None:
    rng = np.random.default_rng(3)
    covered = {"ppi": 0, "ppi++": 0, "human": 0, "judge": 0}
    narrower = 0
    runs = 400
    for seed in range(runs):
        truth, judge = _world(rng, 1000, 0.1, skew=0.3)  # a biased judge: says 1 too often
        ids = np.arange(5000, 6000)
        audit = audit_sample(ids, size=100, seed=seed)
        result = mean_estimates(item_ids=ids, predictions=judge, audit_ids=audit, audit_labels=truth[audit - 5000])
        for estimate in (result.ppi, result.ppi_plus, result.human, result.judge):
            assert estimate.ci is not None
            covered[estimate.method] += estimate.ci[0] <= truth.mean() <= estimate.ci[1]
        narrower += result.ppi_plus.width < result.human.width
    assert covered["ppi"] / runs >= 0.92 and covered["ppi++"] / runs >= 0.92
    assert covered["human"] / runs >= 0.92
    assert covered["judge"] / runs < 0.2  # the naive interval does not see the judge's bias
    assert narrower / runs > 0.95


def test_the_population_target_covers_the_generating_mean() -> None:
    rng = np.random.default_rng(4)
    covered = 0
    for seed in range(400):
        truth, judge = _world(rng, 500, 0.1)
        ids = np.arange(500)
        audit = audit_sample(ids, size=100, seed=seed)
        result = mean_estimates(
            item_ids=ids, predictions=judge, audit_ids=audit, audit_labels=truth[audit], target="population"
        )
        assert result.ppi_plus.ci is not None
        covered += result.ppi_plus.ci[0] <= 0.7 <= result.ppi_plus.ci[1]
    assert covered / 400 >= 0.92


def test_a_full_audit_is_exact_for_the_dataset_but_not_for_the_population() -> None:
    ids, labels = np.arange(10), np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=float)
    predictions = np.ones(10)
    dataset = mean_estimates(item_ids=ids, predictions=predictions, audit_ids=ids, audit_labels=labels)
    assert dataset.human.estimate == dataset.ppi.estimate == pytest.approx(0.7)
    assert dataset.human.width == dataset.ppi.width == 0.0
    population = mean_estimates(
        item_ids=ids, predictions=predictions, audit_ids=ids, audit_labels=labels, target="population"
    )
    assert population.human.std_error == pytest.approx(np.std(labels, ddof=1) / math.sqrt(10))


def test_too_small_an_audit_gives_reasons_not_numbers() -> None:
    result = mean_estimates(item_ids=[1, 2, 3], predictions=[1, 0, 1], audit_ids=[2], audit_labels=[1])
    assert result.ppi.estimate is None and result.ppi.reason == "fewer than two audited items"
    assert result.judge.estimate == pytest.approx(2 / 3)
    assert result.as_dict()["estimates"][0]["method"] == "ppi++"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audit_ids": [9], "audit_labels": [1]}, "among the items"),
        ({"predictions": [1, np.nan, 0]}, "finite"),
        ({"audit_ids": [1, 1], "audit_labels": [1, 1]}, "repeat"),
        ({"audit_labels": [1]}, "equal lengths"),
        ({"target": "universe"}, "target"),
        ({"resolution": 0}, "resolution"),
        ({"bounds": (1, 1)}, "bounds"),
    ],
)
def test_mean_estimates_refuses_bad_input(kwargs: dict, message: str) -> None:
    arguments = {"item_ids": [1, 2, 3], "predictions": [1, 0, 1], "audit_ids": [1, 2], "audit_labels": [1, 0]}
    with pytest.raises(ValueError, match=message):
        mean_estimates(**(arguments | kwargs))


def test_the_audit_sample_is_reproducible_extensible_and_order_free() -> None:
    ids = np.arange(100, 1100)
    first = audit_sample(ids, size=50, seed=7)
    assert first.tolist() == audit_sample(ids[::-1], size=50, seed=7).tolist()
    assert audit_sample(ids, size=80, seed=7)[:50].tolist() == first.tolist()  # extends, never redraws
    assert set(first.tolist()) != set(audit_sample(ids, size=50, seed=8).tolist())
    # A new item changes the sample only if its key is among the smallest.
    grown = audit_sample(np.r_[ids, 5000], size=50, seed=7)
    assert len(set(grown.tolist()) - set(first.tolist())) <= 1
    assert np.all(np.diff(audit_keys(first, seed=7)) > 0)


def test_every_item_is_equally_likely_to_be_audited() -> None:
    ids = np.arange(40)
    counts = np.zeros(40)
    for seed in range(4000):
        counts[audit_sample(ids, size=10, seed=seed)] += 1
    # Each item: Binomial(4000, 1/4), sd ~ 27 around 1000.
    assert np.abs(counts - 1000).max() < 5 * 27.4
    keys = audit_keys(np.arange(100_000), seed=1)
    assert keys.min() >= 0.0 and keys.max() < 1.0
    assert np.histogram(keys, bins=10, range=(0, 1))[0] == pytest.approx([10_000] * 10, rel=0.05)


def test_the_audit_sample_refuses_bad_sizes_and_repeated_ids() -> None:
    with pytest.raises(ValueError, match="size"):
        audit_sample([1, 2], size=3, seed=0)
    with pytest.raises(ValueError, match="repeat"):
        audit_sample([1, 1], size=1, seed=0)
    with pytest.raises(ValueError, match="integers"):
        audit_keys([1.5], seed=0)


def test_only_the_labelled_prefix_of_the_audit_counts() -> None:
    assert audit_prefix([5, 2, 8, 1], {5, 2, 1}).tolist() == [5, 2]
    assert audit_prefix([5, 2], [5, 2]).tolist() == [5, 2]
    assert audit_prefix([5, 2], []).tolist() == []


def test_an_audit_that_saw_no_difference_still_gets_an_interval_with_a_resolution() -> None:
    # 30 audited items of 80, every one agreeing with the judge (a 1-5 score): Wald says zero width.
    ids = np.arange(80)
    scores = np.tile([3.0, 4.0], 40)
    audit = ids[:30]
    bare = mean_estimates(item_ids=ids, predictions=scores, audit_ids=audit, audit_labels=scores[audit])
    assert bare.ppi.width == 0.0
    result = mean_estimates(
        item_ids=ids, predictions=scores, audit_ids=audit, audit_labels=scores[audit], resolution=1.0, bounds=(1, 5)
    )
    p = 2 / 34  # Agresti-Coull's rate for none of 30
    se = math.sqrt((1 - 30 / 80) * p * (1 - p) / 30)
    assert result.ppi.estimate == pytest.approx(3.5) and result.ppi.std_error == pytest.approx(se)
    assert result.ppi.width == pytest.approx(2 * 1.959964 * se, rel=1e-5)
    # A full audit is still exact: nothing is left to sample.
    full = mean_estimates(item_ids=ids, predictions=scores, audit_ids=ids, audit_labels=scores, resolution=1.0)
    assert full.ppi.width == 0.0


def test_a_share_seen_all_accepted_stays_inside_zero_to_one() -> None:
    ids = np.arange(100)
    result = mean_estimates(
        item_ids=ids,
        predictions=np.ones(100),
        audit_ids=ids[:30],
        audit_labels=np.ones(30),
        resolution=1,
        bounds=(0, 1),
    )
    assert result.human.estimate == 1.0 and result.human.ci[1] == 1.0 and 0.9 < result.human.ci[0] < 1.0
    assert result.judge.ci == (1.0, 1.0)


def test_the_floor_restores_coverage_for_a_near_perfect_judge_and_a_small_audit() -> None:
    """A judge wrong on 2 % of 200 items and 30 audited: most audits see no error, and a Wald
    interval of zero width then misses the dataset's mean whenever the judge erred anywhere."""
    rng = np.random.default_rng(7)
    covered = {None: 0, 1.0: 0}
    runs = 400
    for seed in range(runs):
        truth, judge = _world(rng, 200, 0.02)
        ids = np.arange(200)
        audit = audit_sample(ids, size=30, seed=seed)
        for resolution in covered:
            result = mean_estimates(
                item_ids=ids, predictions=judge, audit_ids=audit, audit_labels=truth[audit], resolution=resolution
            )
            covered[resolution] += result.ppi.ci[0] <= truth.mean() <= result.ppi.ci[1]
    assert covered[None] / runs < 0.7
    assert covered[1.0] / runs >= 0.93


def test_the_floor_leaves_a_real_audit_alone() -> None:
    rng = np.random.default_rng(8)
    truth, judge = _world(rng, 4000, 0.15)
    ids = np.arange(4000)
    audit = audit_sample(ids, size=400, seed=1)
    bare = mean_estimates(item_ids=ids, predictions=judge, audit_ids=audit, audit_labels=truth[audit])
    floored = mean_estimates(item_ids=ids, predictions=judge, audit_ids=audit, audit_labels=truth[audit], resolution=1)
    assert [e.ci for e in (bare.ppi, bare.ppi_plus, bare.human)] == [
        e.ci for e in (floored.ppi, floored.ppi_plus, floored.human)
    ]
