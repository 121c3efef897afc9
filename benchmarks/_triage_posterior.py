"""The posterior stopping rule's policies for benchmarks/triage.py (docs/triage.md, section 3b).

Each item's label is the posterior's mode given the judge's calibrated distribution (judge-first
only) and the ratings so far; one more person is asked while that label's posterior is below the
target, up to 5. What the rule needs is estimated from what the product would have, never from
the simulator's hidden truth:

* the raters' accuracies, the base rate and the ordinal error decay: one-coin Dawid-Skene
  (``agreement.rater_model_fit``) over every rating collected so far (and the audit's gold in
  judge-first), refitted every ``REFIT_EVERY`` items; until the first fit, everyone is assumed
  0.8 accurate on a uniform prior;
* the judge's calibration: ``agreement.calibration_map_fit`` (isotonic) on the audit's gold,
  outside the slices the audit flagged (where the judge is ignored: people decide those items);
* whether the judge may decide an item alone (no human), and from which calibrated confidence:
  ``agreement.judge_alone_choose`` with the target at every fit (the gate is shown on the audit's
  gold to reach the target it comes with, and kept only where the model expects it to save
  ratings), as the app's fit does.

Targets: a fixed probability, or ``"match"``: the accuracy fixed overlap 3 reaches under the
fitted model (``agreement.majority_accuracy`` at the pooled accuracy), recomputed at each refit.
Items are labelled in the order of their ids (the audit first in judge-first).
"""

from __future__ import annotations

import numpy as np
from _triage_policies import MAX_OVERLAP, JudgeOutput, Outcome
from _triage_world import World

from agreement import (
    RaterModel,
    audit_sample,
    calibrate_distribution,
    calibration_map_fit,
    difficulty_covariate,
    judge_alone_choose,
    judge_landing,
    overlap_next_posterior,
    own_weight_fit,
    posterior_target_choose,
    rater_model_fit,
    slice_audit,
)
from agreement.posterior import error_spread

REFIT_EVERY = 250
AUDIT_SHARE, AUDIT_SEED = 0.10, 19
INITIAL_ACCURACY = 0.8


