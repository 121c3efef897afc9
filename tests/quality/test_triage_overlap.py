"""Adaptive overlap (docs/triage.md, section 3): one more human rating while raters or a judge
disagree, between the project's minimum and maximum; the queue follows the item's target."""

import pytest

from annotation.models import ApprovedBy, ItemStatus, Rater, RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create, project_update
from annotation.services.queue import assignment_claim_next
from annotation.services.ratings import rating_submit
from config.errors import Conflict
from tests.conftest import GOOD_RATIONALES

pytestmark = pytest.mark.django_db


@pytest.fixture
def adaptive(staff, rubric_version, make_user):
    def make(low, high, n_items=3, people=5):
        project = project_create(
            actor=staff, name="Adaptive", rubric=rubric_version, annotations_per_item=high, overlap_min=low
        )
        items_import(project=project, rows=[{"external_id": f"a{i}", "data": {"n": i}} for i in range(n_items)])
        users = []
        for n in range(people):
            user = make_user(f"rater{n}")
            membership_set(project=project, user=user, role=Role.ANNOTATOR)
            users.append(user)
        return project, list(project.items.order_by("id")), users

    return make


def rate(item, user, correct=True, helpfulness=4):
    values = {"helpfulness": helpfulness, "correct": correct, "tone": "ok"}
    return rating_submit(item=item, rater=rater_for_user(user=user), values=values, rationales=GOOD_RATIONALES)


def test_agreeing_raters_settle_at_the_minimum(adaptive):
    _project, items, users = adaptive(2, 4)
    rate(items[0], users[0])
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.IN_PROGRESS
    rate(items[0], users[1])
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED and items[0].approved_by == ApprovedBy.CONSENSUS
    assert Rating.objects.filter(item=items[0]).count() == 2, "two of a possible four"


def test_disagreement_asks_for_one_more_rating_up_to_the_maximum(adaptive):
    project, items, users = adaptive(2, 4, n_items=1)
    item = items[0]
    rate(item, users[0], correct=True)
    rate(item, users[1], correct=False)
    item.refresh_from_db()
    assert (item.status, item.overlap_target) == (ItemStatus.IN_PROGRESS, 3)
    assert item.decision_reason == "one more rating: raters disagree on correct"
    assert assignment_claim_next(project=project, user=users[0]) is None, "never twice to one person"
    lease = assignment_claim_next(project=project, user=users[2])
    assert lease.item_id == item.pk
    with pytest.raises(Conflict):
        rate(item, users[3])  # the one free slot is leased: the target is not exceeded
    rate(item, users[2], correct=False)
    item.refresh_from_db()
    assert (item.status, item.consensus["correct"]) == (ItemStatus.APPROVED, False), "2 of 3 agree"
    assert assignment_claim_next(project=project, user=users[3]) is None


def test_without_consensus_at_the_maximum_the_item_goes_to_review(adaptive):
    project, items, users = adaptive(2, 3, n_items=1)
    item = items[0]
    rate(item, users[0], helpfulness=1)
    rate(item, users[1], helpfulness=5)
    rate(item, users[2], helpfulness=3)
    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW and item.overlap_target == 3
    assert assignment_claim_next(project=project, user=users[3]) is None


def test_a_dissenting_judge_asks_for_a_second_opinion_but_never_decides(adaptive):
    project, items, users = adaptive(1, 3, n_items=2)
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    for item, said in zip(items, (True, False), strict=True):
        Rating.objects.create(
            item=item,
            rater=judge,
            rubric_version=project.rubric_version,
            values={"helpfulness": 4, "correct": said, "tone": "ok"},
            source="judge",
        )
    rate(items[0], users[0], correct=True)
    rate(items[1], users[0], correct=True)
    items[0].refresh_from_db()
    items[1].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED, "one rater who agrees with the judge settles it"
    assert (items[1].status, items[1].overlap_target) == (ItemStatus.IN_PROGRESS, 2)
    assert items[1].decision_reason == "one more rating: the judge disagrees with the raters on correct"
    rate(items[1], users[1], correct=True)
    items[1].refresh_from_db()
    assert items[1].status == ItemStatus.APPROVED and items[1].consensus["correct"] is True, "two outvote the judge"


def test_overlap_settings_are_checked_and_reported(adaptive, client_for, staff):
    project, _items, _users = adaptive(1, 3)
    client = client_for(staff)
    body = client.get(f"/api/v1/projects/{project.pk}/").json()
    assert (body["overlap_min"], body["annotations_per_item"]) == (1, 3)
    bad = client.patch(f"/api/v1/projects/{project.pk}/", {"overlap_min": 4}, format="json")
    assert bad.status_code == 400 and "overlap_min" in bad.json()["errors"]
    bad = client.patch(f"/api/v1/projects/{project.pk}/", {"annotations_per_item": 0}, format="json")
    assert bad.status_code == 400
    fixed = client.patch(f"/api/v1/projects/{project.pk}/", {"overlap_min": None}, format="json")
    assert fixed.status_code == 200 and fixed.json()["overlap_min"] is None


def test_a_lower_maximum_caps_raised_targets(adaptive):
    project, items, users = adaptive(2, 4, n_items=1)
    rate(items[0], users[0], correct=True)
    rate(items[0], users[1], correct=False)
    rate(items[0], users[2], helpfulness=1)
    items[0].refresh_from_db()
    assert items[0].overlap_target == 4
    project_update(project=project, annotations_per_item=3)
    items[0].refresh_from_db()
    assert items[0].overlap_target == 3 and items[0].status == ItemStatus.NEEDS_REVIEW


def test_the_dashboard_shows_ratings_per_item_and_what_adaptive_overlap_saved(adaptive, client, staff):
    project, items, users = adaptive(2, 4, n_items=3)
    for item in items[:2]:  # two items settle at two agreeing ratings
        rate(item, users[0])
        rate(item, users[1])
    rate(items[2], users[0], correct=True)  # the third needs a third rating
    rate(items[2], users[1], correct=False)
    rate(items[2], users[2], correct=False)
    client.force_login(staff)
    page = client.get(f"/projects/{project.pk}/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    # 3 finished items took 2 + 2 + 3 = 7 ratings against 12 at a fixed 4: 42 % saved.
    assert 'data-field="ratings-used">7<' in html and "42 % saved" in html
    assert 'data-ratings="2">2<' in html and 'data-ratings="3">1<' in html
