"""Approval: one idempotent service decides each item from its ratings and the policy.

Order of authority: a reviewer's gold, then agreeing humans (``annotations_per_item`` human
ratings that reach consensus on every non-text criterion), then, if the policy allows, a judge
trusted on every criterion for items that lack human ratings (never for the audit sample).
Anything else either waits for more ratings or goes to review. Re-running it on unchanged data changes nothing.

Two verbs: ``items_decide`` decides the given items now (after a rating, a gold, an import);
``project_decide`` re-decides a whole project after its rules changed (policy, trust, rubric
version, overlap): at once when that is cheap, else on a worker (quality/dispatch.py).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import ApprovedBy, Gold, Item, ItemStatus, Project, RaterKind
from annotation.services.queue import item_lock
from config.errors import Conflict
from quality import dispatch
from quality.audit_gold import (
    AUDIT_REASON,
    audit_decide,
    audit_minimum_reached,
    audit_review_requests_make,
    audit_to_reviewer_only,
)
from quality.consensus import consensus_of
from quality.models import ReviewRequest
from quality.selectors.routing import routing_slice_excluded
from quality.services.agreement_reports import agreement_reports_refresh_after_change
from quality.services.approval_reads import JUDGE_FIRST, ChunkRead, chunk_read, trust_needed
from quality.services.decision_writes import DECISION_FIELDS, DecisionBatch, decision_apply
from quality.stopping import (
    judge_alone_labels,
    judge_excluded,
    posterior_decide,
    posterior_in_force,
    settled_items,
    settled_posteriors,
    stop_decide,
)
from rubrics.models import Criterion
from rubrics.selectors import criteria_of

_OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_PROGRESS, ItemStatus.ANNOTATED)


def _open_status_of(item: Item, human_ratings: int) -> str | None:
    """Where an open item (pending / in_progress / annotated) stands by its human ratings; None
    for items a reviewer or the approval gate has decided (those states belong to the gate)."""
    if item.status not in _OPEN_STATUSES:
        return None
    if human_ratings >= item.project.target_of(item):
        return ItemStatus.ANNOTATED
    return ItemStatus.IN_PROGRESS if human_ratings > 0 else ItemStatus.PENDING


def _decide(item: Item, **decision) -> bool:
    """Decide one item and save it at once (the single-item verbs below); ``items_decide``
    collects its decisions and writes them in bulk (services/decision_writes.py)."""
    changed, overlap_moved = decision_apply(item, **decision)
    if overlap_moved:
        Item.objects.filter(pk=item.pk).update(overlap_target=item.overlap_target)
    if changed:
        item.save(update_fields=DECISION_FIELDS)
    return changed


def _trusted_judges(criteria: Sequence[Criterion], trust: Iterable[tuple[int, str]]) -> set[int]:
    """Raters trusted (``trust``: rater, criterion key) on every non-text criterion of the version."""
    keys = {c.key for c in criteria if c.agreement_level is not None}
    if not keys:
        return set()
    per_rater: dict[int, set[str]] = {}
    for rater_id, key in trust:
        if key in keys:
            per_rater.setdefault(rater_id, set()).add(key)
    return {rater for rater, trusted in per_rater.items() if trusted == keys}


def items_decide(*, project: Project, item_ids: Iterable[int]) -> int:
    """Decide the given items of ``project``; returns how many changed. Idempotent.

    Each chunk locks its items, then reads the policy and judge trust: two evaluations of one
    item (a rating and a background re-evaluation after a policy change) take turns, and the
    later one decides by the rules current when it ran. Ratings changed, so the project's stored
    agreement report is queued for a recompute after commit.
    """
    item_ids = sorted(set(item_ids))  # one lock order for every caller
    if not item_ids:
        return 0
    criteria = criteria_of(version=project.rubric_version)
    changed = 0
    for start in range(0, len(item_ids), 2_000):
        chunk = item_ids[start : start + 2_000]
        # No savepoint: nothing here catches a failure, and inside a rating's transaction a
        # savepoint would cost two round trips per rating.
        with transaction.atomic(savepoint=False):
            read = chunk_read(project=project, item_ids=chunk, lock=True)  # one round trip on PostgreSQL
            items, policy = read.items, read.policy
            if not start:  # once: the report rows, if any, came with the first chunk's read
                agreement_reports_refresh_after_change(project_id=project.pk, reports=read.reports)
            inputs, confidence = _inputs_from(criteria, policy, read)
            _queue_confidence_set(items, confidence)
            batch = DecisionBatch()  # decisions written in bulk, while the chunk's locks are held
            moved: dict[str, list[int]] = {}
            for item, item_inputs in zip(items, inputs, strict=True):
                # Open items follow their human ratings; the rule may then decide otherwise, and
                # its write (the batch's) carries the status too.
                wanted = _open_status_of(item, len(item_inputs[1]))
                refreshed = wanted is not None and wanted != item.status
                if refreshed:
                    item.status = wanted
                decided = _evaluate_one(item, criteria, policy, *item_inputs, decide=batch)
                changed += decided
                if refreshed and not decided:
                    moved.setdefault(item.status, []).append(item.pk)
            batch.write()
            for status, ids in moved.items():
                Item.objects.filter(id__in=ids, status__in=_OPEN_STATUSES).update(status=status)
            audit_review_requests_make(items=items)
    return changed


def posteriors_of_settled(*, project: Project, policy) -> dict[str, list[tuple[float, bool]]]:
    """Every item the posterior rule approved (no gold), under ``policy``'s fit (stored or not):
    per criterion, the probability of its label and whether the calibrated judge took part
    (services/posterior.py sets from them how far a new fit reopens such items)."""
    criteria = criteria_of(version=project.rubric_version)
    settled = settled_items(project_id=project.pk).select_related("project").order_by("pk")
    out: dict[str, list[tuple[float, bool]]] = {}
    for start in range(0, settled.count(), 2_000):
        items = list(settled[start : start + 2_000])
        inputs, _ = _inputs_of(project, criteria, policy, items)
        for item, (gold, human, *_, (raters, judge_dist, _alone)) in zip(items, inputs, strict=True):
            if gold is None:
                for key, row in settled_posteriors(item, criteria, policy, human, raters, judge_dist).items():
                    out.setdefault(key, []).append(row)
    return out


def _inputs_of(project: Project, criteria, policy, items: Sequence[Item]) -> tuple[list[tuple], dict]:
    """``_inputs_from`` for ``items`` under ``policy`` (which need not be stored: a preview's),
    read without locks."""
    read = chunk_read(project=project, item_ids=[item.pk for item in items], lock=False, policy=policy)
    return _inputs_from(criteria, policy, replace(read, items=list(items)))


def _inputs_from(criteria, policy, read: ChunkRead) -> tuple[list[tuple], dict]:
    """What decides each of ``read.items`` (in order): its gold, its human ratings, the values of a
    judge allowed to decide it, a standing review request, the first verdict of any judge
    (adaptive overlap's check), the human ratings' raters with the calibrated judge's
    distribution (the posterior rule's evidence); and, under judge first, the routing judge's
    confidence per item."""
    judge_first = policy.routing == JUDGE_FIRST and policy.routing_rater_id is not None
    trusted = _trusted_judges(criteria, read.trust) if trust_needed(policy) else set()
    # Slices flagged with the threshold: there the judge's confidence was not borne out on gold.
    flagged = {i.pk for i in read.items if judge_first and routing_slice_excluded(item=i, policy=policy)}
    human: dict[int, list[dict]] = {}
    raters: dict[int, list[int]] = {}
    calibrated_judge = (policy.posterior_model or {}).get("judge")
    distributions: dict[int, dict] = {}
    judged: dict[int, dict] = {}
    any_judge: dict[int, dict] = {}
    confidence: dict[int, float | None] = {}
    for item_id, rater_id, kind, values, conf, dist in read.ratings:
        if kind == RaterKind.HUMAN:
            human.setdefault(item_id, []).append(values)
            raters.setdefault(item_id, []).append(rater_id)
            continue
        any_judge.setdefault(item_id, values)
        if rater_id == calibrated_judge:
            distributions[item_id] = dist
        if judge_first:
            if rater_id == policy.routing_rater_id:
                confidence[item_id] = conf
                # Judge first: only a trusted judge's verdicts at or above the threshold decide,
                # outside the flagged slices (their items go to people like any unsure one).
                if rater_id in trusted and _confident(conf, policy.routing_threshold) and item_id not in flagged:
                    judged[item_id] = values
        elif rater_id in trusted:
            judged.setdefault(item_id, values)
    # The posterior rule's judge alone: judge first, its routing judge trusted and the calibrated one.
    alone = judge_first and policy.routing_rater_id in trusted and calibrated_judge == policy.routing_rater_id
    inputs = [
        (read.golds.get(i), human.get(i, []), judged.get(i), read.requests.get(i), any_judge.get(i),
         (raters.get(i, []), distributions.get(i), alone))
        for i in (item.pk for item in read.items)
    ]  # fmt: skip
    return inputs, confidence


def _confident(confidence: float | None, threshold: float | None) -> bool:
    return confidence is not None and threshold is not None and confidence >= threshold


def _queue_confidence_set(items: list[Item], confidence: dict[int, float | None]) -> None:
    """Judge first: the queue serves the least confident verdicts first (Item.queue_confidence)."""
    moved = [i for i in items if i.queue_confidence != confidence.get(i.pk)]
    for item in moved:
        item.queue_confidence = confidence.get(item.pk)
    Item.objects.bulk_update(moved, ["queue_confidence"], batch_size=2_000)


def _evaluate_one(
    item: Item,
    criteria,
    policy,
    gold: Gold | None,
    human: list[dict],
    judged: dict | None,
    requested: str | None = None,
    judge: dict | None = None,
    evidence: tuple[list[int], dict | None, bool] | None = None,
    *,
    decide=None,
) -> bool:
    """Decide one item; ``decide`` (default ``_decide``, which saves) receives the outcome, so a
    preview can run this very rule without writing (quality/services/policy_preview.py)."""
    decide = decide or _decide
    if item.status == ItemStatus.REJECTED and item.approved_by == "":
        return False  # an explicit rejection stands until someone reverses it
    if gold is not None:
        return decide(item, status=ItemStatus.APPROVED, approved_by=ApprovedBy.REVIEWER, consensus=gold.values)
    if audit_to_reviewer_only(item, policy):
        return decide(item, status=ItemStatus.NEEDS_REVIEW, consensus=item.consensus, reason=AUDIT_REASON)
    if audit_minimum_reached(item, policy, len(human)):
        consensus, disagreement, _ = consensus_of(criteria=criteria, ratings=human, policy=policy)
        return decide(item, status=ItemStatus.NEEDS_REVIEW, consensus=consensus, disagreement=disagreement,
                      reason=AUDIT_REASON)  # fmt: skip
    decide = audit_decide(item, decide)  # people's consensus on an audited item waits for gold
    if requested is not None:
        return decide(
            item,
            status=ItemStatus.NEEDS_REVIEW,
            consensus=item.consensus,
            disagreement=item.disagreement,
            reason=requested,
        )
    # ``evidence``: who gave each human rating, the calibrated judge's verdict distribution, and
    # whether that judge may settle an item alone under the posterior rule.
    raters, judge_dist, alone = evidence or ([0] * len(human), None, False)
    if alone and not human and item.audit_rank is None:
        labels = judge_alone_labels(item, criteria, policy, judge_dist)
        if labels is not None:
            return decide(item, status=ItemStatus.APPROVED, approved_by=ApprovedBy.JUDGE, consensus=labels,
                          reason="the calibrated judge alone reached the posterior target")  # fmt: skip
    adaptive = item.project.overlap_min is not None
    if adaptive and len(human) >= item.project.overlap_min:
        stop = stop_decide(item, criteria, policy, human, raters, judge, judge_dist)
        if stop.action == "rate":
            # One more rating than it has: the queue leases it again only below that target.
            return decide(
                item,
                status=ItemStatus.IN_PROGRESS,
                reason=f"one more rating: {stop.why}",
                overlap_target=len(human) + 1,
            )
        if posterior_in_force(policy):
            return posterior_decide(item, criteria, policy, human, stop, decide)
    if len(human) >= item.project.target_of(item) or (adaptive and len(human) >= item.project.overlap_min):
        consensus, disagreement, failing = consensus_of(criteria=criteria, ratings=human, policy=policy)
        if not failing:
            return decide(
                item,
                status=ItemStatus.APPROVED,
                approved_by=ApprovedBy.CONSENSUS,
                consensus=consensus,
                disagreement=disagreement,
            )
        return decide(
            item,
            status=ItemStatus.NEEDS_REVIEW,
            consensus=consensus,
            disagreement=disagreement,
            reason="no consensus on " + ", ".join(failing),
        )
    if judged is not None and not human and item.audit_rank is None and not judge_excluded(item, criteria, policy):
        # Audited items are labelled by people only: they measure the judge (services/audit.py);
        # a slice where the posterior fit found the judge confidently wrong is people's too.
        values = {c.key: judged[c.key] for c in criteria if c.agreement_level is not None and c.key in judged}
        return decide(
            item,
            status=ItemStatus.APPROVED,
            approved_by=ApprovedBy.JUDGE,
            consensus=values,
            reason="labelled by a trusted judge" + (", confident enough" if policy.routing == JUDGE_FIRST else ""),
        )
    if item.status in (ItemStatus.APPROVED, ItemStatus.NEEDS_REVIEW):
        # Its basis is gone (policy, trust or ratings changed): back to the open states.
        wanted = ItemStatus.IN_PROGRESS if human else ItemStatus.PENDING
        return decide(item, status=wanted)
    return False


class Decided(StrEnum):
    """Where ``project_decide`` re-decided the items: here, or in a task queued on commit."""

    DONE = "done"
    QUEUED = "queued"


@dataclass(frozen=True)
class ProjectDecision:
    outcome: Decided
    changed: int | None = None  # items whose decision changed; None when queued


# What deciding one item costs, in the unit of settings.INLINE_WORK_LIMIT (5,000 items take
# well under a second here; 333,334 take minutes).
WORK_PER_ITEM = 2_000


def project_decide(*, project: Project, inline: bool | None = None) -> ProjectDecision:
    """Re-decide every item of ``project`` under the rules in force now (after its policy, judge
    trust, rubric version or overlap changed), and queue its agreement report's recompute.

    ``inline``: None decides here when the project is small enough (settings.INLINE_WORK_LIMIT),
    otherwise in a Celery task queued when the current transaction commits, so it reads the new
    rules; until it has run, items keep their old decisions. True decides here whatever the size
    (the task itself). Explicitly rejected items stay rejected.
    """
    agreement_reports_refresh_after_change(project_id=project.pk)
    items = Item.objects.filter(project=project).exclude(status=ItemStatus.REJECTED)
    if inline is None:
        inline = dispatch.fits_inline(work=items.count() * WORK_PER_ITEM)
    if not inline:
        dispatch.project_decide_later(project_id=project.pk)
        return ProjectDecision(Decided.QUEUED)
    changed = items_decide(project=project, item_ids=items.values_list("id", flat=True))
    return ProjectDecision(Decided.DONE, changed)


@transaction.atomic
def item_reject(*, item: Item, actor: AbstractBaseUser, reason: str) -> Item:
    """Reject an item explicitly (a reviewer's or manager's call), with the reason on record."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": ["say why the item is rejected."]})
    item_lock(item_id=item.pk)
    item.refresh_from_db()
    ReviewRequest.objects.filter(item=item).delete()
    _decide(item, status=ItemStatus.REJECTED, reason=reason.strip()[:2000])
    return item


@transaction.atomic
def item_send_to_review(*, item: Item, actor: AbstractBaseUser, reason: str) -> Item:
    """Hold an item for a reviewer, with the reason on record: it goes to needs_review and stays
    there, whatever its ratings or the policy say, until a reviewer decides it (a gold) or it is
    reopened. Conflict if a reviewer has already decided it or it is rejected (reopen it first)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": ["say what the reviewer should look at."]})
    item_lock(item_id=item.pk)
    item.refresh_from_db()
    why = _closed_why(item)
    if why:
        raise Conflict(f"This item cannot be sent to review: {why}.", errors={"item": [f"{why}."]})
    reason = "sent to review: " + reason.strip()[:2000]
    ReviewRequest.objects.update_or_create(item=item, defaults={"requested_by": actor, "reason": reason})
    _decide(
        item, status=ItemStatus.NEEDS_REVIEW, consensus=item.consensus, disagreement=item.disagreement, reason=reason
    )
    return item


@transaction.atomic
def item_reopen(*, item: Item, actor: AbstractBaseUser) -> Item:
    """Undo an explicit decision (a rejection, or a request for review) and let the policy decide
    the item again from its ratings, as if the decision had never been made. Conflict when
    there is nothing to undo: the item's state is then already the policy's."""
    item_lock(item_id=item.pk)
    item.refresh_from_db()
    rejected = item.status == ItemStatus.REJECTED and item.approved_by == ""
    requested = ReviewRequest.objects.filter(item=item).delete()[0] > 0
    if not (rejected or requested):
        raise Conflict(
            "This item has no rejection or review request to undo.",
            errors={"item": ["only a rejected item or one sent to review can be reopened."]},
        )
    if rejected:
        _decide(item, status=ItemStatus.PENDING)
    items_decide(project=item.project, item_ids=[item.pk])
    item.refresh_from_db()
    return item


def _closed_why(item: Item) -> str:
    if item.status == ItemStatus.REJECTED:
        return "it has been rejected"
    if Gold.objects.filter(item=item, rubric_version_id=item.project.rubric_version_id).exists():
        return "a reviewer has adjudicated it"
    return ""
