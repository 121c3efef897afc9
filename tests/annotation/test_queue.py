from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Draft, Item, ItemStatus, Rating, Skip
from annotation.services.item_loads import item_load_recount
from annotation.services.items import items_import
from annotation.services.projects import project_update
from annotation.services.queue import assignment_claim_next, assignment_release
from annotation.services.rating_imports import ratings_import
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES


def claim(client, project):
    return client.post(f"/api/v1/projects/{project.pk}/queue/next/")


def claimed_id(client, project) -> int | None:
    response = claim(client, project)
    assert response.status_code in (200, 204), response.content
    return response.json()["item"]["id"] if response.status_code == 200 else None


def rate(client, item_id, **extra):
    body = {"values": GOOD_VALUES, "rationales": GOOD_RATIONALES, **extra}
    return client.post(f"/api/v1/items/{item_id}/ratings/", body, format="json")


def skip(client, project, item_id, reason="unclear"):
    return client.post(f"/api/v1/projects/{project.pk}/queue/skip/", {"item": item_id, "reason": reason}, format="json")


def expire_leases(**filters):
    Assignment.objects.filter(**filters).update(expires_at=timezone.now() - timedelta(seconds=1))


def load_is_exact():
    for item in Item.objects.all():
        ratings = Rating.objects.filter(
            item=item, rater__kind="human", rubric_version_id=item.project.rubric_version_id
        ).count()
        assert item.load == ratings + Assignment.objects.filter(item=item).count(), item.external_id


