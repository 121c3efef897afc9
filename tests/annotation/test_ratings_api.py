import pytest

from annotation.models import ItemStatus, Rating
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES


def rate(client, item, values=None, rationales=None, **extra):
    body = {"values": GOOD_VALUES if values is None else values, "rationales": rationales or GOOD_RATIONALES, **extra}
    return client.post(f"/api/v1/items/{item.pk}/ratings/", body, format="json")


def test_it_stores_a_rating_and_moves_the_item_along(client_for, members, items):
    item = items[0]
    response = rate(client_for(members["annotator"]), item, seconds_spent=41.5)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["values"] == GOOD_VALUES
    assert body["rater_kind"] == "human"
    assert body["rubric_version"] == 1
    # The answer is the row as stored (it is not read back): its id and the database's timestamp.
    stored = Rating.objects.get()
    assert (body["id"], body["seconds_spent"]) == (stored.pk, 41.5)
    assert body["created_at"].replace("Z", "+00:00") == stored.created_at.isoformat()
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_PROGRESS
    assert rate(client_for(members["annotator2"]), item).status_code == 201
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED, "two agreeing ratings reach annotations_per_item=2"


def test_it_answers_bad_values_per_criterion(client_for, members, items):
    response = rate(
        client_for(members["annotator"]),
        items[0],
        values={"helpfulness": 7, "tone": "meh", "bogus": 1},
        rationales={"helpfulness": "x"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "outside the scale" in errors["helpfulness"][0]
    assert errors["correct"] == ["this criterion is required."]
    assert "expected one of ok, rude" in errors["tone"][0]
    assert "unknown criterion" in errors["bogus"][0]
    assert not Rating.objects.exists()


def test_it_requires_rationales_where_the_rubric_says_so(client_for, members, items):
    response = client_for(members["annotator"]).post(
        f"/api/v1/items/{items[0].pk}/ratings/", {"values": GOOD_VALUES}, format="json"
    )
    assert response.status_code == 400
    assert "rationale is required" in response.json()["errors"]["helpfulness"][0]


def test_it_refuses_a_second_rating_by_the_same_rater_with_409(client_for, members, items):
    client = client_for(members["annotator"])
    assert rate(client, items[0]).status_code == 201
    second = rate(client, items[0], values={**GOOD_VALUES, "helpfulness": 1})
    assert second.status_code == 409
    assert "already rated" in second.json()["detail"]
    assert Rating.objects.get().values["helpfulness"] == 4


def test_it_forbids_non_members(client_for, members, items):
    assert rate(client_for(members["outsider"]), items[0]).status_code == 403
    assert rate(client_for(None), items[0]).status_code == 401
    assert not Rating.objects.exists()


def test_it_answers_404_for_an_unknown_item(client_for, members):
    assert client_for(members["annotator"]).post("/api/v1/items/999999/ratings/", {}, format="json").status_code == 404


@pytest.mark.parametrize("body", [[], "values", {"values": [1, 2]}, {"values": GOOD_VALUES, "seconds_spent": -1}])
def test_it_rejects_malformed_bodies_with_400(client_for, members, items, body):
    response = client_for(members["annotator"]).post(f"/api/v1/items/{items[0].pk}/ratings/", body, format="json")
    assert response.status_code == 400


def test_it_keeps_annotators_blind_to_other_raters(client_for, members, items):
    rate(client_for(members["annotator"]), items[0])
    rate(client_for(members["annotator2"]), items[0], values={**GOOD_VALUES, "helpfulness": 2})
    own = client_for(members["annotator"]).get(f"/api/v1/items/{items[0].pk}/ratings/").json()
    assert [r["rater"] for r in own] == ["annotator"]
    everyone = client_for(members["reviewer"]).get(f"/api/v1/items/{items[0].pk}/ratings/").json()
    assert sorted(r["rater"] for r in everyone) == ["annotator", "annotator2"]
