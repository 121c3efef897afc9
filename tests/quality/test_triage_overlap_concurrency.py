"""Adaptive overlap under 24 concurrent annotators: the queue's guarantees hold for the dynamic
target (never over-assigned, never twice to one person) while approval raises targets.

PostgreSQL only, like tests/annotation/test_queue_concurrency.py: SQLite has no row locks.
"""

import random
import threading
import time

import pytest
from django.db import connection, connections

import agreement
from annotation.models import Assignment, Item, ItemStatus, Rating, Role, Skip
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.queue import assignment_claim_next, assignment_skip
from annotation.services.ratings import rating_submit
from config.errors import Conflict
from quality.services.policy import policy_update
from rubrics.services import rubric_create
from tests.concurrency import annotators_run
from tests.conftest import CRITERIA, GOOD_RATIONALES

ANNOTATORS = 24
ITEMS = 60
MIN, MAX = 2, 4
TIME_LIMIT = 45
TARGET = 0.9

# Human ratings plus live leases above the item's target (or above the maximum) at any instant.
OVERFULL_SQL = """
    SELECT i.id FROM annotation_item i
    WHERE i.project_id = %(project)s AND (
        (SELECT count(*) FROM annotation_rating r JOIN annotation_rater ra ON ra.id = r.rater_id
         WHERE r.item_id = i.id AND ra.kind = 'human')
      + (SELECT count(*) FROM annotation_assignment a WHERE a.item_id = i.id AND a.expires_at > now())
    ) > LEAST(COALESCE(i.overlap_target, %(min)s), %(max)s)
"""


def _overfull(project_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(OVERFULL_SQL, {"project": project_id, "min": MIN, "max": MAX})
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rule", ["agreement", "posterior"])
def test_adaptive_targets_are_never_over_assigned_under_concurrency(make_user, rule):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks (FOR UPDATE SKIP LOCKED) are what is under test; SQLite has none")
    staff = make_user("staff", is_staff=True)
    version = rubric_create(actor=staff, name="Quality", criteria=CRITERIA)
    project = project_create(
        actor=staff, name="Adaptive", rubric=version, annotations_per_item=MAX, overlap_min=MIN, lease_minutes=5
    )
    items_import(project=project, rows=[{"external_id": f"i{n}", "data": {"n": n}} for n in range(ITEMS)])
    if rule == "posterior":
        # Unfitted: every rater 0.8 accurate on a uniform prior; two agreeing ratings reach 0.94.
        policy_update(project=project, stopping_rule="posterior", stopping_target=TARGET)
    users = []
    for n in range(ANNOTATORS):
        user = make_user(f"annotator{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        users.append(user)

    failures: list[str] = []
    done_by_user: dict[int, set[int]] = {u.pk: set() for u in users}
    start = threading.Barrier(ANNOTATORS + 1)
    deadline = time.monotonic() + TIME_LIMIT
    counts = {"ratings": 0, "skips": 0, "refused": 0}
    lock = threading.Lock()

    def annotate(user, seed: int) -> None:
        rng = random.Random(seed)
        try:
            rater = rater_for_user(user=user)
            start.wait()
            while time.monotonic() < deadline:
                lease = assignment_claim_next(project=project, user=user)
                if lease is None:
                    return
                if lease.item_id in done_by_user[user.pk]:
                    failures.append(f"{user} was offered item {lease.item_id} again after rating or skipping it")
                    return
                if rng.random() < 0.05:
                    assignment_skip(project=project, user=user, item=lease.item, reason="unsure")
                    done_by_user[user.pk].add(lease.item_id)
                    with lock:
                        counts["skips"] += 1
                    continue
                # Raters who disagree a third of the time: targets rise on those items.
                values = {"helpfulness": 4, "correct": rng.random() < 0.67, "tone": "ok"}
                try:
                    rating_submit(item=lease.item, rater=rater, values=values, rationales=GOOD_RATIONALES)
                except Conflict:
                    with lock:
                        counts["refused"] += 1
                else:
                    with lock:
                        counts["ratings"] += 1
                done_by_user[user.pk].add(lease.item_id)
            failures.append(f"{user} still had work after {TIME_LIMIT}s")
        except Exception as exc:
            failures.append(f"{user}: {exc!r}")
        finally:
            connections.close_all()

    annotators_run(
        users=users,
        annotate=annotate,
        start=start,
        overfull=lambda: _overfull(project.pk),
        failures=failures,
        time_limit=TIME_LIMIT,
    )

    assert not failures, failures[:10]
    assert _overfull(project.pk) == []
    assert counts["refused"] == 0, "a leased item is never refused"
    per_item = []
    for item in Item.objects.filter(project=project):
        ratings = list(Rating.objects.filter(item=item).values_list("values__correct", flat=True))
        per_item.append(len(ratings))
        assert MIN <= len(ratings) <= MAX or Skip.objects.filter(item=item).count() + len(ratings) == ANNOTATORS
        # Settled the way the rule says: approved when the humans agree (2/3) or the posterior reaches
        # the target, review when exhausted.
        if item.status == ItemStatus.NEEDS_REVIEW:
            assert len(ratings) == MAX
        elif item.status == ItemStatus.APPROVED and rule == "agreement":
            top = max(ratings.count(True), ratings.count(False))
            assert top / len(ratings) >= 2 / 3, (item.external_id, ratings)
        elif item.status == ItemStatus.APPROVED:
            post = agreement.label_posterior(points=[False, True], ratings=ratings, rater_accuracy=0.8)
            assert post[[False, True].index(item.consensus["correct"])] >= TARGET, (item.external_id, ratings)
        leases = Assignment.objects.filter(item=item).count()
        assert item.load == len(ratings) + leases
    assert sum(per_item) < MAX * ITEMS, "adaptive overlap used fewer ratings than fixed overlap at the maximum"
    assert max(per_item) > MIN, "disagreement raised some targets"
    print(f"{ANNOTATORS} annotators: {counts}; ratings per item {sorted(per_item)}")
