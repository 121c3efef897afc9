"""Adaptive overlap: the consensus rule and the one-more-rating decision, case by case."""

from __future__ import annotations

import pytest

from agreement import ConsensusRule, OverlapDecision, overlap_combine, overlap_next

NOMINAL = ConsensusRule(level="nominal", majority_threshold=2 / 3)
ORDINAL = ConsensusRule(level="ordinal", numeric_tolerance=0.25, width=4)  # 1-5: a spread of 1 agrees


def test_the_nominal_rule_needs_a_unique_majority_reaching_the_threshold() -> None:
    assert NOMINAL.consensus(["a", "a", "b"]) == "a"
    assert NOMINAL.consensus(["a", "b"]) is None
    assert NOMINAL.consensus(["a", "a", "b", "b"]) is None  # a tie at the top
    assert ConsensusRule(level="nominal", majority_threshold=0.75).consensus(["a", "a", "b"]) is None
    assert NOMINAL.consensus([True]) is True
    assert NOMINAL.consensus([]) is None


def test_the_numeric_rules_take_the_median_within_the_tolerance_band() -> None:
    assert ORDINAL.consensus([3, 4]) == 3  # lower median: a point of the scale
    assert ORDINAL.consensus([3, 4, 4]) == 4
    assert ORDINAL.consensus([2, 4]) is None  # spread 2 > 0.25 * 4
    assert ConsensusRule(level="interval", numeric_tolerance=0.25, width=4).consensus([1, 2]) == 1.5
    # A ratio scale without a maximum measures the spread against the median: 11 * 0.25 = 2.75.
    ratio = ConsensusRule(level="ratio", numeric_tolerance=0.25)
    assert ratio.consensus([10, 12]) == 11
    assert ratio.consensus([10, 14]) is None


def test_the_rule_refuses_settings_the_approval_policy_refuses() -> None:
    with pytest.raises(ValueError, match="majority_threshold"):
        ConsensusRule(level="nominal", majority_threshold=0.5)
    with pytest.raises(ValueError, match="numeric_tolerance"):
        ConsensusRule(level="ordinal", numeric_tolerance=-0.1, width=4)
    with pytest.raises(ValueError, match="width"):
        ConsensusRule(level="ordinal")
    with pytest.raises(ValueError, match="level"):
        ConsensusRule(level="fuzzy")  # type: ignore[arg-type]


def _next(values: list, rule: ConsensusRule = NOMINAL, **kwargs) -> OverlapDecision:
    settings = {"min_overlap": 2, "max_overlap": 5} | kwargs
    return overlap_next(values=values, rule=rule, **settings)


def test_without_a_judge_two_agreeing_raters_settle_and_disagreement_asks_for_more() -> None:
    assert _next([]).action == "rate"
    assert _next([1]).action == "rate"  # below the minimum of 2
    settled = _next([1, 1])
    assert (settled.action, settled.consensus, settled.ratings) == ("settled", 1, 2)
    assert _next([1, 0]).needs_rating
    assert _next([1, 0, 1]).consensus == 1  # 2 of 3 reaches 2/3
    assert _next([1, 0, 1, 0]).action == "rate"
    exhausted = _next([1, 0, 1, 0, 1])  # 3 of 5 < 2/3 and the maximum is reached: review
    assert (exhausted.action, exhausted.consensus) == ("exhausted", None)


def test_a_judge_that_agrees_settles_an_item_on_one_human_rating() -> None:
    decision = _next([1], min_overlap=1, judge_value=1)
    assert (decision.action, decision.consensus) == ("settled", 1)
    assert "judge" in decision.reason


def test_a_dissenting_judge_buys_one_more_rating_and_two_agreeing_humans_outvote_it() -> None:
    assert _next([1], min_overlap=1, judge_value=0).action == "rate"
    outvoted = _next([1, 1], min_overlap=1, judge_value=0)
    assert (outvoted.action, outvoted.consensus) == ("settled", 1)
    assert _next([1, 0], min_overlap=1, judge_value=1).action == "rate"  # humans split: the judge decides nothing
    assert _next([1, 0, 0], min_overlap=1, judge_value=1).consensus == 0
    # A stricter outvote needs three humans against the judge.
    assert _next([1, 1], min_overlap=1, judge_value=0, judge_outvote=3).action == "rate"
    assert _next([1, 1, 1], min_overlap=1, judge_value=0, judge_outvote=3).action == "settled"


def test_the_judge_never_decides_against_the_humans_at_the_maximum() -> None:
    decision = _next([1], min_overlap=1, max_overlap=1, judge_value=0)
    assert (decision.action, decision.consensus) == ("settled", 1)


def test_an_ordinal_judge_agrees_when_it_stays_within_the_band() -> None:
    assert _next([3], ORDINAL, min_overlap=1, judge_value=4).action == "settled"  # spread 1 <= 1
    assert _next([3], ORDINAL, min_overlap=1, judge_value=5).action == "rate"
    assert _next([3, 3], ORDINAL, min_overlap=1, judge_value=5).consensus == 3  # two humans outvote
    # 5 would widen [3, 4] to a spread of 2: the judge dissents, but two agreeing humans outvote it.
    assert _next([3, 4], ORDINAL, min_overlap=1, judge_value=5).consensus == 3
    assert _next([3, 4], ORDINAL, min_overlap=1, judge_value=5, judge_outvote=3).action == "rate"
    assert _next([3, 4], ORDINAL, min_overlap=1, judge_value=4, judge_outvote=3).action == "settled"
    assert _next([2, 4], ORDINAL).action == "rate"
    assert _next([2, 4, 3, 5, 1], ORDINAL).action == "exhausted"


def test_missing_values_are_not_ratings() -> None:
    assert _next([1, None]).action == "rate"


def test_overlap_next_refuses_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="min_overlap"):
        _next([1], min_overlap=3, max_overlap=2)
    with pytest.raises(ValueError, match="min_overlap"):
        _next([1], min_overlap=0)
    with pytest.raises(ValueError, match="judge_outvote"):
        _next([1], judge_outvote=0)


def test_an_item_needs_a_rating_while_any_criterion_does() -> None:
    rate, settled, exhausted = _next([1, 0]), _next([1, 1]), _next([1, 0, 1, 0, 1])
    assert overlap_combine([settled, rate, exhausted]) == "rate"
    assert overlap_combine([settled, exhausted]) == "exhausted"
    assert overlap_combine([settled, settled]) == "settled"
    assert settled.as_dict() == {"action": "settled", "consensus": 1.0, "ratings": 2, "reason": "raters agree"}
    with pytest.raises(ValueError):
        overlap_combine([])
