"""The posterior stopping rule's policies for benchmarks/triage.py (docs/triage.md, section 3b).

Each item's label is the posterior's mode given the judge's calibrated distribution (judge-first
only) and the ratings so far; one more person is asked while that label's posterior is below the
target, up to 5. What the rule needs is estimated from what the product would have, never from
the simulator's hidden truth:

* the raters' accuracies, the base rate and the ordinal error decay: one-coin Dawid-Skene
  (``agreement.rater_model_fit``) over every rating collected so far (and the audit's gold in
  judge-first), fitted after ``REFIT_EVERY`` items (judge-first: after the audit) and again each
  time the ratings have doubled, as the app's automatic refit does by default; until the first
  fit, everyone is assumed 0.8 accurate on a uniform prior. Each fit re-decides the items decided
  before it, as the app's does: one settled with ratings is reopened for one more only below
  ``agreement.reopen_below`` (least sure first, as far as fixed overlap's accuracy on average
  needs) or, if lower, its target;
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

from typing import Any

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
    label_posterior,
    overlap_next_posterior,
    own_weight_fit,
    posterior_target_choose,
    rater_model_fit,
    reopen_below,
    slice_audit,
)
from agreement.posterior import error_spread

REFIT_EVERY = 250  # items before the first fit
REFIT_GROWTH = 2.0  # then a fit each time the ratings have doubled (the app's ACCORD_POSTERIOR_REFIT_GROWTH_PERCENT)
AUDIT_SHARE, AUDIT_SEED = 0.10, 19
INITIAL_ACCURACY = 0.8


class _Labeller:
    """People labelling items one at a time under the posterior rule, refitting the rater model."""

    def __init__(self, world: World, target: float | str, gold: dict[int, float] | None = None,
                 model: RaterModel | None = None, shrinkage: float = 10.0, revisits: str = "aggregate",
                 refit_growth: float | None = REFIT_GROWTH) -> None:  # fmt: skip
        self.world, self.target_spec, self.gold = world, target, gold or {}
        self.shrinkage = shrinkage
        self.fixed_model = model is not None
        self.level = "nominal" if world.kind == "binary" else "ordinal"
        self.points = world.points.tolist()
        self.units: list[int] = []
        self.raters: list[int] = []
        self.values: list[float] = []
        self.since = 0
        self.unit_prior: dict[int, np.ndarray] = {}
        self.covariates: dict[int, float] = {}  # items' difficulty covariates (judge-first: the judge's confidence)
        self.final: dict[int, tuple[float, int]] = {}  # item: (posterior of its label, ratings)
        self.exhausted: dict[int, bool] = {}  # item: at the maximum below the target
        self.open: dict[int, tuple[np.ndarray | None, float | None]] = {}  # items a fit may decide again
        self.revisits, self.refit_growth = revisits, refit_growth
        self.fitted_at: int | None = None  # ratings at the last fit
        self.reopened: set[int] = set()  # items a later fit asked for more ratings
        self.judge_dists: np.ndarray | None = None  # the calibrated distributions the target is chosen for
        self.judge_calibrated: np.ndarray | None = None  # each row's calibrated probability of its verdict
        self.judge_covariates: np.ndarray | None = None  # of the rows of judge_dists
        self.gold_calibrated: np.ndarray | None = None  # the audit's calibrated confidences, and
        self.gold_correct: np.ndarray | None = None  # whether the verdict matched gold there
        self.alone_from: float | None = None  # the judge decides alone from this calibrated confidence
        self.reference = self.judge_reference = self.plain_target = float("nan")
        k = len(self.points)
        self.model = RaterModel(points=tuple(self.points), level=self.level, prior=tuple([1.0 / k] * k),
                                pooled=INITIAL_ACCURACY, error_decay=0.25)  # fmt: skip
        if model is not None:
            self.model = model
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
        self.alone_from, self.judge_reference = alone.threshold, alone.choice.reference_accuracy
        return alone.choice.target

    def refit(self, out: Outcome) -> None:
        """Fit the rater model on everything so far and choose the targets, then decide the items
        decided so far again (``revisit``)."""
        self.since, self.fitted_at = 0, len(self.values)
        if self.fixed_model:
            return
        self.model = rater_model_fit(units=self.units, raters=self.raters, values=self.values, points=self.points,
                                     level=self.level, gold=self.gold, unit_prior=self.unit_prior,
                                     covariates=self.covariates, shrinkage=self.shrinkage)  # fmt: skip
        self.target = self._target()
        if self.revisits != "none":
            self.revisit(out)

    def label(self, i: int, out: Outcome, *, judge_dist: np.ndarray | None = None, confidence: float | None = None,
              revisit: bool = True) -> float:  # fmt: skip
        """Item ``i``'s label: ratings from the front of its raters until the rule stops (raters'
        accuracies shifted by the item's difficulty covariate where it starts from the judge; the
        judge may decide alone where its calibrated ``confidence`` passes the gate). ``revisit``:
        whether a later fit may decide it again (audited items may not: gold decides them)."""
        out.labels[i] = self._decide(i, out, judge_dist, confidence, start=0)
        if judge_dist is not None:
            self.unit_prior[i] = judge_dist
        if revisit:
            self.open[i] = (judge_dist, confidence)
        self.since += 1
        grown = self.refit_growth is not None and self.fitted_at is not None
        if (len(self.values) >= self.refit_growth * self.fitted_at) if grown else self.since >= REFIT_EVERY:
            self.refit(out)
        return float(out.labels[i])

    def _decide(self, i: int, out: Outcome, judge_dist: np.ndarray | None, confidence: float | None,
                start: int, reopen_below: float | None = None) -> float:  # fmt: skip
        """Ask item ``i``'s raters, from its ``start``-th, until the rule stops under the current fit;
        a settled item revisited (``reopen_below`` given) stays settled at or above it."""
        alone = judge_dist is not None and self.alone_from is not None and confidence is not None \
            and confidence >= self.alone_from  # fmt: skip
        n = start
        while True:
            decision = overlap_next_posterior(
                min_overlap=0 if alone else 1, max_overlap=MAX_OVERLAP,
                target=self.target if judge_dist is not None else self.plain_target, **self._evidence(i, n, judge_dist),
            )  # fmt: skip
            held = reopen_below is not None and n == start and n >= (0 if alone else 1)
            if not decision.needs_rating or (held and decision.probability >= reopen_below):
                break
            n += 1
        self.take(i, out, start, n)
        self.final[i] = (decision.probability, n)
        self.exhausted[i] = decision.action == "exhausted"
        return float(decision.label)

    def _evidence(self, i: int, n: int, judge_dist: np.ndarray | None) -> dict[str, Any]:
        """The posterior's arguments for item ``i`` after its first ``n`` ratings, under the current fit."""
        w, m = self.world, self.model
        covariate = self.covariates.get(i) if judge_dist is not None else None
        return {"points": self.points, "level": self.level, "prior": m.prior, "judge_dist": judge_dist,
                "ratings": w.ratings[i, :n].tolist(), "error_decay": m.error_decay, "error_matrix": m.errors,
                "rater_accuracy": [m.accuracy_of(int(r), covariate) for r in w.raters[i, :n]]}  # fmt: skip

    def revisit(self, out: Outcome) -> None:
        """Decide the items decided so far again under the current fit, as ``posterior_model_fit``
        re-decides the project: ``"aggregate"``, the app's rule (an item settled before is
        reopened only below ``agreement.reopen_below``, or its target if lower), or ``"every"``
        (reopened wherever its posterior is now below the target, as the app did before). Their
        new ratings count from the next fit on."""
        # As the app: items the rule settled with ratings (a judge-alone item is decided afresh).
        settled = {i: v for i, v in self.open.items() if not self.exhausted[i] and self.final[i][1] > 0}
        below: float | None = 1.0 if settled else None
        if self.revisits == "aggregate" and settled:
            probabilities = [float(label_posterior(**self._evidence(i, self.final[i][1], d)).max())
                             for i, (d, _) in settled.items()]  # fmt: skip
            targets = [self.target if d is not None else self.plain_target for d, _ in settled.values()]
            references = [self.judge_reference if d is not None else self.reference for d, _ in settled.values()]
            below = reopen_below(probabilities=probabilities, targets=targets, references=references)
        for i, (judge_dist, confidence) in self.open.items():
            n = self.final[i][1]
            out.labels[i] = self._decide(i, out, judge_dist, confidence, start=n,
                                         reopen_below=below if i in settled else None)  # fmt: skip
            if self.final[i][1] > n:
                self.reopened.add(i)

    def take(self, i: int, out: Outcome, start: int, n: int) -> None:
        """Item ``i``'s ratings from its ``start``-th to its ``n``-th: counted, and seen by the next fit
        (called alone, whatever the rule: the audit's minimum of people)."""
        w = self.world
        out.record(w, i, n, start=start)
        self.units.extend([i] * (n - start))
        self.raters.extend(int(r) for r in w.raters[i, start:n])
        self.values.extend(float(v) for v in w.ratings[i, start:n])

    def finish(self, out: Outcome) -> None:
        """The items left unresolved (at the maximum below the target) once everything is decided."""
        out.unresolved = sum(self.exhausted.values())


