"""Correcting a rating: PATCH /api/v1/items/{id}/ratings/mine/ (own rating only, closed once the item
is decided, history kept, the item decided again, exports and agreement on current values only)."""

import json

import pytest

from annotation.models import Gold, ItemStatus, Rating, RatingChange, Skip
from annotation.services.queue import assignment_skip
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

MINE = "/api/v1/items/{}/ratings/mine/"


def rate(client, item, **values):
    body = {"values": {**GOOD_VALUES, **values}, "rationales": GOOD_RATIONALES}
    response = client.post(f"/api/v1/items/{item.pk}/ratings/", body, format="json")
    assert response.status_code == 201, response.json()
    return response


def change(client, item, rationales=None, **values):
    body = {"values": {**GOOD_VALUES, **values}, "rationales": rationales or GOOD_RATIONALES}
    return client.patch(MINE.format(item.pk), body, format="json")


def test_it_changes_my_rating_and_keeps_the_old_values_as_history(client_for, members, items):
    annotator = client_for(members["annotator"])
    item = items[0]
    rate(annotator, item, helpfulness=2)
    response = change(annotator, item, {"helpfulness": "Better than I first thought."}, helpfulness=4)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["values"]["helpfulness"] == 4
    assert body["rationales"] == {"helpfulness": "Better than I first thought."}
    [entry] = body["history"]
    assert entry["changed_by"] == "annotator"
    assert entry["values_before"]["helpfulness"] == 2
    assert entry["values_after"]["helpfulness"] == 4
    assert entry["rationales_before"] == GOOD_RATIONALES
    assert entry["changed_at"]

    stored = Rating.objects.get(item=item)
    assert stored.values["helpfulness"] == 4, "the rating row holds the current values"
    assert stored.updated_at > stored.created_at
    assert annotator.get(MINE.format(item.pk)).json()["history"] == body["history"]

    # A second change adds a second entry; the same values again add none.
    assert change(annotator, item, helpfulness=5).status_code == 200
    assert change(annotator, item, helpfulness=5).status_code == 200
    history = annotator.get(MINE.format(item.pk)).json()["history"]
    assert [(h["values_before"]["helpfulness"], h["values_after"]["helpfulness"]) for h in history] == [(2, 4), (4, 5)]


def test_it_changes_only_my_own_rating(client_for, members, items):
    item = items[0]
    rate(client_for(members["annotator"]), item, helpfulness=2)
    other = client_for(members["annotator2"])
    response = change(other, item, helpfulness=5)
    assert response.status_code == 404, "annotator2 has no rating of this item to change"
    assert other.get(MINE.format(item.pk)).status_code == 404
    assert change(client_for(members["outsider"]), item, helpfulness=5).status_code == 403
    assert change(client_for(None), item, helpfulness=5).status_code == 401
    assert Rating.objects.get(item=item).values["helpfulness"] == 2
    assert not RatingChange.objects.exists()


def test_bad_values_are_a_400_per_criterion_and_change_nothing(client_for, members, items):
    annotator = client_for(members["annotator"])
    rate(annotator, items[0], helpfulness=2)
    response = change(annotator, items[0], helpfulness=9, tone="meh")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"helpfulness", "tone"}
    response = annotator.patch(MINE.format(items[0].pk), {"values": GOOD_VALUES, "valeus": 1}, format="json")
    assert response.status_code == 400 and "valeus" in response.json()["errors"]
    assert Rating.objects.get().values["helpfulness"] == 2
    assert not RatingChange.objects.exists()


def test_a_change_decides_the_item_again(client_for, members, items):
    """Two raters disagree (needs review); one corrects their rating to agree: approved, with the
    consensus of the current values."""
    annotator, annotator2 = client_for(members["annotator"]), client_for(members["annotator2"])
    item = items[0]
    rate(annotator, item, helpfulness=1)
    rate(annotator2, item, helpfulness=4)
    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW
    assert change(annotator, item, helpfulness=4).status_code == 200
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED
    assert item.approved_by == "consensus"
    assert item.consensus["helpfulness"] == 4


