"""Fitting the posterior stopping rule's model on a project's own data (docs/triage.md, section 3b).

What the rule needs, per scored criterion with a finite scale, from what the project has:

* **the judge's calibration**: on gold items the calibrated judge version was not shown as
  examples, the map from the probability its distribution gave its verdict to how often that
  verdict equals gold (``agreement.calibration_map_fit``, isotonic). Only with at least
  ``MIN_CALIBRATION_ITEMS`` such items; otherwise the judge takes no part in the posterior;
* **the raters' accuracies, the base rate, the ordinal error decay, where errors land** (the
  error matrix, on scales of three points or more): one-coin Dawid-Skene over
  every human rating of the current rubric version, gold items fixed to their gold, items with a
  calibrated verdict starting from it (``agreement.rater_model_fit``); with a calibrated judge,
  also the **item-difficulty slope**: how much more accurate people are where the judge was surer
  (its verdict's raw probability as the difficulty covariate of every item it judged);
* **the target**: ``stopping_target`` when the manager set one, else the lowest probability whose
  expected accuracy under the fitted model matches fixed overlap (``annotations_per_item``
  ratings) on items like the project's own (``agreement.posterior_target_choose``): one for items
  that start from a calibrated verdict (``target``), one for items without (``target_without_judge``);
* **the slices the judge is confidently wrong on** (``ApprovalPolicy.slice_by``, a key of the items'
  metadata): ``agreement.slice_audit`` on the same held-out gold, per criterion. Items of a flagged
  slice take no part in the judge's calibration, the difficulty covariate, the judge's prior or
  the judge-alone choice, as in the benchmark (benchmarks/_triage_posterior.py); the decisions
  then leave them to people (quality/stopping.py). Stored per criterion as ``slices`` (each
  slice's accuracy with its interval against its mean confidence) and ``excluded_slices``;
* **whether the judge may settle an item alone** (judge first, the routing judge calibrated): from
  which calibrated confidence (``judge_alone_from``, None: never), chosen with the target by
  ``agreement.judge_alone_choose`` on the gold items' calibrated confidences.

The judge version is the routing judge when one is chosen, else the judge version with the most
verdicts carrying a distribution. The fit is stored on the policy and the project re-decided.
"""

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

import agreement
from annotation.models import Gold, Item, Project, Rater, RaterKind, Rating
from quality import dispatch
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.services.approval import ProjectDecision, posteriors_of_settled, project_decide
from quality.services.approval_reads import JUDGE_FIRST
from quality.stopping import (
    POSTERIOR,
    criterion_points,
    item_slice,
    judge_calibrated,
    judge_covariate,
    judge_distribution,
    judge_reported,
    posterior_level,
    settled_items,
    slices_flag,
)
from rubrics.scales import point_label

MIN_CALIBRATION_ITEMS = 50
TARGET_SAMPLE = 2_000  # verdicts the target's simulation draws its items from
# A fit's cost per rating of the project, in ACCORD_INLINE_WORK_LIMIT's unit (about 0.1 µs): 7.2 s
# for 104,000 ratings (`make bench-triage-pages`), so the default limit fits about 14,000 inline.
WORK_PER_RATING = 700
# And per item the rule approved before, read again for reopen_below: 258 ms for 720 items.
WORK_PER_SETTLED_ITEM = 3_600
# A handful of new ratings on a small project is no reason to fit again on its own.
REFIT_MIN_RATINGS, REFIT_MIN_GOLD = 50, 10
FIT_STATE_SECONDS = 3600  # how long "a fit is running" and "it failed" are shown at most
_QUEUED, _FAILED = "posterior-fit-queued:{}", "posterior-fit-failed:{}"


def _calibrated_judge(project: Project, policy: ApprovalPolicy) -> Rater | None:
    if policy.routing_rater_id is not None:
        return policy.routing_rater
    top = (
        Rating.objects.filter(
            item__project=project, rubric_version=project.rubric_version, rater__kind=RaterKind.JUDGE,
            distribution__isnull=False,
        )
        .values("rater_id").annotate(n=Count("id")).order_by("-n", "rater_id").first()
    )  # fmt: skip
    return Rater.objects.get(pk=top["rater_id"]) if top else None


