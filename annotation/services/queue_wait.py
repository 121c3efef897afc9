"""What the queue answers when it has no item to lease right now: "wait" or "nothing left".

``assignment_claim_next`` returns None when it cannot lease an item now, which is not always the
end. An item made full by another person's lease comes back when they skip it or walk away (the
lease lapses): told "nothing left" at that moment, an annotator stops asking, and the item stays a
rating short for good (``tests/annotation/test_queue_concurrency.py`` caught that race with 36
annotators). So the queue says "nothing left" only when nothing can come back, and otherwise
"wait": ask again after ``retry_after`` seconds.

Nothing here leases or locks: the guarantees (never over-assigned, never twice to one person) stay
with the claim. The look is one query, made only on the path that found no item, never on the
path that leases one (tests/annotation/test_hot_path_queries.py).
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import Assignment, Item, Project, Rating, Skip
from annotation.services.queue import assignment_claim_next
from annotation.services.queue_sql import QUEUE_STATUSES

# The longest a waiting annotator is told to wait before asking again: a lease lasts minutes, but
# its holder may skip it any second. Short enough for a person, cheap for the database (a claim
# and this one query).
WAIT_POLL_SECONDS = 15


@dataclass(frozen=True)
class QueueWait:
    """No item to lease now, but some may come back (leased by others, or free again): ask again
    after ``retry_after`` seconds (1 to ``WAIT_POLL_SECONDS``)."""

    retry_after: int


def assignment_claim_or_wait(*, project: Project, user) -> Assignment | QueueWait | None:
    """The queue's answer to ``user`` asking for work: their lease (``assignment_claim_next``), or
    :class:`QueueWait` when items they may still rate are held by other people's leases, or None
    when nothing is left for them that could come back. Access checks are the caller's."""
    lease = assignment_claim_next(project=project, user=user)
    if lease is not None:
        return lease
    return queue_wait(project=project, user=user)


def queue_wait(*, project: Project, user, now: datetime | None = None) -> QueueWait | None:
    """After a claim found nothing: whether an open item that ``user`` has neither rated nor
    skipped may still come to them. Either it is leased (live or lapsed) by someone else, who may
    skip it or walk away, or it has a free slot again (its holder let go after the claim looked,
    or the claim gave up on items locked by others' transactions). One statement, so one snapshot:
    a lease that ends concurrently is seen either as a lease or as the free slot it leaves."""
    now = now or timezone.now()
    version = project.rubric_version_id
    rated = Rating.objects.filter(rater__user=user, rubric_version_id=version)
    skipped = Skip.objects.filter(user=user)
    held = (
        Assignment.objects.filter(project=project, item__status__in=QUEUE_STATUSES)
        .exclude(Exists(rated.filter(item_id=OuterRef("item_id"))))
        .exclude(Exists(skipped.filter(item_id=OuterRef("item_id"))))
        .order_by("expires_at")
        .values("expires_at")[:1]
    )
    free = (
        Item.objects.filter(project=project, status__in=QUEUE_STATUSES, load__lt=project.annotations_per_item)
        .filter(load__lt=Coalesce("overlap_target", project.base_target))
        .exclude(Exists(rated.filter(item_id=OuterRef("pk"))))
        .exclude(Exists(skipped.filter(item_id=OuterRef("pk"))))
    )
    soonest, free_now = (
        Project.objects.filter(pk=project.pk)
        .annotate(soonest=Subquery(held), free_now=Exists(free))
        .values_list("soonest", "free_now")
        .get()
    )
    if free_now:
        return QueueWait(retry_after=1)
    if soonest is None:
        return None
    # Until the soonest of those leases lapses (it may end sooner: a skip), within the bounds.
    return QueueWait(retry_after=min(max(math.ceil((soonest - now).total_seconds()), 1), WAIT_POLL_SECONDS))
