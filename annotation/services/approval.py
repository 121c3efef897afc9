"""Approval gates: one idempotent service decides each item from its ratings and the policy.

Order of authority: a reviewer's gold, then agreeing humans (``annotations_per_item`` human
ratings that reach consensus on every non-text criterion), then, if the policy allows, a judge
trusted on every criterion for items that lack human ratings. Anything else either waits for
more ratings or goes to review. Re-running it on unchanged data changes nothing.
"""

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

import agreement
from annotation.models import (
    ApprovalPolicy,
    ApprovedBy,
    Gold,
    Item,
    ItemStatus,
    Project,
    RaterKind,
    RaterTrust,
    Rating,
)
from rubrics.models import Criterion
from rubrics.scales import ScaleKind

_OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_PROGRESS, ItemStatus.ANNOTATED)


def item_status_refresh(*, item_ids: Iterable[int]) -> None:
    """Move open items between pending / in_progress / annotated by their human ratings.

    Items a reviewer or the approval gate has decided (needs_review, approved, rejected) are
    left alone: those states belong to the approval service.
    """
    item_ids = list(item_ids)
    for start in range(0, len(item_ids), 5_000):
        chunk = item_ids[start : start + 5_000]
        items = (
            Item.objects.filter(id__in=chunk, status__in=_OPEN_STATUSES)
            .select_related("project")
            .annotate(
                human_ratings=Count(
                    "ratings",
                    filter=Q(ratings__rater__kind=RaterKind.HUMAN)
                    & Q(ratings__rubric_version_id=F("project__rubric_version_id")),
                )
            )
        )
        by_status: dict[str, list[int]] = {s: [] for s in _OPEN_STATUSES}
        for item in items:
            if item.human_ratings >= item.project.annotations_per_item:
                wanted = ItemStatus.ANNOTATED
            elif item.human_ratings > 0:
                wanted = ItemStatus.IN_PROGRESS
            else:
                wanted = ItemStatus.PENDING
            if item.status != wanted:
                by_status[wanted].append(item.id)
        for status, ids in by_status.items():
            if ids:
                Item.objects.filter(id__in=ids, status__in=_OPEN_STATUSES).update(status=status)


def policy_for(*, project: Project) -> ApprovalPolicy:
    policy, _ = ApprovalPolicy.objects.get_or_create(project=project)
    return policy


_POLICY_FIELDS = {
    "majority_threshold": (float, lambda v: 0.5 < v <= 1, "must be a number in (0.5, 1]."),
    "numeric_tolerance": (float, lambda v: 0 <= v <= 1e9, "must be a number ≥ 0."),
    "judge_may_approve": (bool, lambda v: True, "must be true or false."),
    "trust_margin": (float, lambda v: 0 <= v <= 2, "must be a number from 0 to 2."),
    "trust_min_items": (int, lambda v: 1 <= v <= 1_000_000, "must be an integer ≥ 1."),
}


def _is_kind(value: Any, kind: type) -> bool:
    """True and False are not numbers here, and an integer field takes only whole numbers."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if not isinstance(value, int | float):
        return False
    return kind is float or float(value).is_integer()


@transaction.atomic
def policy_update(*, project: Project, **changes: Any) -> ApprovalPolicy:
    """Change a project's approval policy, then re-decide its items under the new rules (in the
    background for a large project: see project_reevaluate)."""
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_for(project=project).pk)
    errors = {}
    for name, value in changes.items():
        if name not in _POLICY_FIELDS:
            errors[name] = ["unknown policy field."]
            continue
        kind, check, message = _POLICY_FIELDS[name]
        if not _is_kind(value, kind) or not check(value):
            errors[name] = [message]
            continue
        setattr(policy, name, kind(value))
    if errors:
        raise ValidationError(errors)
    policy.save()
    project_reevaluate(project=project)
    return policy


def criterion_code(criterion: Criterion, value: Any) -> float | None:
    """A criterion value as the number agreement works on (categories by their position)."""
    if value is None:
        return None
    kind = criterion.kind
    if kind == ScaleKind.BINARY:
        return 1.0 if value else 0.0
    if kind == ScaleKind.CATEGORICAL:
        choices = criterion.scale["choices"]
        return float(choices.index(value)) if value in choices else None
    if kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO):
        return float(value)
    return None


def scale_points(criterion: Criterion, observed: Sequence[float] = ()) -> list[float] | None:
    """The scale's points (ordinal, nominal) or end points (interval, ratio) for agreement."""
    kind = criterion.kind
    if kind == ScaleKind.BINARY:
        return [0.0, 1.0]
    if kind == ScaleKind.CATEGORICAL:
        return [float(i) for i in range(len(criterion.scale["choices"]))]
    if kind == ScaleKind.ORDINAL:
        return [float(p) for p in range(criterion.scale["min"], criterion.scale["max"] + 1)]
    if kind == ScaleKind.INTERVAL:
        return [float(criterion.scale["min"]), float(criterion.scale["max"])]
    if kind == ScaleKind.RATIO:
        top = criterion.scale.get("max", max(observed, default=0.0))
        return [0.0, float(top)] if top > 0 else None
    return None