class _Labeller:
    """People labelling items one at a time under the posterior rule, refitting the rater model."""

    def __init__(self, world: World, target: float | str, gold: dict[int, float] | None = None) -> None:
        self.world, self.target_spec, self.gold = world, target, gold or {}
        self.level = "nominal" if world.kind == "binary" else "ordinal"
        self.points = world.points.tolist()
        self.units: list[int] = []
        self.raters: list[int] = []
        self.values: list[float] = []
        self.since = 0
        self.unit_prior: dict[int, np.ndarray] = {}
        self.covariates: dict[int, float] = {}  # items' difficulty covariates (judge-first: the judge's confidence)
        self.final: dict[int, tuple[float, int]] = {}  # item: (posterior of its label, ratings)
        self.judge_dists: np.ndarray | None = None  # the calibrated distributions the target is chosen for
        self.judge_calibrated: np.ndarray | None = None  # each row's calibrated probability of its verdict
        self.judge_covariates: np.ndarray | None = None  # of the rows of judge_dists
        self.gold_calibrated: np.ndarray | None = None  # the audit's calibrated confidences, and
        self.gold_correct: np.ndarray | None = None  # whether the verdict matched gold there
        self.alone_from: float | None = None  # the judge decides alone from this calibrated confidence
        self.reference = self.plain_target = float("nan")
        k = len(self.points)
        self.model = RaterModel(points=tuple(self.points), level=self.level, prior=tuple([1.0 / k] * k),
                                pooled=INITIAL_ACCURACY, error_decay=0.25)  # fmt: skip
        self.target = self._target()

    def _target(self) -> float:
        """The target for items with the judge's distribution; ``plain_target`` for those without
        (flagged slices, the audit): each matches fixed overlap 3 on items like them."""
        if self.target_spec != "match":
            self.plain_target = float(self.target_spec)
            return float(self.target_spec)
        m = self.model
        accuracies = list(m.accuracy.values()) or [m.pooled]
        common = {"points": self.points, "rater_accuracies": accuracies, "level": self.level, "prior": m.prior,
                  "max_overlap": MAX_OVERLAP, "error_decay": m.error_decay, "error_matrix": m.errors}  # fmt: skip
        plain = posterior_target_choose(**common)
        self.plain_target, self.reference = plain.target, plain.reference_accuracy
        if self.judge_dists is None:
            return plain.target
        shift = None if self.judge_covariates is None else [m.shift(c) for c in self.judge_covariates]
        alone = judge_alone_choose(gold_calibrated=self.gold_calibrated, gold_correct=self.gold_correct,
                                   calibrated=self.judge_calibrated, judge_dists=self.judge_dists,
                                   accuracy_shift=shift, **common)  # fmt: skip
        self.alone_from = alone.threshold
        return alone.choice.target

    def refit(self) -> None:
        self.model = rater_model_fit(units=self.units, raters=self.raters, values=self.values, points=self.points,
                                     level=self.level, gold=self.gold, unit_prior=self.unit_prior,
                                     covariates=self.covariates)  # fmt: skip
        self.target = self._target()
        self.since = 0

    def label(self, i: int, out: Outcome, *, judge_dist: np.ndarray | None = None, min_overlap: int = 1) -> float:
        """Item ``i``'s label: ratings from the front of its raters until the rule stops (raters'
        accuracies shifted by the item's difficulty covariate where it starts from the judge)."""
        w, m = self.world, self.model
        covariate = self.covariates.get(i) if judge_dist is not None else None
        n = 0
        while True:
            decision = overlap_next_posterior(
                points=self.points, level=self.level, min_overlap=min_overlap,
                target=self.target if judge_dist is not None else self.plain_target,
                max_overlap=MAX_OVERLAP, prior=m.prior, judge_dist=judge_dist,
                ratings=w.ratings[i, :n].tolist(), error_decay=m.error_decay, error_matrix=m.errors,
                rater_accuracy=[m.accuracy_of(int(r), covariate) for r in w.raters[i, :n]],
            )  # fmt: skip
            if not decision.needs_rating:
                break
            n += 1
        out.record(w, i, n)
        self.final[i] = (decision.probability, n)
        if judge_dist is not None:
            self.unit_prior[i] = judge_dist
        self.units.extend([i] * n)
        self.raters.extend(int(r) for r in w.raters[i, :n])
        self.values.extend(float(v) for v in w.ratings[i, :n])
        out.unresolved += decision.action == "exhausted"
        self.since += 1
        if self.since >= REFIT_EVERY:
            self.refit()
        return float(decision.label)


def posterior_adaptive(world: World, *, target: float | str) -> Outcome:
    """People only: one more rating while the posterior of the best label is below ``target``."""
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    people = _Labeller(world, target)
    for i in range(world.truth.size):
        out.labels[i] = people.label(i, out)
    out.extra = {
        "target": people.target,
        "reference": people.reference,
        "pooled": people.model.pooled,
        "model": people.model,
        "final": people.final,
    }
    return out