def test_a_change_recomputes_agreement(client_for, members, items):
    annotator, annotator2 = client_for(members["annotator"]), client_for(members["annotator2"])
    reviewer = client_for(members["reviewer"])
    for n, item in enumerate(items[:4]):
        rate(annotator, item, helpfulness=1 + n)
        rate(annotator2, item, helpfulness=4 - n if n != 1 else 2)

    def alpha():
        body = reviewer.get(f"/api/v1/projects/{items[0].project_id}/agreement/?bootstrap=0").json()
        assert body["stale"] is False
        return next(c for c in body["criteria"] if c["key"] == "helpfulness")["humans"]["alpha"]

    before = alpha()
    # items[0] (1 vs 4) is in review, so still open: annotator2 moves to agree with annotator.
    assert change(annotator2, items[0], helpfulness=1).status_code == 200
    after = alpha()
    assert after > before, (before, after)


@pytest.mark.parametrize("decision", ["approved", "gold", "rejected"])
def test_it_refuses_a_change_once_the_item_is_decided_with_409(client_for, members, items, decision):
    annotator, annotator2 = client_for(members["annotator"]), client_for(members["annotator2"])
    item = items[0]
    rate(annotator, item, helpfulness=4)
    if decision == "approved":
        rate(annotator2, item, helpfulness=4)
    elif decision == "gold":
        response = client_for(members["reviewer"]).post(
            f"/api/v1/items/{item.pk}/gold/", {"values": GOOD_VALUES}, format="json"
        )
        assert response.status_code == 201
    else:
        response = client_for(members["manager"]).post(
            f"/api/v1/items/{item.pk}/reject/", {"reason": "broken item"}, format="json"
        )
        assert response.status_code == 200, response.json()
    response = change(annotator, item, helpfulness=1)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("This rating can no longer be changed:")
    expected = {"approved": "approved", "gold": "adjudicated", "rejected": "rejected"}[decision]
    assert expected in detail
    assert Rating.objects.get(item=item, rater__user=members["annotator"]).values["helpfulness"] == 4
    assert not RatingChange.objects.exists()
    if decision == "gold":
        assert Gold.objects.filter(item=item).exists()


def test_exports_carry_only_the_current_values(client_for, members, items):
    annotator = client_for(members["annotator"])
    item = items[0]
    rate(annotator, item, helpfulness=2)
    change(annotator, item, helpfulness=5)
    response = client_for(members["manager"]).get(
        f"/api/v1/projects/{item.project_id}/export/?status=all&include=ratings"
    )
    records = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    [record] = [r for r in records if r["external_id"] == item.external_id]
    [rating] = record["ratings"]
    assert rating["values"]["helpfulness"] == 5
    assert "history" not in rating and "2" not in json.dumps(rating["values"])


def test_a_skip_can_be_taken_back(client_for, members, project, items):
    user = members["annotator"]
    assignment_skip(project=project, user=user, item=items[0], reason="later")
    client = client_for(user)
    response = client.post(f"/api/v1/projects/{project.pk}/queue/unskip/", {"item": items[0].pk}, format="json")
    assert response.status_code == 204
    assert not Skip.objects.filter(user=user).exists()
    # Idempotent, and the item is offered again.
    again = client.post(f"/api/v1/projects/{project.pk}/queue/unskip/", {"item": items[0].pk}, format="json")
    assert again.status_code == 204
    lease = client.post(f"/api/v1/projects/{project.pk}/queue/next/").json()
    assert lease["item"]["id"] == items[0].pk
    missing = client.post(f"/api/v1/projects/{project.pk}/queue/unskip/", {"item": 999999}, format="json")
    assert missing.status_code == 400 and "item" in missing.json()["errors"]