def consensus_of(
    *, criteria: Sequence[Criterion], ratings: Sequence[dict], policy: ApprovalPolicy
) -> tuple[dict, dict, list[str]]:
    """Consensus value, disagreement score and failing criteria for one item's ratings.

    Nominal: the majority value when its share reaches ``majority_threshold``. Numeric: the
    median (the lower median on ordinal scales, so it is a point of the scale) when the spread
    is within ``numeric_tolerance`` of the scale's range.
    """
    consensus: dict[str, Any] = {}
    disagreement: dict[str, float] = {}
    failing: list[str] = []
    for criterion in criteria:
        if criterion.agreement_level is None:
            continue
        given = [r[criterion.key] for r in ratings if r.get(criterion.key) is not None]
        if not given:
            if criterion.required:
                failing.append(criterion.key)
            continue
        codes = [criterion_code(criterion, v) for v in given]
        if len(codes) >= 2:
            scores = agreement.item_disagreement(
                np.zeros(len(codes), dtype=np.int64),
                np.arange(len(codes)),
                np.asarray(codes, dtype=np.float64),
                level=criterion.agreement_level,
                scale=scale_points(criterion, codes),
            )
            disagreement[criterion.key] = round(scores.get(0, 0.0), 6)
        else:
            disagreement[criterion.key] = 0.0
        if criterion.kind in (ScaleKind.BINARY, ScaleKind.CATEGORICAL):
            value, count = Counter(given).most_common(1)[0]
            ties = [v for v, c in Counter(given).items() if c == count]
            if len(ties) == 1 and count / len(given) >= policy.majority_threshold:
                consensus[criterion.key] = value
            else:
                failing.append(criterion.key)
            continue
        spread = max(given) - min(given)
        if criterion.kind == ScaleKind.ORDINAL:
            middle = statistics.median_low(given)
            width = criterion.scale["max"] - criterion.scale["min"]
        else:
            middle = statistics.median(given)
            if criterion.kind == ScaleKind.INTERVAL:
                width = criterion.scale["max"] - criterion.scale["min"]
            else:
                width = criterion.scale.get("max") or abs(middle)
        if spread <= policy.numeric_tolerance * width + 1e-12:
            consensus[criterion.key] = middle
        else:
            failing.append(criterion.key)
    return consensus, disagreement, failing


def _decide(
    item: Item,
    *,
    status: str,
    approved_by: str = "",
    consensus: dict | None = None,
    disagreement: dict | None = None,
    reason: str = "",
) -> bool:
    consensus = consensus or {}
    disagreement = disagreement or {}
    unchanged = (
        item.status == status
        and item.approved_by == approved_by
        and item.consensus == consensus
        and item.disagreement == disagreement
        and item.decision_reason == reason
    )
    if unchanged:
        return False
    item.status, item.approved_by, item.consensus = status, approved_by, consensus
    item.disagreement, item.decision_reason = disagreement, reason
    item.decided_at = (
        timezone.now() if status in (ItemStatus.APPROVED, ItemStatus.REJECTED, ItemStatus.NEEDS_REVIEW) else None
    )
    item.save(
        update_fields=[
            "status",
            "approved_by",
            "consensus",
            "disagreement",
            "decision_reason",
            "decided_at",
            "updated_at",
        ]
    )
    return True


def _trusted_judges(project: Project, criteria: Sequence[Criterion]) -> set[int]:
    """Raters trusted on every non-text criterion of the project's current rubric version."""
    keys = {c.key for c in criteria if c.agreement_level is not None}
    if not keys:
        return set()
    per_rater: dict[int, set[str]] = {}
    for rater_id, key in RaterTrust.objects.filter(
        project=project, rubric_version=project.rubric_version, trusted=True, criterion_key__in=keys
    ).values_list("rater_id", "criterion_key"):
        per_rater.setdefault(rater_id, set()).add(key)
    return {rater for rater, trusted in per_rater.items() if trusted == keys}