def posterior_model_compute(*, project: Project, policy: ApprovalPolicy) -> dict[str, Any]:
    """The posterior rule's model for ``project`` under ``policy`` (not saved), JSON-safe."""
    version = project.rubric_version
    criteria = [c for c in version.criteria.all() if c.agreement_level is not None and criterion_points(c)]
    golds = dict(Gold.objects.filter(item__project=project, rubric_version=version).values_list("item_id", "values"))
    judge = _calibrated_judge(project, policy)
    shown = set(judge.shown_item_ids or ()) if judge else set()
    verdicts: dict[int, tuple[dict, dict]] = {}
    human: list[tuple[int, int, dict]] = []
    for item_id, rater_id, kind, values, dist in Rating.objects.filter(
        item__project=project, rubric_version=version
    ).values_list("item_id", "rater_id", "rater__kind", "values", "distribution"):
        if kind == RaterKind.HUMAN:
            human.append((item_id, rater_id, values))
        elif judge is not None and rater_id == judge.pk and dist:
            verdicts[item_id] = (values, dist)
    # The judge may settle items alone (quality/stopping.py, judge_alone_labels) only under judge first.
    alone = judge is not None and policy.routing == JUDGE_FIRST and policy.routing_rater_id == judge.pk
    slices = _slices_of(project, policy.slice_by) if judge is not None and policy.slice_by else None
    out: dict[str, Any] = {"judge": judge.pk if judge else None, "fitted_at": timezone.now().isoformat(),
                           "rubric_version": version.pk, "gold_items": len(golds), "human_ratings": len(human),
                           "slice_by": policy.slice_by if slices is not None else "", "criteria": {}}  # fmt: skip
    for criterion in criteria:
        out["criteria"][criterion.key] = _criterion_fit(project, policy, criterion, golds, shown, verdicts, human,
                                                        slices, alone=alone)  # fmt: skip
    return out


def _slices_of(project: Project, key: str) -> dict[int, Any]:
    """Each item's slice under ``key`` (quality/stopping.py, item_slice). The metadata is decoded
    here rather than by a JSON lookup in SQL, so that the fit and the decisions, which read
    ``Item.metadata``, map every value to the same slice on SQLite and PostgreSQL alike."""
    rows = Item.objects.filter(project=project).values_list("id", "metadata")
    return {item_id: item_slice(metadata, key) for item_id, metadata in rows.iterator(chunk_size=5_000)}


def _slice_check(criterion, verdicts, golds, shown,
                 slices) -> tuple[list[int], list[float], list[bool], list[dict], list]:  # fmt: skip
    """The judge's verdicts on held-out gold for ``criterion``: their items, its raw confidence in
    each verdict and whether it equals gold; with ``slices``, only those outside the slices
    ``agreement.slice_audit`` flags as overconfident there (docs/triage.md, section 2). Also the
    audit per slice, and the flagged slices."""
    key = criterion.key
    ids, confidences, correct = [], [], []
    for item_id, (values, dist) in verdicts.items():
        truth = (golds.get(item_id) or {}).get(key)
        if truth is None or item_id in shown or values.get(key) is None:
            continue
        ids.append(item_id)
        confidences.append(float(dist.get(key, {}).get(point_label(criterion.scale, values[key]), 0.0)))
        correct.append(values[key] == truth)
    if slices is None or not ids:
        return ids, confidences, correct, [], []
    keep, report, flagged = slices_flag([slices.get(i) for i in ids], correct, confidences)
    return [ids[n] for n in keep], [confidences[n] for n in keep], [correct[n] for n in keep], report, flagged


