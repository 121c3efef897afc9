"""Adaptive overlap: whether an item needs one more human rating, or is settled.

Fixed overlap asks every item for ``N`` ratings.  Most items do not need them: when the first
raters agree (and the judge agrees with them) a further rating rarely changes the label.
:func:`overlap_next` asks for one more rating only while raters disagree or the judge dissents,
between a minimum and a maximum.  The consensus rule is the project's approval policy, passed
in as a :class:`ConsensusRule` (the same rule ``quality/consensus.py`` applies to one item).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agreement._data import Level, check_level

_SLACK = 1e-12  # the spread test of quality/consensus.py allows the same float slack


@dataclass(frozen=True)
class ConsensusRule:
    """A project's agreement rule for one criterion.

    Nominal (binary, categorical): the most frequent value, when it is the only one at the top
    and its share of the ratings reaches ``majority_threshold`` (in (0.5, 1]).  Ordinal,
    interval, ratio: the median (the lower median on ordinal scales, so that it is a point of the
    scale) when the spread ``max - min`` is at most ``numeric_tolerance * width``.  ``width`` is
    the scale's range (``max - min``) for ordinal and interval scales; for ratio scales the
    scale's maximum, or None for a scale without one, when the median's magnitude serves.
    """

    level: Level
    majority_threshold: float = 2 / 3
    numeric_tolerance: float = 0.25
    width: float | None = None

    def __post_init__(self) -> None:
        check_level(self.level)
        if not 0.5 < self.majority_threshold <= 1.0:
            raise ValueError(f"majority_threshold must lie in (0.5, 1]; got {self.majority_threshold!r}")
        if self.numeric_tolerance < 0:
            raise ValueError(f"numeric_tolerance must be non-negative; got {self.numeric_tolerance!r}")
        if self.level in ("ordinal", "interval") and (self.width is None or self.width < 0):
            raise ValueError(f"a {self.level} rule needs the scale's width (max - min)")

    def band(self, middle: float) -> float:
        """The largest spread that still counts as agreement around ``middle``."""
        width = self.width if self.width is not None else abs(middle)
        return self.numeric_tolerance * width + _SLACK

    def consensus(self, values: Sequence[Any]) -> Any | None:
        """The consensus value of ``values`` under this rule, or None when there is none."""
        if not values:
            return None
        if self.level == "nominal":
            counts = Counter(values)
            value, top = counts.most_common(1)[0]
            tied = sum(1 for c in counts.values() if c == top)
            return value if tied == 1 and top / len(values) >= self.majority_threshold else None
        middle = statistics.median_low(values) if self.level == "ordinal" else statistics.median(values)
        return middle if max(values) - min(values) <= self.band(middle) else None

    def agrees(self, values: Sequence[Any], other: Any) -> bool:
        """Whether ``other`` agrees with ``values``' consensus (nominal: equal to it; numeric:
        within the agreement band, i.e. adding ``other`` would not break the consensus)."""
        consensus = self.consensus(values)
        if consensus is None:
            return False
        if self.level == "nominal":
            return bool(other == consensus)
        return max(*values, other) - min(*values, other) <= self.band(consensus)

    def supporters(self, values: Sequence[Any]) -> int:
        """How many ratings back the consensus (nominal: those equal to it; numeric: all of them)."""
        consensus = self.consensus(values)
        if consensus is None:
            return 0
        return sum(1 for v in values if v == consensus) if self.level == "nominal" else len(values)


Action = Literal["rate", "settled", "exhausted"]


@dataclass(frozen=True)
class OverlapDecision:
    """What an item needs next.

    ``action``: ``"rate"`` (ask one more human), ``"settled"`` (``consensus`` is the label) or
    ``"exhausted"`` (the maximum is reached without consensus: the item goes to review, as today).
    """

    action: Action
    consensus: Any | None
    ratings: int
    reason: str

    @property
    def needs_rating(self) -> bool:
        """Whether the item should go (back) to the queue for one more rating."""
        return self.action == "rate"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (a numeric consensus as a float)."""
        value = self.consensus
        if value is not None and not isinstance(value, (bool, str)):
            value = float(value)
        return {"action": self.action, "consensus": value, "ratings": int(self.ratings), "reason": self.reason}


def overlap_next(
    *,
    values: Sequence[Any],
    rule: ConsensusRule,
    min_overlap: int,
    max_overlap: int,
    judge_value: Any | None = None,
    judge_outvote: int = 2,
) -> OverlapDecision:
    """Whether an item with human ratings ``values`` (one criterion) needs one more rating.

    In this order:

    1. fewer than ``min_overlap`` ratings: rate;
    2. no consensus under ``rule``: rate, or exhausted at ``max_overlap``;
    3. a judge value that disagrees with the consensus (see :meth:`ConsensusRule.agrees`):
       rate, unless at least ``judge_outvote`` ratings back the consensus (two humans who
       agree outweigh one judge by default) or ``max_overlap`` is reached, when the humans'
       consensus stands: the judge can ask for a rating, never decide one;
    4. otherwise settled.

    With ``min_overlap=1`` and a judge, one human who agrees with the judge settles an item; with
    ``min_overlap=2`` and no judge, two agreeing humans do.  Decide after each new rating; a
    multi-criterion item combines its criteria with :func:`overlap_combine`.
    """
    if int(min_overlap) != min_overlap or int(max_overlap) != max_overlap or not 1 <= min_overlap <= max_overlap:
        raise ValueError(f"need integers 1 <= min_overlap <= max_overlap; got {min_overlap!r}, {max_overlap!r}")
    if int(judge_outvote) != judge_outvote or judge_outvote < 1:
        raise ValueError(f"judge_outvote must be a positive integer; got {judge_outvote!r}")
    values = [v for v in values if v is not None]
    n = len(values)
    if n < min_overlap:
        return OverlapDecision("rate", None, n, f"{n} of at least {min_overlap} ratings")
    consensus = rule.consensus(values)
    if consensus is None:
        if n >= max_overlap:
            return OverlapDecision("exhausted", None, n, f"no consensus after the maximum of {max_overlap} ratings")
        return OverlapDecision("rate", None, n, "raters disagree")
    if judge_value is not None and not rule.agrees(values, judge_value):
        backing = rule.supporters(values)
        if backing >= judge_outvote:
            return OverlapDecision("settled", consensus, n, f"{backing} ratings outvote the judge")
        if n >= max_overlap:
            return OverlapDecision("settled", consensus, n, "the judge disagrees, but the maximum is reached")
        return OverlapDecision("rate", consensus, n, "the judge disagrees with the raters")
    with_judge = " with the judge" if judge_value is not None else ""
    return OverlapDecision("settled", consensus, n, f"raters agree{with_judge}")


def overlap_combine(decisions: Iterable[OverlapDecision]) -> Action:
    """One action for an item from its criteria's decisions: rate if any criterion needs a rating,
    else exhausted if any is exhausted, else settled."""
    actions = {d.action for d in decisions}
    if not actions:
        raise ValueError("no decisions to combine")
    order: tuple[Action, ...] = ("rate", "exhausted", "settled")
    return next(a for a in order if a in actions)
