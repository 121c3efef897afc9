"""Adaptive overlap's two stopping rules, applied to one item by the approval service
(services/approval.py) and its preview (services/policy_preview.py), never anything else.

* ``agreement`` (the default): one more rating while raters disagree, or a judge disagrees with
  too few of them (``agreement.overlap_next`` with the policy's consensus rule).
* ``posterior``: one more rating while the most probable label's posterior is below the target
  (``agreement.overlap_next_posterior``), given each rater's accuracy and, where the judge version
  was calibrated on gold, the judge's calibrated distribution. The label is the posterior's mode,
  on ordinal scales too. The model is fitted by services/posterior.py and stored on the policy
  (``ApprovalPolicy.posterior_model``); until the first fit is stored the agreement rule decides
  (``posterior_in_force``); with a fit of another rubric version, raters count as 0.8 accurate on
  a uniform prior and the target is ``stopping_target`` or 0.95. Where the judge takes part, each rater's
  accuracy is moved by the item's difficulty (the judge's own confidence, by the fitted slope).
  Criteria without a finite set of points (interval, ratio) keep the agreement rule. Under judge
  first, the calibrated judge may settle an item with no human where the fit allows it
  (``judge_alone_labels``). Items of a slice the fit flagged (``ApprovalPolicy.slice_by``: the
  judge confidently wrong there on gold) are decided as if there were no judge on that criterion,
  and never by a judge alone (``judge_excluded``). An item the rule approved stays approved under
  a newer fit while its posterior is at or above that fit's ``reopen_below`` (services/posterior.py:
  a fit reopens settled items only as far as the target's promise, an average, needs).
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import QuerySet

import agreement
from annotation.models import ApprovedBy, Item, ItemStatus
from quality.consensus import consensus_of, consensus_rule
from quality.models import ApprovalPolicy
from rubrics.models import Criterion
from rubrics.scales import ScaleKind, point_label

POSTERIOR = "posterior"
SETTLED_REASON = "posterior reached the target"
DEFAULT_TARGET = 0.95
DEFAULT_ACCURACY = 0.8


def posterior_in_force(policy: ApprovalPolicy) -> bool:
    """Whether the posterior rule decides: chosen, and its model stored. After the first switch to
    it a large project's model is fitted on a worker (services/policy.py); until that fit is stored
    the agreement rule keeps deciding, so items never stop on unfitted defaults by surprise."""
    return policy.stopping_rule == POSTERIOR and bool((policy.posterior_model or {}).get("fitted_at"))


def posterior_fit_pending(*, policy: ApprovalPolicy) -> bool:
    """The posterior rule is chosen but no fit is stored yet (the agreement rule decides meanwhile)."""
    return policy.stopping_rule == POSTERIOR and not (policy.posterior_model or {}).get("fitted_at")


def criterion_points(criterion: Criterion) -> list[Any] | None:
    """The values a rating can take on ``criterion``, in scale order (None: not a finite scale)."""
    scale = criterion.scale
    if criterion.kind == ScaleKind.BINARY:
        return [False, True]
    if criterion.kind == ScaleKind.CATEGORICAL:
        return list(scale["choices"])
    if criterion.kind == ScaleKind.ORDINAL:
        return list(range(int(scale["min"]), int(scale["max"]) + 1))
    return None


def posterior_level(criterion: Criterion) -> agreement.posterior.PosteriorLevel:
    return "ordinal" if criterion.kind == ScaleKind.ORDINAL else "nominal"


def judge_reported(criterion: Criterion, distribution: dict | None) -> tuple[list[float], int] | None:
    """The judge's stored distribution over ``criterion``'s points (NaN where not reported) and the
    index of its verdict (the most probable point), or None without one."""
    points = criterion_points(criterion)
    probs = (distribution or {}).get(criterion.key)
    if points is None or not probs:
        return None
    dist = [float(probs.get(point_label(criterion.scale, p), float("nan"))) for p in points]
    if not [d for d in dist if d == d]:
        return None
    return dist, max(range(len(points)), key=lambda i: dist[i] if dist[i] == dist[i] else -1.0)


def judge_covariate(criterion: Criterion, distribution: dict | None) -> float | None:
    """The item's difficulty covariate (``agreement.difficulty_covariate``): the logit of the
    probability the judge's stored distribution gives its verdict, before calibration."""
    reported = judge_reported(criterion, distribution)
    return None if reported is None else agreement.difficulty_covariate(reported[0][reported[1]])