def posterior_judge_first(world: World, judge: JudgeOutput, *, target: float | str,
                          audit_by_people: bool = True) -> Outcome:  # fmt: skip
    """Judge every item; audit a uniform 10 % (people under the rule without the judge, whose
    calibration is not known yet, plus a reviewer's gold; with ``audit_by_people=False`` the
    reviewer alone, and the audited item's label is its gold); calibrate the judge on the audit
    outside flagged slices; then label every other item under the rule with the judge's
    calibrated distribution in place of the prior (none in flagged slices), the judge alone
    where its calibrated confidence reaches the target and passes the check on gold."""
    ids = world.item_ids
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    audit = audit_sample(ids, size=round(AUDIT_SHARE * ids.size), seed=AUDIT_SEED) - 1
    in_audit = np.zeros(ids.size, dtype=bool)
    in_audit[audit] = True
    gold = {int(i): float(world.truth[i]) for i in audit}
    people = _Labeller(world, target)
    for i in audit:
        out.labels[i] = people.label(int(i), out) if audit_by_people else gold[int(i)]
    out.human_ratings += audit.size  # one expert gold label each
    correct = judge.verdict[audit] == world.truth[audit]
    slices = slice_audit(world.source[audit].tolist(), correct, judge.confidence[audit])
    flagged = {s.slice for s in slices if s.overconfident}
    # Every judged item outside the flagged slices has its difficulty covariate from the start
    # (the judge's raw confidence); the fit learns from the audit how it moves people's accuracy.
    judged = np.flatnonzero(~np.isin(world.source, list(flagged)))
    people.covariates = {int(i): c for i in judged if (c := difficulty_covariate(float(judge.confidence[i])))
                         is not None}  # fmt: skip
    people.gold = gold
    people.refit()
    usable = ~np.isin(world.source[audit], list(flagged))
    cmap = calibration_map_fit(confidences=judge.confidence[audit][usable], correct=correct[usable])
    calibrated = cmap.apply(judge.confidence)
    rest = np.flatnonzero(~in_audit & ~np.isin(world.source, list(flagged)))
    # Where the truth lies when the judge is wrong: its own distribution's share, and the rater
    # model's (agreement.judge_landing), weighed on the audit's gold (agreement.own_weight_fit).
    m = people.model
    landing = judge_landing(prior=m.prior, errors=error_spread(len(people.points), people.level, m.error_decay,
                                                                m.errors))  # fmt: skip
    index = {float(p): n for n, p in enumerate(people.points)}
    verdict_at = np.array([index[float(v)] for v in judge.verdict])
    kept = audit[usable]
    truth_at = [index[float(t)] for t in world.truth[kept]]
    own_weight = own_weight_fit(dists=judge.distribution[kept], verdict_indices=verdict_at[kept].tolist(),
                                truth_indices=truth_at, landing=landing)  # fmt: skip
    dists = np.array([calibrate_distribution(judge.distribution[i], verdict_index=int(verdict_at[i]),
                                             calibrated=float(calibrated[i]), landing=landing[verdict_at[i]],
                                             own_weight=own_weight) for i in rest])  # fmt: skip
    # Whether the judge may decide alone, and from which calibrated confidence, is chosen with the
    # target at every fit (agreement.judge_alone_choose: shown on the audit's gold to reach the target).
    people.judge_dists, people.judge_calibrated = dists, calibrated[rest]
    people.judge_covariates = np.array([people.covariates.get(int(i), np.nan) for i in rest])
    people.gold_calibrated, people.gold_correct = calibrated[audit][usable], correct[usable]
    people.target = people._target()
    dist_of = dict(zip(rest.tolist(), dists, strict=True))
    alone = 0
    for i in np.flatnonzero(~in_audit):
        if i not in dist_of:
            out.labels[i] = people.label(int(i), out)
            continue
        before = out.human_ratings
        may_alone = people.alone_from is not None and calibrated[i] >= people.alone_from
        out.labels[i] = people.label(int(i), out, judge_dist=dist_of[i], min_overlap=0 if may_alone else 1)
        alone += out.human_ratings == before
    out.extra = {
        "target": people.target,
        "plain_target": people.plain_target,
        "reference": people.reference,
        "threshold": people.alone_from,
        "alone_share": alone / ids.size,
        "flagged": sorted(flagged),
        "calibration": cmap,
        "own_weight": own_weight,
        "pooled": people.model.pooled,
        "final": people.final,
        "slope": people.model.difficulty_slope,
    }
    return out


def posterior_summary(out: Outcome, world: World) -> str:
    """One line on a posterior judge-first run: its targets, what the judge decided alone."""
    x = out.extra
    alone = [i for i, (_, n) in x["final"].items() if n == 0]
    kept = "judge alone on nothing"
    if alone:
        right = float(np.mean([out.labels[i] == world.truth[i] for i in alone]))
        gate = "none at the last fit" if x["threshold"] is None else f"{x['threshold']:.3f} at the last fit"
        kept = f"judge alone (gate {gate}) on {len(alone) / world.truth.size:.0%} at {right:.3f}"
    return (f"targets {x['target']:.3f} with the judge, {x['plain_target']:.3f} without (fixed 3 under the model: "
            f"{x['reference']:.3f}); {kept}; flagged {', '.join(x['flagged']) or 'nothing'}; difficulty slope "
            f"{x['slope']:+.2f}; the judge's own share of where its errors land {x['own_weight']:.2f}")  # fmt: skip
