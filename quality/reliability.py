"""What a figure may claim: the one rule behind the reliability badge and judge trust.

A point estimate on a handful of items proves little: alpha 0.851 on 11 items has a 95 % interval
of 0.514 to 0.985. So a claim ("reliable", "trusted") is made only when the whole 95 % bootstrap
interval clears the bar *and* at least a minimum of items were compared; a "no" only when the
whole interval falls short; anything else is "not enough data yet", shown with its interval.

- Criterion reliability (humans' Krippendorff's alpha), on at least RELIABILITY_MIN_ITEMS items:
  **reliable** when the interval's lower bound is at least 0.800; **tentative** when it is at
  least 0.667; **unreliable** when the whole interval is below 0.800 (and its lower bound below
  0.667: it can be shown neither reliable nor tentative); otherwise not enough data yet.
- Judge trust: the interval of (alpha with the judge in place of each human) minus (the humans'
  alpha) must clear minus the policy's ``trust_margin``, on at least ``trust_min_items`` items.

The dashboard, the agreement API, the judges page and ``rater_trust_refresh`` all go through
``interval_verdict`` (via ``criterion_badge`` / ``judge_trust``); nothing else decides a badge.
"""

from dataclasses import asdict, dataclass
from enum import StrEnum

from quality.selectors.agreement import RELIABLE, TENTATIVE

RELIABILITY_MIN_ITEMS = 50
"""Fewest items (units rated by two or more people) on which a criterion may be called reliable."""


class Verdict(StrEnum):
    YES = "yes"  # the whole interval is at or above the bar, on enough items
    NO = "no"  # the whole interval is below the bar, on enough items
    UNKNOWN = "unknown"  # too few items, no interval, or the interval straddles the bar


def interval_verdict(*, ci: list | tuple | None, units: int, threshold: float, min_units: int) -> Verdict:
    """Whether a 95 % interval ``ci`` measured on ``units`` items clears ``threshold``."""
    if units < min_units or not ci or ci[0] is None or ci[1] is None:
        return Verdict.UNKNOWN
    low, high = ci
    if low >= threshold:
        return Verdict.YES
    if high < threshold:
        return Verdict.NO
    return Verdict.UNKNOWN


@dataclass(frozen=True)
class Badge:
    status: str  # reliable, tentative, unreliable, undefined; trusted, not_trusted; not_enough_data
    label: str  # the words a page shows
    reason: str  # why, with the interval and the item count

    def as_dict(self) -> dict:
        return asdict(self)


def _interval(ci) -> str:
    return f"95 % interval {ci[0]:.3f} to {ci[1]:.3f}" if ci and None not in ci else "no interval"


def _short(units: int, min_units: int, ci) -> str:
    if units < min_units:
        return f"{units} items; at least {min_units} are needed ({_interval(ci)})"
    if not ci or None in ci:
        return f"no bootstrap interval on {units} items"
    return f"the {_interval(ci)} on {units} items straddles the bar"


def criterion_badge(*, alpha: float | None, ci, units: int, reason: str | None = None) -> Badge:
    """The reliability badge of one criterion from the report's humans figures."""
    if alpha is None:
        return Badge("undefined", "undefined", reason or "alpha is undefined")
    reliable = interval_verdict(ci=ci, units=units, threshold=RELIABLE, min_units=RELIABILITY_MIN_ITEMS)
    tentative = interval_verdict(ci=ci, units=units, threshold=TENTATIVE, min_units=RELIABILITY_MIN_ITEMS)
    where = f"{_interval(ci)} on {units} items"
    if reliable == Verdict.YES:
        return Badge("reliable", "reliable", f"{where}: the lower bound clears {RELIABLE:.3f}")
    if tentative == Verdict.YES:
        return Badge("tentative", "tentative", f"{where}: the lower bound clears {TENTATIVE:.3f}, not {RELIABLE:.3f}")
    if reliable == Verdict.NO:  # the whole interval is under 0.800 and its lower bound under 0.667
        return Badge("unreliable", "unreliable", f"{where}: below {RELIABLE:.3f}")
    return Badge("not_enough_data", "not enough data yet", _short(units, RELIABILITY_MIN_ITEMS, ci))


def judge_trust(*, difference_ci, units: int, margin: float, min_units: int) -> Badge:
    """Whether a judge may label a criterion on its own: its alpha as a rater minus the humans',
    interval and all, must stay above ``-margin`` on at least ``min_units`` items."""
    verdict = interval_verdict(ci=difference_ci, units=units, threshold=-margin, min_units=min_units)
    where = f"judge minus humans: {_interval(difference_ci)} on {units} items"
    if verdict == Verdict.YES:
        return Badge("trusted", "trusted", f"as good as the humans within {margin:.3f} ({where})")
    if verdict == Verdict.NO:
        return Badge("not_trusted", "not trusted", f"below the humans by more than {margin:.3f} ({where})")
    return Badge("not_enough_data", "not enough data yet", _short(units, min_units, difference_ci))


def report_with_badges(payload: dict, *, margin: float, min_units: int) -> dict:
    """A copy of an agreement report whose human ``status`` and judges' ``trusted`` follow the rule
    above (the stored figures are untouched): ``status`` and ``reliability`` per criterion,
    ``trusted``, ``trust_reason`` and ``trust`` per judge."""
    criteria = []
    for criterion in payload.get("criteria", []):
        humans = criterion["humans"]
        badge = criterion_badge(alpha=humans["alpha"], ci=humans["ci"], units=humans["units"], reason=humans["reason"])
        judges = []
        for judge in criterion["judges"]:
            trust = judge_trust(
                difference_ci=judge.get("alpha_difference_ci"), units=judge["items"], margin=margin, min_units=min_units
            )
            judges.append(
                {**judge, "trusted": trust.status == "trusted", "trust_reason": trust.reason, "trust": trust.as_dict()}
            )
        humans = {**humans, "status": badge.status, "reliability": badge.as_dict()}
        criteria.append({**criterion, "humans": humans, "judges": judges})
    return {**payload, "criteria": criteria}
