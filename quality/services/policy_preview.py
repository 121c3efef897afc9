"""What a policy change would do, before it is saved: each item run through the approval rule
(quality/services/approval.py, ``_evaluate_one``) under the proposed policy, with nothing
written. The same code decides and previews, so the preview cannot promise what saving won't do.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from annotation.models import Item, ItemStatus, Project
from quality.selectors.policy import policy_for
from quality.services.approval import _evaluate_one, _inputs_of
from quality.services.policy import policy_changes_apply
from quality.stopping import posterior_fit_pending

# Past this many items the preview runs on an evenly spread sample and scales the counts: the
# exact run costs about as much as re-deciding the project (a worker's job on large projects).
PREVIEW_SAMPLE = 20_000
_CHUNK = 2_000


@dataclass(frozen=True)
class PolicyPreview:
    items: int  # items in the project
    sampled: int  # items run through the rule (all of them unless the project is large)
    now: dict[str, int]  # items per status today
    after: dict[str, int]  # items per status under the proposed policy (scaled when sampled)
    moves: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) -> items (scaled)
    audited: int = 0  # audit sample items run through the rule (never scaled: all of them are run)
    audit_to_review: int = 0  # of them, those that would wait for a reviewer
    # The posterior rule is chosen and no fit is stored: saving queues its fit on a worker (a large
    # project), and these counts are the agreement rule's, which decides until the fit is stored.
    posterior_fit_on_save: bool = False

    @property
    def estimated(self) -> bool:
        return self.sampled < self.items

    @property
    def approved(self) -> int:
        return self.after.get(ItemStatus.APPROVED, 0)

    @property
    def to_review(self) -> int:
        return self.after.get(ItemStatus.NEEDS_REVIEW, 0)


def policy_preview(*, project: Project, changes: dict[str, Any]) -> PolicyPreview:
    """Counts of items per status if ``changes`` were saved as ``project``'s policy. Raises
    ValidationError, as ``policy_update`` would, on a bad value. Writes nothing."""
    policy = policy_changes_apply(policy=policy_for(project=project), changes=changes)
    criteria = list(project.rubric_version.criteria.all())
    all_items = Item.objects.filter(project=project)
    total = all_items.count()
    now = dict(Counter(all_items.values_list("status", flat=True).order_by()))
    ids = list(all_items.order_by("id").values_list("id", flat=True))
    if total > PREVIEW_SAMPLE:
        step = total / PREVIEW_SAMPLE
        ids = [ids[int(i * step)] for i in range(PREVIEW_SAMPLE)]
    # The audit sample is small and who labels it is a policy choice: its items are always run,
    # counted apart, and left out of the scaled counts when the rest is sampled.
    sampled = set(ids)
    audit_ids = list(all_items.filter(audit_rank__isnull=False).order_by("id").values_list("id", flat=True))
    audit_extra = [i for i in audit_ids if i not in sampled]
    audit_set = set(audit_ids)
    audited = audit_to_review = 0
    after: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    outcome: dict[int, str] = {}

    def record(item: Item, *, status: str, **_: Any) -> bool:
        outcome[item.pk] = status
        return True

    run = ids + audit_extra
    for start in range(0, len(run), _CHUNK):
        items = list(project.items.filter(id__in=run[start : start + _CHUNK]).order_by("id"))
        inputs_list, _confidence = _inputs_of(project, criteria, policy, items)
        for item, inputs in zip(items, inputs_list, strict=True):
            _evaluate_one(item, criteria, policy, *inputs, decide=record)
            status = outcome.pop(item.pk, item.status)
            if item.pk in audit_set:
                audited += 1
                audit_to_review += status == ItemStatus.NEEDS_REVIEW
            if item.pk not in sampled:
                continue
            after[str(status)] += 1
            if status != item.status:
                moves[(str(item.status), str(status))] += 1
    scale = total / len(ids) if ids else 1.0
    return PolicyPreview(
        items=total,
        sampled=len(ids),
        now=now,
        after={s: round(n * scale) for s, n in after.items()},
        moves={m: round(n * scale) for m, n in moves.items()},
        audited=audited,
        audit_to_review=audit_to_review,
        posterior_fit_on_save=posterior_fit_pending(policy=policy),
    )