def _own_weight(criterion, verdicts, golds, ids: list[int], landing) -> float:
    """How much of the judge's own distribution to keep for where its errors land, beside the rater
    model's ``landing`` (``agreement.own_weight_fit``), on the held-out gold it was calibrated on."""
    points = criterion_points(criterion) or []
    dists, at, truths = [], [], []
    for item_id in ids:
        reported, truth = judge_reported(criterion, verdicts[item_id][1]), golds[item_id][criterion.key]
        if reported is not None and truth in points:
            dists.append(reported[0])
            at.append(reported[1])
            truths.append(points.index(truth))
    return agreement.own_weight_fit(dists=dists, verdict_indices=at, truth_indices=truths, landing=landing)


def _criterion_fit(project, policy, criterion, golds, shown, verdicts, human, slices, *,
                   alone: bool) -> dict[str, Any]:  # fmt: skip
    key, points, level = criterion.key, criterion_points(criterion) or [], posterior_level(criterion)
    fit: dict[str, Any] = {"calibration": None, "calibration_items": 0}
    # Outside the flagged slices, as in the benchmark (benchmarks/_triage_posterior.py): inside them
    # the judge's calibration would not hold, so it is neither calibrated on them, nor their
    # difficulty covariate, nor their prior, nor a reason for the judge to settle them alone.
    gold_ids, confidences, correct, fit["slices"], fit["excluded_slices"] = _slice_check(
        criterion, verdicts, golds, shown, slices)  # fmt: skip
    excluded = set(fit["excluded_slices"])
    fit["calibration_items"] = len(confidences)
    if len(confidences) >= MIN_CALIBRATION_ITEMS:
        fit["calibration"] = agreement.calibration_map_fit(confidences=confidences, correct=correct).as_dict()
    dists, covariates, verdict_p = {}, {}, {}
    if fit["calibration"]:
        for item_id, (_, dist) in verdicts.items():
            if slices is not None and slices.get(item_id) in excluded:
                continue
            calibrated = judge_distribution(criterion, dist, fit)
            covariate, p = judge_covariate(criterion, dist), judge_calibrated(criterion, dist, fit)
            if calibrated is not None and covariate is not None and p is not None:
                dists[item_id], covariates[item_id], verdict_p[item_id] = calibrated, covariate, p
    rows = [(i, r, v[key]) for i, r, v in human if v.get(key) is not None]
    model = agreement.rater_model_fit(
        units=[i for i, _, _ in rows], raters=[r for _, r, _ in rows], values=[v for _, _, v in rows],
        points=points, level=level, gold={i: g[key] for i, g in golds.items() if g.get(key) is not None},
        unit_prior=dists, covariates=covariates,
    )  # fmt: skip
    sample = random.Random(project.pk).sample(sorted(dists), min(len(dists), TARGET_SAMPLE))
    if fit["calibration"]:
        # Where the truth lies when the judge is wrong comes from the model just fitted, so the
        # distributions the model started from kept the judge's own share (the model moves little
        # with it); the target and the gate are chosen with the distributions the decisions use.
        errors = agreement.posterior.error_spread(len(points), level, model.error_decay, model.errors)
        landing = agreement.judge_landing(prior=model.prior, errors=errors)
        fit["judge_landing"] = [[round(float(x), 6) for x in row] for row in landing]
        fit["judge_own_weight"] = _own_weight(criterion, verdicts, golds, gold_ids, landing)
        dists |= {i: judge_distribution(criterion, verdicts[i][1], fit) for i in sample}
    common = {"points": points, "level": level, "rater_accuracies": list(model.accuracy.values()) or [model.pooled],
              "prior": model.prior, "max_overlap": project.annotations_per_item, "error_decay": model.error_decay,
              "error_matrix": model.errors, "reference_overlap": project.annotations_per_item}  # fmt: skip
    # Items without a calibrated verdict start from the base rate: they need their own target.
    plain = agreement.posterior_target_choose(**common, min_overlap=project.overlap_min or 1)
    choice, alone_from = plain, None
    if sample:
        # With the judge, the target comes with the judge-alone gate (none unless judge first; a gate
        # only where gold shows the judge reaches the target and it saves ratings).
        gold_calibrated = agreement.CalibrationMap.from_dict(fit["calibration"]).apply(confidences)
        decided = agreement.judge_alone_choose(
            **common, judge_dists=[dists[i] for i in sample], min_overlap=project.overlap_min or 1,
            accuracy_shift=[model.shift(covariates[i]) for i in sample], calibrated=[verdict_p[i] for i in sample],
            gold_calibrated=gold_calibrated if alone else [], gold_correct=correct if alone else [],
        )  # fmt: skip
        choice, alone_from = decided.choice, decided.threshold
    return {
        **fit,
        "prior": list(model.prior),
        "pooled": model.pooled,
        "error_decay": model.error_decay,
        "error_matrix": model.as_dict()["errors"],
        "difficulty_slope": model.difficulty_slope,
        "covariate_center": model.covariate_center,
        "accuracy": {str(r): a for r, a in model.accuracy.items()},
        "ratings": model.ratings,
        "target": choice.target,
        "target_without_judge": plain.target,
        "judge_alone_from": alone_from,
        "expected_accuracy": choice.expected_accuracy,
        "expected_ratings": choice.expected_ratings,
        "reference_accuracy": choice.reference_accuracy,
        "reference_without_judge": plain.reference_accuracy,
    }