def test_it_leases_the_oldest_item_with_its_data(client_for, members, items, project):
    response = claim(client_for(members["annotator"]), project)
    assert response.status_code == 200
    body = response.json()
    assert body["item"] == {"id": items[0].pk, "external_id": "x0", "data": {"prompt": "p0", "response": "r0"}}
    lease = Assignment.objects.get()
    assert (lease.item_id, lease.user) == (items[0].pk, members["annotator"])
    assert abs((lease.expires_at - timezone.now()) - timedelta(minutes=project.lease_minutes)) < timedelta(seconds=5)
    assert body["lease_expires_at"].startswith(lease.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_it_returns_the_same_item_when_asked_twice(client_for, members, items, project):
    client = client_for(members["annotator"])
    assert claimed_id(client, project) == claimed_id(client, project) == items[0].pk
    assert Assignment.objects.count() == 1


def test_it_answers_204_when_nothing_is_left(client_for, members, items, project):
    client = client_for(members["annotator"])
    for _ in items:
        assert rate(client, claimed_id(client, project)).status_code == 201
    response = claim(client, project)
    assert response.status_code == 204
    assert not response.content


def test_it_never_offers_an_item_already_rated_or_skipped(client_for, members, items, project):
    client = client_for(members["annotator"])
    assert rate(client, items[0].pk).status_code == 201  # rated without the queue
    assert skip(client, project, items[1].pk).status_code == 204
    offered = []
    while (item_id := claimed_id(client, project)) is not None:
        offered.append(item_id)
        assert rate(client, item_id).status_code == 201
    assert offered == [i.pk for i in items[2:]]


def test_it_respects_overlap(client_for, members, items, project, make_user):
    """annotations_per_item=2: the third annotator is only offered items with a free slot."""
    from annotation.services.projects import membership_set

    third = make_user("third")
    membership_set(project=project, user=third, role="annotator")
    first, second = members["annotator"], members["annotator2"]
    assert claimed_id(client_for(first), project) == items[0].pk
    assert claimed_id(client_for(second), project) == items[0].pk  # fullest first: it already has a lease
    assert claimed_id(client_for(third), project) == items[1].pk  # items[0] is full (two leases)
    for item in Item.objects.all():
        ratings = Rating.objects.filter(item=item).count()
        assert ratings + Assignment.objects.filter(item=item).count() <= 2


def test_it_prefers_items_closest_to_completion_then_the_oldest(client_for, members, items, project):
    # items[3] has one rating, items[4] one live lease: both are one short of full.
    assert rate(client_for(members["reviewer"]), items[3].pk).status_code == 201
    Assignment.objects.create(
        project=project, item=items[4], user=members["manager"], expires_at=timezone.now() + timedelta(minutes=5)
    )
    Item.objects.filter(pk=items[4].pk).update(load=1)
    client = client_for(members["annotator"])
    assert claimed_id(client, project) == items[3].pk
    assert rate(client, items[3].pk).status_code == 201
    assert claimed_id(client, project) == items[4].pk
    assert rate(client, items[4].pk).status_code == 201
    assert claimed_id(client, project) == items[0].pk


def test_it_returns_an_item_to_the_pool_when_its_lease_expires(client_for, members, items, project):
    project_update(project=project, annotations_per_item=1)
    first, second = client_for(members["annotator"]), client_for(members["annotator2"])
    assert claimed_id(first, project) == items[0].pk
    assert claimed_id(second, project) == items[1].pk
    expire_leases(user=members["annotator"])
    assert claimed_id(client_for(members["reviewer"]), project) == items[0].pk
    assert not Assignment.objects.filter(user=members["annotator"]).exists(), "the expired lease was deleted"
    load_is_exact()


def test_it_does_not_return_an_expired_lease_as_held(client_for, members, items, project):
    client = client_for(members["annotator"])
    assert claimed_id(client, project) == items[0].pk
    expire_leases()
    # The old item is back in the pool and, being the oldest, comes straight back with a fresh lease.
    assert claimed_id(client, project) == items[0].pk
    assert Assignment.objects.get().expires_at > timezone.now()
    load_is_exact()


@pytest.mark.both_databases
def test_it_passes_over_an_item_whose_load_says_free_but_is_full(client_for, members, items, project):
    """The load only orders the walk: under the item's lock the claim recounts, leases nothing on a
    full item, repairs its load and goes on to the next one."""
    project_update(project=project, annotations_per_item=2)
    assert rate(client_for(members["reviewer"]), items[0].pk).status_code == 201
    assert claimed_id(client_for(members["annotator2"]), project) == items[0].pk  # now full: 1 rating + 1 lease
    Item.objects.filter(pk=items[0].pk).update(load=0)  # drifted: the walk takes it for empty
    assert claimed_id(client_for(members["annotator"]), project) == items[1].pk
    assert list(Assignment.objects.filter(item=items[0]).values_list("user", flat=True)) == [members["annotator2"].pk]
    load_is_exact()


def test_it_releases_the_lease_on_skip_and_never_offers_the_item_again(client_for, members, items, project):
    client = client_for(members["annotator"])
    item_id = claimed_id(client, project)
    assert skip(client, project, item_id, reason="  not in English ").status_code == 204
    assert not Assignment.objects.exists()
    assert Skip.objects.get().reason == "not in English"
    assert claimed_id(client, project) == items[1].pk
    assert skip(client, project, item_id, reason="again").status_code == 204, "skipping twice is harmless"
    assert Skip.objects.get().reason == "not in English"
    load_is_exact()
    # Someone else still gets the skipped item.
    assert claimed_id(client_for(members["annotator2"]), project) == items[1].pk


@pytest.mark.parametrize(
    ("body", "field"),
    [({"item": 999999, "reason": "x"}, "item"), ({"reason": "x"}, "item"), ({"item": "abc"}, "item")],
)
def test_it_rejects_a_skip_of_an_unknown_item_with_400(client_for, members, items, project, body, field):
    response = client_for(members["annotator"]).post(f"/api/v1/projects/{project.pk}/queue/skip/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_it_rejects_a_skip_of_another_projects_item(client_for, members, items, project, staff):
    from annotation.services.projects import project_create

    other = project_create(actor=staff, name="B", rubric=project.rubric_version)
    items_import(project=other, rows=[{"external_id": "b", "data": {}}])
    response = skip(client_for(members["annotator"]), project, other.items.get().pk)
    assert response.status_code == 400
    assert "no item" in response.json()["errors"]["item"][0]
    assert not Skip.objects.exists()


def test_it_rejects_a_bad_skip_reason_with_400(client_for, members, items, project):
    response = skip(client_for(members["annotator"]), project, items[0].pk, reason="x" * 501)
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]


def test_it_consumes_the_lease_and_the_draft_when_the_rating_is_submitted(client_for, members, items, project):
    client = client_for(members["annotator"])
    item_id = claimed_id(client, project)
    put = client.put(f"/api/v1/items/{item_id}/draft/", {"values": {"helpfulness": 3}}, format="json")
    assert put.status_code == 200
    assert rate(client, item_id).status_code == 201
    assert not Assignment.objects.exists()
    assert not Draft.objects.exists()
    assert claimed_id(client, project) == items[1].pk
    load_is_exact()


def test_it_accepts_a_rating_without_a_lease_while_the_item_has_room(client_for, members, items, project):
    Assignment.objects.create(
        project=project, item=items[0], user=members["annotator2"], expires_at=timezone.now() + timedelta(minutes=5)
    )
    Item.objects.filter(pk=items[0].pk).update(load=1)
    assert rate(client_for(members["annotator"]), items[0].pk).status_code == 201
    load_is_exact()


def test_it_refuses_a_rating_without_a_lease_on_a_full_item_with_409(client_for, members, items, project):
    assert claimed_id(client_for(members["annotator"]), project) == items[0].pk
    assert claimed_id(client_for(members["annotator2"]), project) == items[0].pk
    response = rate(client_for(members["reviewer"]), items[0].pk)
    assert response.status_code == 409
    assert "already has all the ratings" in response.json()["detail"]
    assert not Rating.objects.exists()
    # The lease holders can still submit.
    assert rate(client_for(members["annotator"]), items[0].pk).status_code == 201
    assert rate(client_for(members["annotator2"]), items[0].pk).status_code == 201
    load_is_exact()


def test_it_treats_an_expired_lease_like_none(client_for, members, items, project, make_user):
    first = client_for(members["annotator"])
    assert claimed_id(first, project) == items[0].pk
    expire_leases(user=members["annotator"])
    # While expired, the item has room for two others, and they fill it.
    assert claimed_id(client_for(members["annotator2"]), project) == items[0].pk
    assert rate(client_for(members["reviewer"]), items[0].pk).status_code == 201
    response = rate(first, items[0].pk)
    assert response.status_code == 409, "the expired lease no longer holds a slot"
    # With room again, the same expired lease is harmless: the rating goes in and uses it up.
    assert rate(client_for(members["annotator2"]), items[1].pk).status_code == 201
    Assignment.objects.create(
        project=project, item=items[1], user=members["annotator"], expires_at=timezone.now() - timedelta(minutes=1)
    )
    item_load_recount(project=project)
    assert rate(first, items[1].pk).status_code == 201
    assert not Assignment.objects.filter(user=members["annotator"]).exists()
    load_is_exact()


def test_it_only_offers_open_items(client_for, members, items, project):
    Item.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(status=ItemStatus.NEEDS_REVIEW)
    Item.objects.filter(pk=items[2].pk).update(status=ItemStatus.APPROVED)
    assert claimed_id(client_for(members["annotator"]), project) == items[3].pk


def test_it_lets_every_member_role_rate_and_no_one_else(client_for, members, items, project):
    for role in ("manager", "reviewer", "annotator"):
        assert claim(client_for(members[role]), project).status_code == 200
    assert claim(client_for(members["outsider"]), project).status_code == 403
    assert claim(client_for(None), project).status_code == 401
    assert client_for(members["annotator"]).post("/api/v1/projects/999999/queue/next/").status_code == 404


def test_it_counts_imported_ratings_against_overlap(client_for, members, items, project):
    rows = [
        {"external_id": "x0", "rater": name, "values": GOOD_VALUES, "rationales": GOOD_RATIONALES}
        for name in ("manager", "reviewer")
    ]
    ratings_import(project=project, rows=rows)
    load_is_exact()
    assert claimed_id(client_for(members["annotator"]), project) == items[1].pk


def test_it_releases_a_lease_on_request(members, items, project):
    lease = assignment_claim_next(project=project, user=members["annotator"])
    assignment_release(project=project, user=members["annotator"], item=lease.item)
    assert not Assignment.objects.exists()
    assignment_release(project=project, user=members["annotator"], item=lease.item)
    load_is_exact()


def test_it_recounts_a_drifted_load(members, items, project, client_for):
    client = client_for(members["annotator"])
    assert rate(client, items[0].pk).status_code == 201
    Item.objects.filter(pk=items[0].pk).update(load=7)
    item_load_recount(project=project)
    load_is_exact()


def test_it_saves_and_returns_only_your_own_draft(client_for, members, items):
    url = f"/api/v1/items/{items[0].pk}/draft/"
    mine, theirs = client_for(members["annotator"]), client_for(members["annotator2"])
    assert mine.get(url).status_code == 204
    body = {"values": {"helpfulness": 2}, "rationales": {"helpfulness": "half"}, "seconds_spent": 12.5}
    saved = mine.put(url, body, format="json")
    assert saved.status_code == 200
    assert saved.json()["values"] == {"helpfulness": 2}
    again = mine.put(url, {**body, "values": {"helpfulness": 3, "tone": "ok"}}, format="json")
    assert again.status_code == 200
    assert Draft.objects.count() == 1
    got = mine.get(url).json()
    assert got["values"] == {"helpfulness": 3, "tone": "ok"}
    assert got["seconds_spent"] == 12.5
    assert theirs.get(url).status_code == 204, "another annotator never sees my draft"
    assert client_for(members["outsider"]).get(url).status_code == 403


@pytest.mark.parametrize("body", [{"values": [1]}, {"rationales": "x"}, {"seconds_spent": -1}, []])
def test_it_rejects_malformed_drafts_with_400(client_for, members, items, body):
    response = client_for(members["annotator"]).put(f"/api/v1/items/{items[0].pk}/draft/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert not Draft.objects.exists()


def test_it_shows_annotators_only_the_item_when_leasing(client_for, members, items, project):
    assert rate(client_for(members["annotator2"]), items[0].pk).status_code == 201
    body = claim(client_for(members["annotator"]), project).json()
    assert body["item"]["id"] == items[0].pk
    assert set(body) == {"item", "lease_expires_at"}
    assert set(body["item"]) == {"id", "external_id", "data"}
