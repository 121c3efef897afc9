"""32+ annotators on one project at once: the queue never over-assigns, no one gets an item twice.

PostgreSQL only: SQLite has no row locks and runs one writer at a time, so there is no race to
test there.
"""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotation.models import Assignment, Item, Rating, Role, Skip
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.queue import assignment_skip
from annotation.services.queue_wait import QueueWait, assignment_claim_or_wait
from annotation.services.ratings import rating_submit
from config.errors import Conflict
from rubrics.services import rubric_create
from tests.concurrency import annotators_run
from tests.conftest import CRITERIA, GOOD_RATIONALES, GOOD_VALUES

ANNOTATORS = 36
ITEMS = 90
OVERLAP = 3
TIME_LIMIT = 45  # seconds; the run normally takes a few

OVERFULL_SQL = """
    SELECT i.id FROM annotation_item i
    WHERE i.project_id = %s AND (
        (SELECT count(*) FROM annotation_rating r JOIN annotation_rater ra ON ra.id = r.rater_id
         WHERE r.item_id = i.id AND ra.kind = 'human')
      + (SELECT count(*) FROM annotation_assignment a WHERE a.item_id = i.id AND a.expires_at > now())
    ) > %s
"""


def _overfull(project_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(OVERFULL_SQL, [project_id, OVERLAP])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_it_never_over_assigns_with_many_concurrent_annotators(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks (FOR UPDATE SKIP LOCKED) are what is under test; SQLite has none")
    staff = make_user("staff", is_staff=True)
    version = rubric_create(actor=staff, name="Quality", criteria=CRITERIA)
    project = project_create(actor=staff, name="Busy", rubric=version, annotations_per_item=OVERLAP, lease_minutes=5)
    items_import(project=project, rows=[{"external_id": f"i{n}", "data": {"n": n}} for n in range(ITEMS)])
    users = []
    for n in range(ANNOTATORS):
        user = make_user(f"annotator{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        users.append(user)
    item_ids = list(Item.objects.filter(project=project).values_list("id", flat=True))

    failures: list[str] = []
    done_by_user: dict[int, set[int]] = {u.pk: set() for u in users}
    start = threading.Barrier(ANNOTATORS + 1)
    deadline = time.monotonic() + TIME_LIMIT
    counts = {"ratings": 0, "skips": 0, "abandoned": 0, "unleased": 0, "refused": 0, "waits": 0}
    lock = threading.Lock()

    def annotate(user, seed: int) -> None:
        rng = random.Random(seed)
        rater = None
        try:
            rater = rater_for_user(user=user)
            start.wait()
            held = None
            while time.monotonic() < deadline:
                lease = assignment_claim_or_wait(project=project, user=user)
                if lease is None:  # nothing left that could come back: done
                    return
                if isinstance(lease, QueueWait):
                    # Items others hold may come back: ask again, as the annotate page does (sooner
                    # than retry_after, to keep the run short).
                    with lock:
                        counts["waits"] += 1
                    time.sleep(min(lease.retry_after, 0.02))
                    continue
                if lease.item_id in done_by_user[user.pk]:
                    failures.append(f"{user} was offered item {lease.item_id} again after rating or skipping it")
                    return
                if held is not None and held != lease.item_id:
                    failures.append(f"{user} held {held} but was given {lease.item_id} instead")
                    return
                roll = rng.random()
                if roll < 0.1:
                    assignment_skip(project=project, user=user, item=lease.item, reason="unsure")
                    done_by_user[user.pk].add(lease.item_id)
                    held = None
                    with lock:
                        counts["skips"] += 1
                elif roll < 0.15:
                    # Walk away: the lease runs out and the item must go back to the pool.
                    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
                    held = None
                    with lock:
                        counts["abandoned"] += 1
                elif roll < 0.2:
                    # Rate some other item without a lease: accepted while it has room, else 409.
                    held = lease.item_id
                    target = Item.objects.get(pk=rng.choice(item_ids))
                    if target.pk in done_by_user[user.pk] or target.pk == lease.item_id:
                        continue
                    try:
                        rating_submit(item=target, rater=rater, values=GOOD_VALUES, rationales=GOOD_RATIONALES)
                    except Conflict:
                        with lock:
                            counts["refused"] += 1
                    else:
                        done_by_user[user.pk].add(target.pk)
                        with lock:
                            counts["unleased"] += 1
                else:
                    time.sleep(rng.random() * 0.005)
                    rating_submit(item=lease.item, rater=rater, values=GOOD_VALUES, rationales=GOOD_RATIONALES)
                    done_by_user[user.pk].add(lease.item_id)
                    held = None
                    with lock:
                        counts["ratings"] += 1
            failures.append(f"{user} still had work after {TIME_LIMIT}s")
        except Exception as exc:  # a deadlock or a broken invariant inside a service
            failures.append(f"{user}: {exc!r}")
        finally:
            connections.close_all()

    elapsed = annotators_run(
        users=users,
        annotate=annotate,
        start=start,
        overfull=lambda: _overfull(project.pk),
        failures=failures,
        time_limit=TIME_LIMIT,
    )

    assert not failures, failures[:10]
    assert _overfull(project.pk) == []
    assert not Assignment.objects.filter(expires_at__gt=timezone.now()).exists(), "every live lease was used up"
    # Complete: an item short of its overlap has been rated or skipped by every annotator. The queue
    # said "nothing left" only when nothing could come back, so a late skip or a lapsed lease was
    # picked up by someone still waiting.
    short = []
    for item in Item.objects.filter(project=project):
        ratings = Rating.objects.filter(item=item).count()
        assert ratings <= OVERLAP
        if ratings < OVERLAP and ratings + Skip.objects.filter(item=item).count() != ANNOTATORS:
            short.append(item.external_id)
        leases = Assignment.objects.filter(item=item).count()  # expired ones not yet purged
        assert item.load == ratings + leases, f"{item.external_id}: load {item.load} != {ratings} + {leases}"
    assert counts["ratings"] > ITEMS, counts
    print(f"{ANNOTATORS} annotators, {elapsed:.1f}s: {counts}")
    assert not short, f"items left short: {short[:5]}"