def items_evaluate(*, project: Project, item_ids: Iterable[int]) -> int:
    """Decide the given items of ``project``; returns how many changed. Idempotent.

    Each chunk locks its items, then reads the policy and judge trust: two evaluations of one
    item (a rating and a background re-evaluation after a policy change) take turns, and the
    later one decides by the rules current when it ran. Ratings changed, so the project's stored
    agreement report is queued for a recompute after commit.
    """
    item_ids = sorted(set(item_ids))  # one lock order for every caller
    if not item_ids:
        return 0
    from annotation.services.agreement_reports import agreement_reports_refresh_after_change  # imports this module

    agreement_reports_refresh_after_change(project_id=project.pk)
    item_status_refresh(item_ids=item_ids)
    version = project.rubric_version
    criteria = list(version.criteria.all())
    changed = 0
    for start in range(0, len(item_ids), 2_000):
        chunk = item_ids[start : start + 2_000]
        with transaction.atomic():
            # Through the project's manager, so item.project is this instance (no query per item).
            # NO KEY UPDATE: new ratings (whose foreign key takes KEY SHARE) need not wait for it.
            items = list(project.items.select_for_update(no_key=True).filter(id__in=chunk).order_by("id"))
            policy = policy_for(project=project)
            trusted = _trusted_judges(project, criteria) if policy.judge_may_approve else set()
            golds = {g.item_id: g for g in Gold.objects.filter(item_id__in=chunk, rubric_version=version)}
            human: dict[int, list[dict]] = {}
            judged: dict[int, dict] = {}
            for item_id, rater_id, kind, values in (
                Rating.objects.filter(item_id__in=chunk, rubric_version=version)
                .values_list("item_id", "rater_id", "rater__kind", "values")
                .order_by("id")
            ):
                if kind == RaterKind.HUMAN:
                    human.setdefault(item_id, []).append(values)
                elif rater_id in trusted:
                    judged.setdefault(item_id, values)
            for item in items:
                changed += _evaluate_one(
                    item, criteria, policy, golds.get(item.pk), human.get(item.pk, []), judged.get(item.pk)
                )
    return changed


def _evaluate_one(item: Item, criteria, policy, gold: Gold | None, human: list[dict], judged: dict | None) -> bool:
    if item.status == ItemStatus.REJECTED and item.approved_by == "":
        return False  # an explicit rejection stands until someone reverses it
    if gold is not None:
        return _decide(item, status=ItemStatus.APPROVED, approved_by=ApprovedBy.REVIEWER, consensus=gold.values)
    if len(human) >= item.project.annotations_per_item:
        consensus, disagreement, failing = consensus_of(criteria=criteria, ratings=human, policy=policy)
        if not failing:
            return _decide(
                item,
                status=ItemStatus.APPROVED,
                approved_by=ApprovedBy.CONSENSUS,
                consensus=consensus,
                disagreement=disagreement,
            )
        return _decide(
            item,
            status=ItemStatus.NEEDS_REVIEW,
            consensus=consensus,
            disagreement=disagreement,
            reason="no consensus on " + ", ".join(failing),
        )
    if judged is not None and not human:
        values = {c.key: judged[c.key] for c in criteria if c.agreement_level is not None and c.key in judged}
        return _decide(
            item,
            status=ItemStatus.APPROVED,
            approved_by=ApprovedBy.JUDGE,
            consensus=values,
            reason="labelled by a trusted judge",
        )
    if item.status in (ItemStatus.APPROVED, ItemStatus.NEEDS_REVIEW):
        # Its basis is gone (policy, trust or ratings changed): back to the open states.
        wanted = ItemStatus.IN_PROGRESS if human else ItemStatus.PENDING
        return _decide(item, status=wanted)
    return False


def item_evaluate(*, item: Item) -> Item:
    items_evaluate(project=item.project, item_ids=[item.pk])
    item.refresh_from_db()
    return item


def project_evaluate(*, project: Project) -> int:
    """Re-decide every item of a project (after a policy, trust or rubric change)."""
    ids = list(Item.objects.filter(project=project).exclude(status=ItemStatus.REJECTED).values_list("id", flat=True))
    return items_evaluate(project=project, item_ids=ids)


REEVALUATE_INLINE_MAX_ITEMS = 5_000
"""Up to this many items a project is re-decided inside the request that changed its rules
(well under a second); above, in a Celery task (333,334 items take minutes)."""


def reevaluates_inline(*, project: Project) -> bool:
    """Whether :func:`project_reevaluate` re-decides ``project``'s items at once."""
    return Item.objects.filter(project=project).count() <= REEVALUATE_INLINE_MAX_ITEMS


def project_reevaluate(*, project: Project) -> bool:
    """Re-decide every item after the project's rules changed (policy, rubric version, overlap).

    At once for a small project; for a large one, in a Celery task queued when the current
    transaction commits (so it reads the new rules). Until it has run, items keep their old
    decisions. Returns True when done here. Also queues the agreement report's recompute,
    which depends on the policy and the rubric version.
    """
    from annotation.services.agreement_reports import agreement_reports_refresh_after_change  # imports this module

    agreement_reports_refresh_after_change(project_id=project.pk)
    return project_refresh(project=project) is not None


def project_refresh(*, project: Project) -> int | None:
    """Re-decide every item under the rules in force: at once for a small project (returns how
    many items changed), in a Celery task queued on commit for a large one (returns None)."""
    if reevaluates_inline(project=project):
        return project_evaluate(project=project)
    from annotation.tasks import project_items_evaluate  # tasks import services, not the reverse

    project_id = project.pk
    transaction.on_commit(lambda: project_items_evaluate.delay(project_id))
    return None


@transaction.atomic
def item_reject(*, item: Item, actor: AbstractBaseUser, reason: str) -> Item:
    """Reject an item explicitly (a reviewer's or manager's call), with the reason on record."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": ["say why the item is rejected."]})
    _decide(item, status=ItemStatus.REJECTED, reason=reason.strip()[:2000])
    return item
