"""The overlap queue: which item an annotator rates next, held under a lease.

The rule that must never break: for every item, human ratings under the project's rubric
version plus live leases never exceed the item's target (bulk imports of historical labels are
exempt): ``annotations_per_item`` under fixed overlap; under adaptive overlap the project's
``overlap_min``, raised one at a time by approval (``Item.overlap_target``) while raters
disagree. ``tests/annotation/test_queue_concurrency.py`` checks it with 32 annotators,
``tests/quality/test_triage_overlap_concurrency.py`` with adaptive targets.

Locking, in one order everywhere so nothing deadlocks:

1. A claim first locks the claimer's Rater row, so one person's claims (two tabs, a double
   click) take turns and a second claim returns the first one's lease.
2. Every write that changes an item's ratings or leases (claim, skip, release, rating_submit)
   locks the item row before it reads or writes the item's leases. Claims walk the open items
   with ``FOR UPDATE SKIP LOCKED``: an item that another annotator is claiming or submitting right
   now is passed over rather than waited for, so 32 annotators never queue behind one row.
   Nothing that holds an item lock ever waits for another item lock.
3. Under the item lock the counts are exact: a claim recounts ratings and leases of the item it
   locked before granting a lease, so ``Item.load`` (the denormalised counter that makes the
   walk fast) only orders and filters; it can never cause an over-assignment.

SQLite has no row locks. There the first statement of each of these transactions is a write,
which takes SQLite's single database write lock at once (instead of upgrading a read snapshot
later, which fails with "database is locked"); the transactions then simply run one at a time.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation.models import Assignment, Draft, Item, Project, Rater, RaterKind, Rating, Skip
from annotation.selectors import rater_for_user
from annotation.services.queue_sql import (
    COUNTS_SQL,
    GRANT_SQL,
    ITEM,
    LEASE,
    LEASE_FIRST_SQL,
    LEASE_INSERT_SQL,
    PASSES,
    RATER_BY_USER,
    RATER_LOCK_SQL,
    WALK_GUARD,
    walk_passes,
    walk_statement,
)
from config.errors import Conflict
from config.round_trips import instance, statements_run

MAX_SKIP_REASON = 500


def _row_locks() -> bool:
    return connection.features.has_select_for_update


def item_lock(*, item_id: int) -> None:
    """Lock one item row until the end of the current transaction (the caller's ``atomic``)."""
    if _row_locks():
        list(Item.objects.select_for_update().filter(pk=item_id).values_list("id", flat=True))
    else:
        # SQLite: a no-op write takes the database write lock now, before this transaction reads.
        Item.objects.filter(pk=item_id).update(load=F("load"))


def _rater_lock(*, user) -> Rater | None:
    """Lock and return ``user``'s Rater row; None if they have none yet."""
    if _row_locks():
        rater = Rater.objects.select_for_update().filter(user=user).first()
    else:
        Rater.objects.filter(user=user).update(name=F("name"))
        rater = Rater.objects.filter(user=user).first()
    return rater


def _human_ratings(*, item_id: int, rubric_version_id: int) -> int:
    return Rating.objects.filter(
        item_id=item_id, rubric_version_id=rubric_version_id, rater__kind=RaterKind.HUMAN
    ).count()


def _leases_expire(*, item_ids: Iterable[int], now: datetime) -> None:
    """Delete the expired leases on items whose row lock this transaction holds, and uncount them."""
    item_ids = list(item_ids)
    if not item_ids:
        return
    expired = Assignment.objects.filter(item_id__in=item_ids, expires_at__lte=now)
    per_item: dict[int, int] = defaultdict(int)
    for item_id in expired.values_list("item_id", flat=True):
        per_item[item_id] += 1
    if not per_item:
        return
    expired.delete()
    by_count: dict[int, list[int]] = defaultdict(list)
    for item_id, n in per_item.items():
        by_count[n].append(item_id)
    for n, ids in by_count.items():
        Item.objects.filter(pk__in=ids).update(load=F("load") - n)


def _project_leases_expire(*, project: Project, now: datetime) -> None:
    """Return items held by expired leases to the pool. Items locked by someone else right now are
    left for a later claim; a claim that locks one recounts it exactly anyway."""
    stale = Assignment.objects.filter(project=project, expires_at__lte=now).values("item_id")
    locked = Item.objects.filter(pk__in=stale).order_by("id").select_for_update(skip_locked=True)
    _leases_expire(item_ids=locked.values_list("id", flat=True), now=now)


def assignment_claim_next(*, project: Project, user) -> Assignment | None:
    """Return ``user``'s live lease in ``project``, or lease them the next item, or None.

    An item is offered only if it is open (pending or in progress), the user has neither rated it
    under the project's rubric version nor skipped it, and its human ratings plus live leases are
    below its target (``Project.target_of``). Items of the project's audit sample come first, in draw
    order; then the fullest items (so items complete rather than all creeping along together),
    then the oldest. The lease lasts ``project.lease_minutes``.
    Access checks are the caller's.
    """
    for attempt in range(_CLAIM_ATTEMPTS):
        lease, rater = _claim_once(project=project, user=user)
        if lease is not None:
            return lease
        # The walk passes over items other people are claiming or rating right now (SKIP LOCKED),
        # so "nothing" may only mean "nothing unlocked": the queue is empty for this person only
        # when no open item is left for them, locked or not. Otherwise look again once those
        # transactions end (outside a caller's transaction only: never sleep holding locks).
        if connection.in_atomic_block or not _candidate_exists(project=project, user=user, rater=rater):
            return None
        time.sleep(_CLAIM_RETRY_SECONDS * (attempt + 1))
    return None


# About 1.4 s of waiting in all, far longer than a rating's transaction holds its item.
_CLAIM_ATTEMPTS = 8
_CLAIM_RETRY_SECONDS = 0.05


def _claim_once(*, project: Project, user) -> tuple[Assignment | None, Rater]:
    with transaction.atomic():
        rater, first, now, walked = _rater_lock_and_lease(project=project, user=user)
        if rater is not None:
            return _lease_held_or_new(
                project=project, user=user, rater=rater, first=first, now=now, walked=walked
            ), rater
    # A person's first claim: create their rater outside, as the transaction must begin with the lock.
    rater_for_user(user=user)
    with transaction.atomic():
        rater, first, now, walked = _rater_lock_and_lease(project=project, user=user)
        assert rater is not None  # created just above, and raters are never deleted
        lease = _lease_held_or_new(project=project, user=user, rater=rater, first=first, now=now, walked=walked)
        return lease, rater


def _rater_lock_and_lease(*, project: Project, user) -> tuple[Rater | None, tuple | None, datetime, list[Item] | None]:
    """Lock ``user``'s Rater row (None if they have none yet), then take the one look at the
    project's leases that ``_lease_held_or_new`` needs: ``(id, expires_at)`` or None, the time it
    was taken at, and on PostgreSQL the first pass of the walk (``_lease_grant``), done when the
    look would find nothing (None: not walked). One round trip there (config/round_trips.py): the
    look and the walk run after the lock is granted, so they see the lease of a claim by the same
    person that held the lock."""
    now = timezone.now()
    if not _row_locks():
        rater = _rater_lock(user=user)
        first = (
            Assignment.objects.filter(project=project)
            .filter(Q(user=user, expires_at__gt=now) | Q(expires_at__lte=now))
            .order_by("-expires_at")
            .values_list("id", "expires_at")
            .first()
        )
        return rater, first, now, None
    at = connection.ops.adapt_datetimefield_value(now)
    guard = (WALK_GUARD, [project.pk, user.pk, at, at])
    walk = walk_statement(
        project=project, user=user, rater=(RATER_BY_USER, user.pk), pass_=walk_passes(project)[0], guard=guard
    )
    raters, leases, walked = statements_run(
        [(RATER_LOCK_SQL, [user.pk]), (LEASE_FIRST_SQL, [project.pk, user.pk, at, at]), walk]
    )
    if not raters:
        return None, None, now, None
    (rater_id, kind, name), first = raters[0], (leases[0] if leases else None)
    rater = Rater(id=rater_id, kind=kind, user_id=user.pk, name=name)
    return rater, first, now, [instance(Item, row) for row in walked]


def _candidate_exists(*, project: Project, user, rater: Rater) -> bool:
    """Whether the walk of ``_lease_grant`` has an item for this person, locked or not."""
    sql, params = walk_statement(project=project, user=user, rater=("%s", rater.pk), pass_=PASSES[1], lock=False)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _lease_held_or_new(
    *, project: Project, user, rater: Rater, first: tuple | None, now: datetime, walked: list[Item] | None
) -> Assignment | None:
    """``first``: this person's live lease in the project, else an expired lease, or None.
    ``walked``: the walk's first pass, if it was done with the look (``_rater_lock_and_lease``)."""
    if first is not None and first[1] > now:
        return Assignment.objects.select_related("item").get(pk=first[0])
    if first is not None and not walked:
        # (With an item walked, the look and the walk raced a commit: lease that item, and leave
        # the expired leases to the next claim, never waiting for locks while holding one.)
        _project_leases_expire(project=project, now=now)
        walked = None
    return _lease_grant(project=project, user=user, rater=rater, now=now, walked=walked)


def _lease_grant(
    *, project: Project, user, rater: Rater, now: datetime, walked: list[Item] | None = None
) -> Assignment | None:
    version_id = project.rubric_version_id
    passed: list[int] = []
    passes = walk_passes(project)
    expires_at = now + timedelta(minutes=project.lease_minutes)
    while True:
        if walked is not None:
            found, walked = walked, None
        else:
            sql, params = walk_statement(
                project=project, user=user, rater=("%s", rater.pk), pass_=passes[0], passed=passed
            )
            found = list(Item.objects.raw(sql, params))
        if not found:
            if len(passes) > 1:
                passes.pop(0)  # no audited item for this person: the rest of the queue
                continue
            return None
        item = found[0]
        target = project.target_of(item)
        counts = {
            "item": item.pk,
            "now": connection.ops.adapt_datetimefield_value(now),
            "version": version_id,
            "human": str(RaterKind.HUMAN),
            "rater": rater.pk,
            "user": user.pk,
        }
        # The item is locked: count exactly, in a fresh statement (the walk's snapshot may be
        # older than a rating or skip this user just committed); PostgreSQL leases it in the same one.
        (lease_rows, leases, ratings, mine, skipped), lease_id = _counts_or_grant(
            project=project, counts=counts, target=target, expires_at=expires_at
        )
        if lease_id is not None:
            item.load = ratings + leases + 1
            return _lease_instance(project=project, item=item, user=user, expires_at=expires_at, pk=lease_id)
        if lease_rows != leases:
            _leases_expire(item_ids=[item.pk], now=now)
        if mine or skipped or ratings + leases >= target:
            Item.objects.filter(pk=item.pk).update(load=ratings + leases)
            passed.append(item.pk)
            continue
        item.load = ratings + leases + 1
        return _lease_insert(project=project, item=item, user=user, expires_at=expires_at)


def _counts_or_grant(*, project: Project, counts: dict, target: int, expires_at: datetime) -> tuple[tuple, int | None]:
    """The locked item's counts (:data:`COUNTS_SQL`) and, on PostgreSQL, the new lease's id when
    :data:`GRANT_SQL` could grant it at once (None: the caller decides from the counts)."""
    with connection.cursor() as cursor:
        if not _row_locks():
            cursor.execute(COUNTS_SQL, counts)
            return cursor.fetchone(), None
        adapt = connection.ops.adapt_datetimefield_value
        grant = {"project": project.pk, "target": target, "expires_at": adapt(expires_at)}
        cursor.execute(GRANT_SQL, {**counts, **grant, "created_at": adapt(timezone.now())})
        *numbers, lease_id = cursor.fetchone()
        return tuple(numbers), lease_id


def _lease_insert(*, project: Project, item: Item, user, expires_at: datetime) -> Assignment:
    """Write the lease and the item's new ``load`` (set on ``item``): one round trip on PostgreSQL."""
    if not _row_locks():
        lease = Assignment.objects.create(project=project, item=item, user=user, expires_at=expires_at)
        Item.objects.filter(pk=item.pk).update(load=item.load)
        return lease
    adapt = connection.ops.adapt_datetimefield_value
    (inserted, _) = statements_run(
        [
            (LEASE_INSERT_SQL, [project.pk, item.pk, user.pk, adapt(expires_at), adapt(timezone.now())]),
            (f"UPDATE {ITEM} SET load = %s WHERE id = %s", [item.load, item.pk]),
        ]
    )
    return _lease_instance(project=project, item=item, user=user, expires_at=expires_at, pk=inserted[0][0])


def _lease_instance(*, project: Project, item: Item, user, expires_at: datetime, pk: int) -> Assignment:
    """The Assignment just inserted as ``pk``, as if loaded (without reading it back)."""
    lease = Assignment(project=project, item=item, user=user, expires_at=expires_at, created_at=timezone.now())
    lease.pk = pk
    lease._state.adding, lease._state.db = False, connection.alias
    return lease


def _lease_drop(*, item: Item, user) -> int:
    """Under the item lock: delete ``user``'s lease on ``item``; return how many rows went (0 or 1)."""
    dropped, _ = Assignment.objects.filter(item=item, user=user).delete()
    if dropped:
        Item.objects.filter(pk=item.pk).update(load=F("load") - dropped)
    return dropped


def assignment_release(*, project: Project, user, item: Item) -> None:
    """Give ``item`` back to the pool if ``user`` holds it (idempotent)."""
    if item.project_id != project.pk:
        raise ValidationError({"item": [f"no item {item.pk} in this project."]})
    with transaction.atomic():
        item_lock(item_id=item.pk)
        _lease_drop(item=item, user=user)


def assignment_skip(*, project: Project, user, item: Item, reason: str) -> None:
    """Release ``user``'s lease on ``item`` and never offer it to them again (idempotent: a second
    skip keeps the first reason)."""
    errors = {}
    if item.project_id != project.pk:
        errors["item"] = [f"no item {item.pk} in this project."]
    if not isinstance(reason, str):
        errors["reason"] = ["reason must be text."]
    elif len(reason.strip()) > MAX_SKIP_REASON:
        errors["reason"] = [f"reason is longer than {MAX_SKIP_REASON} characters."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        item_lock(item_id=item.pk)
        _lease_drop(item=item, user=user)
        Skip.objects.get_or_create(item=item, user=user, defaults={"project": project, "reason": reason.strip()})


def assignment_unskip(*, project: Project, user, item: Item) -> bool:
    """Take back ``user``'s skip of ``item``: the queue may offer it to them again (and they may
    rate it while it has room). Returns whether there was a skip to take back (idempotent)."""
    if item.project_id != project.pk:
        raise ValidationError({"item": [f"no item {item.pk} in this project."]})
    with transaction.atomic():
        item_lock(item_id=item.pk)
        deleted, _ = Skip.objects.filter(item=item, user=user).delete()
    return bool(deleted)


def item_lock_for_rating(*, item: Item, user_id: int) -> bool:
    """For ``rating_submit`` by a person, first thing in its transaction: lock the item
    (:func:`item_lock`), then use up their live lease on it and delete their draft, both replaced
    by the rating; returns whether they held a live lease. The rating takes the lease's place, so
    ``Item.load`` ("ratings + lease rows") is unchanged; without a lease, call
    :func:`assignment_consume`. One round trip on PostgreSQL (config/round_trips.py)."""
    now = timezone.now()
    if not _row_locks():
        item_lock(item_id=item.pk)
        dropped = Assignment.objects.filter(item=item, user_id=user_id, expires_at__gt=now).delete()[0]
        Draft.objects.filter(item=item, user_id=user_id).delete()
        return dropped > 0
    _, dropped, _ = statements_run(
        [
            (f"SELECT id FROM {ITEM} WHERE id = %s FOR UPDATE", [item.pk]),
            (
                f"DELETE FROM {LEASE} WHERE item_id = %s AND user_id = %s AND expires_at > %s RETURNING id",
                [item.pk, user_id, connection.ops.adapt_datetimefield_value(now)],
            ),
            (f"DELETE FROM {Draft._meta.db_table} WHERE item_id = %s AND user_id = %s", [item.pk, user_id]),
        ]
    )
    return bool(dropped)


def assignment_consume(*, item: Item, user_id: int) -> None:
    """For ``rating_submit`` by a person without a live lease on ``item`` (see :func:`lease_use`),
    inside its transaction and after ``item_lock``: account for the rating they are about to add.

    The rating is still welcome unless the item is already full (human ratings plus other
    people's live leases reach the overlap): then Conflict, and nothing is written. An expired
    lease counts as no lease (and is deleted).
    """
    project = item.project
    now = timezone.now()
    dropped, _ = Assignment.objects.filter(item=item, user_id=user_id).delete()  # an expired lease holds no slot
    ratings = _human_ratings(item_id=item.pk, rubric_version_id=project.rubric_version_id)
    others = Assignment.objects.filter(item=item, expires_at__gt=now).count()
    # Read under the item lock: approval may have raised the target since ``item`` was loaded.
    item.overlap_target = Item.objects.filter(pk=item.pk).values_list("overlap_target", flat=True).get()
    if ratings + others >= project.target_of(item):
        raise Conflict(
            "This item already has all the ratings it needs (or they are being made now); "
            "ask the queue for your next item.",
            errors={"item": ["this item is full."]},
        )
    # Plus the rating, minus the expired lease's row: load stays "ratings + lease rows".
    Item.objects.filter(pk=item.pk).update(load=F("load") + 1 - dropped)