def judge_calibrated(criterion: Criterion, distribution: dict | None, fit: dict) -> float | None:
    """The calibrated probability that the judge's verdict is right (its calibration map applied to
    the probability its stored distribution gave the verdict), or None without a map."""
    reported = judge_reported(criterion, distribution)
    if reported is None or not fit.get("calibration"):
        return None
    dist, top = reported
    return float(agreement.CalibrationMap.from_dict(fit["calibration"]).apply([dist[top]])[0])


def judge_distribution(criterion: Criterion, distribution: dict | None, fit: dict) -> list[float] | None:
    """The judge's calibrated distribution over ``criterion``'s points from its stored verdict
    (``Rating.distribution``), or None when the criterion has no calibration map."""
    calibrated = judge_calibrated(criterion, distribution, fit)
    reported = judge_reported(criterion, distribution)
    if calibrated is None or reported is None:
        return None
    dist, top = reported
    landing, own_weight = fit.get("judge_landing"), fit.get("judge_own_weight")
    # Fits stored before the landing have none: the judge's own share of the rest, as they were fitted.
    rest = {} if landing is None or own_weight is None else {"landing": landing[top], "own_weight": float(own_weight)}
    return [float(x) for x in agreement.calibrate_distribution(dist, verdict_index=top, calibrated=calibrated, **rest)]


def item_slice(metadata: dict | None, key: str) -> Any:
    """The slice an item belongs to under the policy's ``slice_by``: its metadata value for ``key``
    (a string as is, anything else as its JSON text; None: the item has no such value, which is a
    slice of its own). The fit (services/posterior.py) and the decisions below use this one map."""
    value = (metadata or {}).get(key)
    return value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True)


def slices_flag(slices: list, correct: list[bool], confidences: list[float],
                target: float | None = None) -> tuple[list[int], list[dict], list]:  # fmt: skip
    """``agreement.slice_audit`` on gold verdicts (each one's slice, whether it was right, the
    judge's confidence): the positions outside the flagged slices, the audit per slice (JSON) and
    the flagged slices. The posterior fit and the routing threshold both check slices with it."""
    audit = agreement.slice_audit(slices, correct, confidences, target=target)
    flagged = [a.slice for a in audit if a.overconfident]
    keep = [n for n, s in enumerate(slices) if s not in flagged]
    return keep, [a.as_dict() for a in audit], flagged


def in_flagged_slice(item: Item, key: str | None, excluded: list | None) -> bool:
    """Whether ``item``'s slice under ``key`` is one of the ``excluded`` (flagged) slices."""
    return bool(key and excluded) and item_slice(item.metadata, key) in excluded


def _slice_excluded(fit: dict, model: dict, item: Item) -> bool:
    """The fit flagged the item's slice: the judge was confidently wrong there on gold, so neither
    its verdict nor its confidence counts on this criterion for this item (people decide it)."""
    return in_flagged_slice(item, model.get("slice_by"), fit.get("excluded_slices"))


def judge_excluded(item: Item, criteria: Sequence[Criterion], policy: ApprovalPolicy) -> bool:
    """Under the posterior rule in force, whether the item is in a slice its fit flagged on any
    scored criterion: then no judge decides it alone, by the posterior's gate or a routing threshold."""
    if not posterior_in_force(policy):
        return False
    model = policy.posterior_model
    return any(_slice_excluded(_fit_of(c, policy, item), model, item) for c in criteria if c.agreement_level)


def _fit_of(criterion: Criterion, policy: ApprovalPolicy, item: Item) -> dict:
    """The stored fit for ``criterion`` ({} when there is none for the item's rubric version)."""
    points = criterion_points(criterion) or []
    model = policy.posterior_model or {}
    # A fit of another rubric version may have another scale: ignore it until the next fit.
    fitted = model.get("rubric_version") == item.project.rubric_version_id
    fit = model.get("criteria", {}).get(criterion.key, {}) if fitted else {}
    return {} if len(fit.get("prior") or points) != len(points) else fit


_SETTLED = {"status": ItemStatus.APPROVED, "approved_by": ApprovedBy.CONSENSUS, "decision_reason": SETTLED_REASON}


def settled_by_posterior(item: Item) -> bool:
    """Whether the posterior rule approved the item (a later fit keeps it down to ``reopen_below``)."""
    return all(getattr(item, field) == value for field, value in _SETTLED.items())