@dataclass(frozen=True)
class FitRequest:
    """What "Fit now" did: fitted in the request (``policy`` and ``decision`` are the new fit's),
    or ``queued`` on a worker because the project is too large to fit inside a request."""

    queued: bool
    ratings: int
    policy: ApprovalPolicy | None = None
    decision: ProjectDecision | None = None


def posterior_fit_size(*, project: Project) -> tuple[bool, int]:
    """Whether the project is small enough to fit its model inside a web request (about
    ``ACCORD_INLINE_WORK_LIMIT``: its ratings, and the items the rule approved, which the fit reads
    again for ``reopen_below``), and the ratings the fit would read."""
    ratings = Rating.objects.filter(item__project=project, rubric_version_id=project.rubric_version_id).count()
    settled = settled_items(project_id=project.pk).count()
    return dispatch.fits_inline(work=ratings * WORK_PER_RATING + settled * WORK_PER_SETTLED_ITEM), ratings


def posterior_fit_queue(*, project: Project) -> None:
    """Fit the model on a worker once the current transaction commits; the page and the policy's
    JSON say a fit is running (``posterior_fit_state``) until ``posterior_fit_run`` has stored it."""
    cache.set(_QUEUED.format(project.pk), timezone.now(), timeout=FIT_STATE_SECONDS)
    cache.delete(_FAILED.format(project.pk))
    dispatch.posterior_fit_later(project_id=project.pk)


def posterior_fit_request(*, project: Project) -> FitRequest:
    """Fit the model now when the project is small enough for a web request, else queue it on a
    worker (``posterior_fit_queue``)."""
    inline, ratings = posterior_fit_size(project=project)
    if inline:
        policy, decision = posterior_model_fit(project=project)
        return FitRequest(queued=False, ratings=ratings, policy=policy, decision=decision)
    posterior_fit_queue(project=project)
    return FitRequest(queued=True, ratings=ratings)


def posterior_fit_run(*, project_id: int) -> None:
    """A queued fit, on a worker. Why it failed, if it did, is kept for the policy page."""
    project = Project.objects.select_related("rubric_version").filter(pk=project_id).first()
    try:
        if project is not None:
            posterior_model_fit(project=project)
    except ValidationError as exc:
        cache.set(_FAILED.format(project_id), " ".join(exc.messages), timeout=FIT_STATE_SECONDS)
    finally:
        cache.delete(_QUEUED.format(project_id))


