"""The audit sample: a uniformly random sample of a project's items that people label whatever
the judge said, so the share of good items can be estimated with an honest interval
(docs/triage.md, section 4; the estimate is quality/selectors/estimate.py).

The draw is ``agreement.audit_sample``: every item gets a key from its id and the project's seed
alone, and the audit is the ``size`` items with the smallest keys, in key order. So the labelled
prefix of an audit in progress is itself a uniform sample, a larger size extends the sample
instead of redrawing it, and drawing again after an import keeps the sample uniform over the
items the project has now. The seed is chosen once, at the first draw, and never changes.
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

import agreement
from annotation.models import Item, Project
from quality.audit_gold import audit_review_requests_drop
from quality.services.approval import items_decide

MAX_AUDIT = 100_000
"""At most this many audited items: beyond it people could label the whole project instead."""


@dataclass(frozen=True)
class AuditDraw:
    size: int
    seed: int
    added: int  # items that entered the audit with this draw
    removed: int  # items that left it (a smaller size, or displaced by newly imported items)


def _seed_clean(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValidationError({"seed": ["must be an integer from 0 to 2^63 - 1."]})
    return seed


def audit_sample_draw(
    *, project: Project, size: int, seed: int | None = None, actor: AbstractBaseUser | None = None
) -> AuditDraw:
    """Make the project's audit sample ``size`` items (0 removes it) and put them in the human queue.

    ``seed``: only at the first draw (default: a random one); afterwards it must be the stored
    one or absent, since choosing a new seed after seeing results voids the interval. Audited
    items are served first by the queue, in draw order, and a judge never decides them
    (quality/services/approval.py): items the judge had approved go back to people. ``actor`` is
    who asked (access is the caller's).
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_AUDIT:
        raise ValidationError({"size": [f"must be an integer from 0 to {MAX_AUDIT}."]})
    if seed is not None:
        seed = _seed_clean(seed)
    with transaction.atomic():
        # One draw at a time per project: the project row is the lock.
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if seed is not None and locked.audit_seed is not None and seed != locked.audit_seed:
            raise ValidationError(
                {"seed": ["the audit's seed is fixed at its first draw: a new one would void the estimate's interval."]}
            )
        if locked.audit_seed is None:
            locked.audit_seed = seed if seed is not None else secrets.randbits(63)
        ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
        if size > len(ids):
            raise ValidationError({"size": [f"the project has {len(ids)} items; the audit cannot be larger."]})
        order = [int(i) for i in agreement.audit_sample(ids, size=size, seed=locked.audit_seed)] if ids else []
        wanted = {item_id: rank for rank, item_id in enumerate(order, start=1)}
        current = dict(Item.objects.filter(project=project, audit_rank__isnull=False).values_list("id", "audit_rank"))
        removed = [i for i in current if i not in wanted]
        Item.objects.filter(pk__in=removed).update(audit_rank=None)
        audit_review_requests_drop(item_ids=removed)
        moved = [Item(pk=i, audit_rank=rank) for i, rank in wanted.items() if current.get(i) != rank]
        Item.objects.bulk_update(moved, ["audit_rank"], batch_size=2_000)
        locked.audit_size = size
        locked.save(update_fields=["audit_seed", "audit_size"])
        project.audit_seed, project.audit_size = locked.audit_seed, size
        changed = [i for i in wanted if i not in current] + removed
        # Audited items are decided by people only; leaving the audit lets a trusted judge decide again.
        items_decide(project=project, item_ids=changed)
    kept = len(current) - len(removed)
    return AuditDraw(size=size, seed=locked.audit_seed, added=len(wanted) - kept, removed=len(removed))