def settled_items(*, project_id: int) -> QuerySet[Item]:
    """The project's items for which ``settled_by_posterior`` holds (a new fit reads them again)."""
    return Item.objects.filter(project_id=project_id, **_SETTLED)


def _posterior_one(criterion: Criterion, policy: ApprovalPolicy, item: Item, values: list, raters: list,
                   judge_dist: dict | None, min_overlap: int | None = None) -> agreement.PosteriorDecision:  # fmt: skip
    decision, fit, _ = _posterior_of(criterion, policy, item, values, raters, judge_dist, min_overlap)
    keep = fit.get("reopen_below")
    if (decision.needs_rating and keep is not None and policy.stopping_target is None and settled_by_posterior(item)
            and decision.ratings >= (item.project.overlap_min or 1) and decision.probability >= keep):  # fmt: skip
        return replace(decision, action="settled", reason="settled before; the fit's average needs no more")
    return decision


def _posterior_of(criterion: Criterion, policy: ApprovalPolicy, item: Item, values: list, raters: list,
                  judge_dist: dict | None, min_overlap: int | None,
                  ) -> tuple[agreement.PosteriorDecision, dict, bool]:  # fmt: skip
    """The posterior rule's decision on one criterion under the stored fit, that fit, and whether
    the calibrated judge took part (which target the item answers to)."""
    points = criterion_points(criterion)
    assert points is not None
    project = item.project
    fit = _fit_of(criterion, policy, item)
    accuracy = fit.get("accuracy", {})
    pooled = fit.get("pooled", DEFAULT_ACCURACY)
    if _slice_excluded(fit, policy.posterior_model or {}, item):
        judge_dist = None  # a flagged slice: the item starts from the base rate, at the center
    calibrated = judge_distribution(criterion, judge_dist, fit)
    # Item difficulty (services/posterior.py): where the calibrated judge takes part, every rater's
    # accuracy moves with how sure the judge was of this item, by the fitted slope.
    shift = 0.0
    if calibrated is not None and (covariate := judge_covariate(criterion, judge_dist)) is not None:
        shift = float(fit.get("difficulty_slope", 0.0)) * (covariate - float(fit.get("covariate_center", 0.0)))
    fitted_target = fit.get("target") if calibrated is not None else fit.get("target_without_judge")
    target = policy.stopping_target or fitted_target or DEFAULT_TARGET
    decision = agreement.overlap_next_posterior(
        points=points,
        level=posterior_level(criterion),
        target=float(target),
        min_overlap=(project.overlap_min or 1) if min_overlap is None else min_overlap,
        max_overlap=project.annotations_per_item,
        prior=fit.get("prior"),
        judge_dist=calibrated,
        ratings=values,
        rater_accuracy=[agreement.shifted_accuracy(float(accuracy.get(str(r), pooled)), shift) for r in raters],
        error_decay=float(fit.get("error_decay", agreement.posterior.DEFAULT_ERROR_DECAY)),
        # Fits stored before the error matrix have none: the decay's fixed form, as they were fitted.
        error_matrix=fit.get("error_matrix"),
    )
    return decision, fit, calibrated is not None


def judge_alone_labels(item: Item, criteria: Sequence[Criterion], policy: ApprovalPolicy,
                       judge_dist: dict | None) -> dict[str, Any] | None:  # fmt: skip
    """The labels the calibrated judge settles ``item`` on with no human rating, or None.

    Under the posterior rule only, on every scored criterion: the fit chose a gate
    (``judge_alone_from``, ``agreement.judge_alone_choose``: shown on gold to reach the target it
    came with), the judge's calibrated probability reaches it, and the posterior with no rating
    reaches the target. The caller checks the rest (judge first, a trusted routing judge that is
    the calibrated one, not audited, no human rating yet)."""
    if not posterior_in_force(policy) or item.project.overlap_min is None or not judge_dist:
        return None
    labels: dict[str, Any] = {}
    for criterion in criteria:
        if criterion.agreement_level is None:
            continue
        fit = _fit_of(criterion, policy, item)
        if _slice_excluded(fit, policy.posterior_model, item):
            return None
        gate, calibrated = fit.get("judge_alone_from"), judge_calibrated(criterion, judge_dist, fit)
        if criterion_points(criterion) is None or gate is None or calibrated is None or calibrated < gate:
            return None
        decision = _posterior_one(criterion, policy, item, [], [], judge_dist, min_overlap=0)
        if decision.action != "settled":
            return None
        labels[criterion.key] = decision.label
    return labels or None