def posterior_fit_state(*, project_id: int) -> tuple[datetime | None, str]:
    """When a fit still running on a worker was asked for (None: none is), and why the last
    queued fit failed ("" when it did not)."""
    return cache.get(_QUEUED.format(project_id)), cache.get(_FAILED.format(project_id)) or ""


def posterior_model_fit(*, project: Project) -> tuple[ApprovalPolicy, ProjectDecision]:
    """Fit the posterior rule's model on the project's ratings and gold, store it on the policy
    and re-decide the project (its items then stop, or ask for one more rating, by the new fit)."""
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_for(project=project).pk)
        policy.posterior_model = posterior_model_compute(project=project, policy=policy)
        _reopen_set(project=project, policy=policy)
        policy.save(update_fields=["posterior_model", "updated_at"])
    return policy, project_decide(project=project)


def _reopen_set(*, project: Project, policy: ApprovalPolicy) -> None:
    """Per criterion, below which posterior the new fit reopens an item the rule approved under an
    earlier one (``reopen_below``, ``agreement.reopen_below``): only as many, least sure first, as
    the items need to be as accurate on average as the target promises (fixed overlap's accuracy
    under this fit). Reopening every one below the new target would ratchet: each fit's noise
    reopens a few more and none is closed by it (docs/triage.md, section 3b). Not with a target
    the manager set: then every item answers to it."""
    if policy.stopping_target is not None:
        return
    settled = posteriors_of_settled(project=project, policy=policy)
    for key, fit in policy.posterior_model["criteria"].items():
        rows = settled.get(key)
        if rows:
            fit["reopen_below"] = agreement.reopen_below(
                probabilities=[p for p, _ in rows],
                targets=[fit["target"] if judged else fit["target_without_judge"] for _, judged in rows],
                references=[fit["reference_accuracy"] if judged else fit["reference_without_judge"]
                            for _, judged in rows],
            )  # fmt: skip


def posterior_refit_at(model: dict) -> tuple[int, int] | None:
    """The human ratings and gold items at which a stored fit is fitted again on its own (either
    one reached), by ``ACCORD_POSTERIOR_REFIT_GROWTH_PERCENT``; None when that is off or nothing
    was fitted."""
    growth = settings.POSTERIOR_REFIT_GROWTH_PERCENT
    if growth <= 0 or not model.get("fitted_at"):
        return None
    ratings, gold = int(model.get("human_ratings") or 0), int(model.get("gold_items") or 0)
    return (max(ratings + REFIT_MIN_RATINGS, -(-ratings * (100 + growth) // 100)),
            max(gold + REFIT_MIN_GOLD, -(-gold * (100 + growth) // 100)))  # fmt: skip


def posterior_refit_due(*, project: Project, policy: ApprovalPolicy) -> bool:
    """Whether the project's stored fit should be made again: its rubric version is not the
    project's, or its human ratings or gold items reached ``posterior_refit_at``."""
    model = policy.posterior_model or {}
    at = posterior_refit_at(model)
    if policy.stopping_rule != POSTERIOR or at is None:
        return False
    if model.get("rubric_version") != project.rubric_version_id:
        return True
    version = project.rubric_version_id
    ratings = Rating.objects.filter(item__project=project, rubric_version_id=version, rater__kind=RaterKind.HUMAN)
    gold = Gold.objects.filter(item__project=project, rubric_version_id=version)
    return ratings.count() >= at[0] or gold.count() >= at[1]


def posterior_refits_queue() -> list[int]:
    """Queue a fit on a worker (``posterior_fit_queue``) for every project under the posterior rule
    whose fit is due and not already queued; returns their ids. What Celery beat runs (quality.tasks)."""
    queued = []
    for policy in ApprovalPolicy.objects.filter(stopping_rule=POSTERIOR).select_related("project").order_by("pk"):
        project = policy.project
        running = posterior_fit_state(project_id=project.pk)[0] is not None
        if not running and posterior_refit_due(project=project, policy=policy):
            posterior_fit_queue(project=project)
            queued.append(project.pk)
    return queued
