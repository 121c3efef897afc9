"""The labelling policies benchmarks/triage.py compares, each deciding with the agreement package's
functions (the ones the product calls): fixed overlap 3, adaptive overlap, judge-first.

Accounting: every human rating counts, and so does each expert gold label of the judge-first
audit (one rating per audited item). An item that ends without consensus (fixed overlap, or
adaptive overlap at its maximum) would go to review; here it keeps its raters' plurality
(binary) or lower median (ordinal), and is counted as unresolved. Audited items keep their
human label, not the expert's gold, so the audit does not make judge-first look more accurate.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from _triage_world import World

from agreement import (
    ConsensusRule,
    alpha,
    audit_sample,
    gold_accuracy,
    mean_estimates,
    overlap_next,
    slice_audit,
    threshold_choose,
    verdict_uncertainty,
)

AUDIT_SHARE = 0.10  # of the items: 400 of 4,000
AUDIT_SEED = 19
MIN_OVERLAP_WITH_JUDGE = 1
MIN_OVERLAP_WITHOUT_JUDGE = 2
MAX_OVERLAP = 5


@dataclass
class Outcome:
    """What a policy produced on one world."""

    labels: np.ndarray
    human_ratings: int
    unresolved: int
    units: list[int] = field(default_factory=list)
    raters: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def record(self, world: World, item: int, count: int, start: int = 0) -> None:
        """Keep item ``item``'s human ratings from its ``start``-th to its ``count``-th for alpha."""
        self.human_ratings += count - start
        self.units.extend([item] * (count - start))
        self.raters.extend(world.raters[item, start:count].tolist())
        self.values.extend(world.ratings[item, start:count].tolist())

    def accuracy(self, world: World) -> float:
        return float((self.labels == world.truth).mean())

    def alpha(self, world: World) -> float | None:
        level = "nominal" if world.kind == "binary" else "ordinal"
        return alpha(self.units, self.raters, self.values, level=level, bootstrap_draws=0).alpha


def rule_for(world: World, tolerance: float) -> ConsensusRule:
    """The default approval policy: majority 2/3 (binary), spread <= tolerance x range (ordinal)."""
    if world.kind == "binary":
        return ConsensusRule(level="nominal", majority_threshold=2 / 3)
    return ConsensusRule(level="ordinal", numeric_tolerance=tolerance, width=4.0)


def _fallback(values: list[float], kind: str) -> float:
    return Counter(values).most_common(1)[0][0] if kind == "binary" else statistics.median_low(values)


def fixed(world: World, rule: ConsensusRule, overlap: int = 3) -> Outcome:
    """Every item gets ``overlap`` ratings; its label is the consensus."""
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    for i in range(world.truth.size):
        values = world.ratings[i, :overlap].tolist()
        consensus = rule.consensus(values)
        out.unresolved += consensus is None
        out.labels[i] = _fallback(values, world.kind) if consensus is None else consensus
        out.record(world, i, overlap)
    return out


def _adaptive_one(world: World, i: int, rule: ConsensusRule, min_overlap: int, judge: float | None,
                  out: Outcome) -> float:  # fmt: skip
    values: list[float] = []
    while True:
        decision = overlap_next(values=values, rule=rule, min_overlap=min_overlap, max_overlap=MAX_OVERLAP,
                                judge_value=judge)  # fmt: skip
        if decision.action != "rate":
            break
        values.append(float(world.ratings[i, len(values)]))
    out.record(world, i, len(values))
    if decision.action == "exhausted":
        out.unresolved += 1
        return _fallback(values, world.kind)
    return float(decision.consensus)


def adaptive(world: World, rule: ConsensusRule, *, judge: np.ndarray | None) -> Outcome:
    """One more rating while raters disagree (or the judge, when given, dissents)."""
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    min_overlap = MIN_OVERLAP_WITHOUT_JUDGE if judge is None else MIN_OVERLAP_WITH_JUDGE
    for i in range(world.truth.size):
        out.labels[i] = _adaptive_one(world, i, rule, min_overlap, None if judge is None else float(judge[i]), out)
    return out