def _ratings_on(criterion: Criterion, human: list[dict], raters: list[int]) -> tuple[list, list[int]]:
    """The human ratings' values on ``criterion`` and who gave each (ratings without one left out)."""
    pairs = [(r[criterion.key], who) for r, who in zip(human, raters, strict=True) if r.get(criterion.key) is not None]
    return [v for v, _ in pairs], [w for _, w in pairs]


def _posterior_applies(criterion: Criterion, values: list) -> bool:
    points = criterion_points(criterion)
    return points is not None and all(v in points for v in values)


def settled_posteriors(item: Item, criteria: Sequence[Criterion], policy: ApprovalPolicy, human: list[dict],
                       raters: list[int], judge_dist: dict | None) -> dict[str, tuple[float, bool]]:  # fmt: skip
    """Per criterion the posterior rule decides, the probability of the item's label under the
    policy's fit (stored or not) and whether the calibrated judge took part."""
    out = {}
    for criterion in criteria:
        values, who = _ratings_on(criterion, human, raters) if criterion.agreement_level else ([], [])
        if values and _posterior_applies(criterion, values):
            decision, _, with_judge = _posterior_of(criterion, policy, item, values, who, judge_dist, None)
            out[criterion.key] = (decision.probability, with_judge)
    return out


@dataclass(frozen=True)
class Stop:
    """One item's decision under a stopping rule: ``action`` as ``agreement.overlap_combine``;
    ``labels``: the posterior's label per posterior criterion; ``why``: the first reason to rate."""

    action: str
    labels: dict[str, Any]
    why: str


def stop_decide(item: Item, criteria: Sequence[Criterion], policy: ApprovalPolicy, human: list[dict],
                raters: list[int], judge: dict | None, judge_dist: dict | None) -> Stop:  # fmt: skip
    """Each scored criterion under the policy's rule (the posterior one where the criterion has a
    finite scale and the policy asks for it), combined: rate while any criterion needs a rating."""
    project = item.project
    posterior = posterior_in_force(policy)
    decisions, labels, why = [], {}, ""
    for criterion in criteria:
        if criterion.agreement_level is None:
            continue
        values, who = _ratings_on(criterion, human, raters)
        if not values:
            continue  # a required one is missing: consensus_of fails it, review decides
        if posterior and _posterior_applies(criterion, values):
            p = _posterior_one(criterion, policy, item, values, who, judge_dist)
            labels[criterion.key] = p.label
            decision = agreement.OverlapDecision(p.action, p.label, p.ratings, p.reason)
        else:
            decision = agreement.overlap_next(
                values=values,
                rule=consensus_rule(criterion=criterion, policy=policy),
                min_overlap=project.overlap_min or 1,
                max_overlap=project.annotations_per_item,
                judge_value=(judge or {}).get(criterion.key),
            )
        decisions.append(decision)
        if decision.needs_rating and not why:
            why = f"{decision.reason} on {criterion.key}"
    action = agreement.overlap_combine(decisions) if decisions else "settled"
    return Stop(action, labels, why)


def posterior_decide(item: Item, criteria: Sequence[Criterion], policy: ApprovalPolicy, human: list[dict],
                     stop: Stop, decide: Callable[..., bool]) -> bool:  # fmt: skip
    """Approve a settled item on the posterior's labels (the agreement rule's consensus for the
    other criteria), or send an exhausted one to review with the posterior's best guess."""
    consensus, disagreement, failing = consensus_of(criteria=criteria, ratings=human, policy=policy)
    consensus = {**consensus, **stop.labels}
    failing = [key for key in failing if key not in stop.labels]
    if stop.action == "settled" and not failing:
        reason = SETTLED_REASON if stop.labels else ""
        return decide(item, status=ItemStatus.APPROVED, approved_by=ApprovedBy.CONSENSUS, consensus=consensus,
                      disagreement=disagreement, reason=reason)  # fmt: skip
    why = "posterior below the target at the maximum" if stop.action == "exhausted" else "no consensus"
    keys = failing or list(stop.labels)
    return decide(item, status=ItemStatus.NEEDS_REVIEW, consensus=consensus, disagreement=disagreement,
                  reason=f"{why} on " + ", ".join(keys))  # fmt: skip