def posterior_adaptive(world: World, *, target: float | str, **diagnosis: Any) -> Outcome:
    """People only: one more rating while the posterior of the best label is below ``target``.
    ``diagnosis`` (benchmarks/triage_gap.py): ``model``, a rater model to decide with from the
    first item, never refitted; ``shrinkage``, the fit's (``agreement.rater_model_fit``'s default);
    ``revisits``: how a fit re-decides the items decided before it (``"aggregate"``, the default:
    as the app, reopened below ``agreement.reopen_below``; ``"every"``: every one below the new
    target; ``"none"``: each item decided once); ``refit_growth``: fit when the ratings have grown
    by this factor since the last fit (None: every ``REFIT_EVERY`` items)."""
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    people = _Labeller(world, target, **diagnosis)
    for i in range(world.truth.size):
        people.label(i, out)
    people.finish(out)
    out.extra = {
        "target": people.target,
        "reference": people.reference,
        "pooled": people.model.pooled,
        "model": people.model,
        "final": people.final,
        "reopened": len(people.reopened),
    }
    return out


def posterior_judge_first(world: World, judge: JudgeOutput, *, target: float | str, audit_labelled_by: str = "people",
                          **fits: Any) -> Outcome:  # fmt: skip
    """Judge every item; audit a uniform 10 % (``audit_labelled_by``, as the app's policy: "people"
    under the rule without the judge, whose calibration is not known yet, then a reviewer's gold;
    "minimum": one person, then the reviewer; "reviewer": the reviewer alone; an audited item's
    label is its gold, as in the app); calibrate the judge on the audit
    outside flagged slices; then label every other item under the rule with the judge's
    calibrated distribution in place of the prior (none in flagged slices), the judge alone
    where its calibrated confidence reaches the target and passes the check on gold."""
    ids = world.item_ids
    out = Outcome(np.zeros(world.truth.size), 0, 0)
    audit = audit_sample(ids, size=round(AUDIT_SHARE * ids.size), seed=AUDIT_SEED) - 1
    in_audit = np.zeros(ids.size, dtype=bool)
    in_audit[audit] = True
    gold = {int(i): float(world.truth[i]) for i in audit}
    people = _Labeller(world, target, **fits)
    for i in audit:
        if audit_labelled_by == "people":
            people.label(int(i), out, revisit=False)
        elif audit_labelled_by == "minimum":
            people.take(int(i), out, 0, 1)  # the posterior rule's minimum overlap
        out.labels[i] = gold[int(i)]  # the reviewer's gold decides an audited item, as in the app
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
    people.refit(out)
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
    for i in np.flatnonzero(~in_audit):
        if i not in dist_of:
            people.label(int(i), out)
        else:
            people.label(int(i), out, judge_dist=dist_of[i], confidence=float(calibrated[i]))
    people.finish(out)
    alone = sum(people.final[i][1] == 0 for i in dist_of)
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