@dataclass(frozen=True)
class JudgeOutput:
    """The judge's verdict, confidence (probability of the verdict), soft prediction and
    distribution over the scale (items x points) per item."""

    verdict: np.ndarray
    confidence: np.ndarray
    expected: np.ndarray
    distribution: np.ndarray


def judge_output(world: World, *, samples: bool) -> JudgeOutput:
    """Through :func:`agreement.verdict_uncertainty`: from the reported probabilities (its answer
    is the temperature-0 mode) or, with ``samples``, from 5 sampled answers alone."""
    level = "nominal" if world.kind == "binary" else "ordinal"
    n = world.truth.size
    verdict, confidence, expected = np.zeros(n), np.zeros(n), np.zeros(n)
    distribution = np.zeros((n, world.points.size))
    for i in range(n):
        if samples:
            u = verdict_uncertainty(points=world.points, level=level, samples=world.judge_samples[i], method="top")
        else:
            u = verdict_uncertainty(points=world.points, level=level, probabilities=[world.reported(i)],
                                    verdict=float(world.judge_answer[i]), method="top")  # fmt: skip
        verdict[i], confidence[i], expected[i] = u.value, u.confidence, u.expected
        distribution[i] = u.distribution
    return JudgeOutput(verdict, confidence, expected, distribution)


def judge_first(
    world: World,
    rule: ConsensusRule,
    judge: JudgeOutput,
    *,
    bar: str = "label",
    slice_check: bool = True,
    judge_check: bool = True,
) -> Outcome:
    """Judge every item; audit a uniform sample (humans + expert gold); on the audit, flag slices
    where the judge is confidently wrong and choose the threshold against the humans' accuracy on
    gold; the judge keeps confident verdicts outside flagged slices, people do the rest.

    ``bar="label"``: the accuracy of the audited items' human labels (what the judge replaces);
    ``bar="rater"``: the accuracy of one rater (each audited item's first rating). People label
    the audit and the routed items by adaptive overlap: 1-5 with the judge as a check, or with
    ``judge_check=False`` 2-5 without it."""
    min_overlap = MIN_OVERLAP_WITH_JUDGE if judge_check else MIN_OVERLAP_WITHOUT_JUDGE

    def people(i: int) -> float:
        return _adaptive_one(world, i, rule, min_overlap, float(judge.verdict[i]) if judge_check else None, out)

    ids = world.item_ids
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    audit = audit_sample(ids, size=round(AUDIT_SHARE * ids.size), seed=AUDIT_SEED) - 1  # ids are 1-based
    in_audit = np.zeros(ids.size, dtype=bool)
    in_audit[audit] = True
    for i in audit:
        out.labels[i] = people(i)
    out.human_ratings += audit.size  # one expert gold label each
    gold = world.truth[audit]
    humans = out.labels[audit] if bar == "label" else world.ratings[audit, 0]
    target = gold_accuracy(humans, gold).value
    correct = judge.verdict[audit] == gold
    slices = slice_audit(world.source[audit].tolist(), correct, judge.confidence[audit])
    flagged = {s.slice for s in slices if s.overconfident} if slice_check else set()
    usable = ~np.isin(world.source[audit], list(flagged))
    choice = threshold_choose(judge.confidence[audit][usable], correct[usable], target=target)
    keep = (~in_audit) & ~np.isin(world.source, list(flagged))
    if choice.threshold is None:
        keep[:] = False
    else:
        keep &= judge.confidence >= choice.threshold
    for i in np.flatnonzero(~keep & ~in_audit):
        out.labels[i] = people(i)
    out.labels[keep] = judge.verdict[keep]
    # The soft prediction: the expected score, which on a 0/1 scale is the probability of 1.
    estimate = mean_estimates(item_ids=ids, predictions=judge.expected, audit_ids=ids[audit], audit_labels=gold)
    out.extra = {
        "bar": target,
        "threshold": choice.threshold,
        "kept_share": float(keep.mean()),
        "kept_accuracy": float((judge.verdict[keep] == world.truth[keep]).mean()) if keep.any() else None,
        "flagged": sorted(flagged),
        "slices": slices,
        "estimate": estimate,
    }
    return out
