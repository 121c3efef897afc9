import pytest

from annotation.models import Gold, ItemStatus, Rater, RaterKind, RatingSource
from annotation.selectors import items_for_review
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

GOLD = {"helpfulness": 3, "correct": True, "tone": "ok"}


def rate(client, item, **values):
    body = {"values": {**GOOD_VALUES, **values}, "rationales": GOOD_RATIONALES}
    response = client.post(f"/api/v1/items/{item.pk}/ratings/", body, format="json")
    assert response.status_code == 201, response.json()


def judge_rates(item, **values):
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge-v1")
    return rating_submit(
        item=item,
        rater=judge,
        values={**GOOD_VALUES, **values},
        rationales=GOOD_RATIONALES,
        source=RatingSource.JUDGE,
    )


def review(client, project):
    return client.get(f"/api/v1/projects/{project.pk}/review/")


def test_it_lists_disagreements_and_items_sent_to_review(client_for, members, items, project):
    a, b = client_for(members["annotator"]), client_for(members["annotator2"])
    rate(a, items[0], helpfulness=2)
    rate(b, items[0], helpfulness=5)  # disagree
    rate(a, items[1])
    rate(b, items[1])  # agree
    rate(a, items[2], notes="one view")
    rate(b, items[2], notes="another view")  # differ only in free text: not a disagreement
    rate(a, items[3], correct=False)
    rate(b, items[3])  # disagree on a binary criterion
    items[4].status = ItemStatus.NEEDS_REVIEW
    items[4].save()
    assert list(items_for_review(project=project)) == [items[0], items[3], items[4]]


def test_it_shows_reviewers_every_rater_side_by_side(client_for, members, items, project):
    rate(client_for(members["annotator"]), items[0], helpfulness=2)
    rate(client_for(members["annotator2"]), items[0], helpfulness=5)
    judge_rates(items[0], helpfulness=4)
    for role in ("reviewer", "manager"):
        response = review(client_for(members[role]), project)
        assert response.status_code == 200
        [entry] = response.json()["results"]
        assert entry["id"] == items[0].pk
        assert entry["data"] == {"prompt": "p0", "response": "r0"}
        side_by_side = {(r["rater"], r["kind"], r["values"]["helpfulness"]) for r in entry["ratings"]}
        assert side_by_side == {("annotator", "human", 2), ("annotator2", "human", 5), ("judge-v1", "judge", 4)}
        assert all(r["rationales"] == GOOD_RATIONALES for r in entry["ratings"])


def test_it_keeps_the_review_list_from_annotators_and_outsiders(client_for, members, items, project):
    assert review(client_for(members["annotator"]), project).status_code == 403
    assert review(client_for(members["outsider"]), project).status_code == 403
    assert review(client_for(None), project).status_code == 401


def test_it_keeps_annotators_blind_to_judges_and_other_people(client_for, members, items, project):
    rate(client_for(members["annotator2"]), items[0], helpfulness=5)
    judge_rates(items[0], helpfulness=1)
    client = client_for(members["annotator"])
    assert client.get(f"/api/v1/items/{items[0].pk}/ratings/").json() == []
    lease = client.post(f"/api/v1/projects/{project.pk}/queue/next/").json()
    assert lease["item"]["id"] == items[0].pk
    assert "helpfulness" not in str(lease)
    assert client.get(f"/api/v1/items/{items[0].pk}/draft/").status_code == 204
    assert "ratings" not in client.get(f"/api/v1/items/{items[0].pk}/").json()


def test_it_sets_gold_and_takes_the_item_off_the_review_list(client_for, members, items, project):
    items[0].status = ItemStatus.NEEDS_REVIEW
    items[0].save()
    client = client_for(members["reviewer"])
    response = client.post(
        f"/api/v1/items/{items[0].pk}/gold/",
        {"values": GOLD, "rationales": {"helpfulness": " Partly answers. "}, "note": "raters split"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["values"] == GOLD
    assert body["reviewer"] == "reviewer"
    gold = Gold.objects.get()
    assert (gold.item, gold.rubric_version, gold.note) == (items[0], project.rubric_version, "raters split")
    assert gold.rationales == {"helpfulness": "Partly answers."}
    assert review(client, project).json()["results"] == []
    # Upsert: a second decision replaces the first.
    again = client_for(members["manager"]).post(
        f"/api/v1/items/{items[0].pk}/gold/", {"values": {**GOLD, "helpfulness": 4}}, format="json"
    )
    assert again.status_code == 201
    gold = Gold.objects.get()
    assert (gold.values["helpfulness"], gold.reviewer, gold.rationales) == (4, members["manager"], {})


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"values": {**GOLD, "helpfulness": 9}}, "helpfulness", "outside the scale"),
        ({"values": {"helpfulness": 3, "tone": "ok"}}, "correct", "this criterion is required."),
        ({"values": {**GOLD, "bogus": 1}}, "bogus", "unknown criterion"),
        ({"values": "high"}, "values", "object"),
        ({"values": GOLD, "rationales": ["x"]}, "rationales", "object"),
        ({}, "values", "required"),
    ],
)
def test_it_validates_gold_against_the_rubric(client_for, members, items, body, field, message):
    response = client_for(members["reviewer"]).post(f"/api/v1/items/{items[0].pk}/gold/", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"][field])
    assert not Gold.objects.exists()


def test_it_forbids_gold_from_annotators_and_outsiders(client_for, members, items):
    url = f"/api/v1/items/{items[0].pk}/gold/"
    assert client_for(members["annotator"]).post(url, {"values": GOLD}, format="json").status_code == 403
    assert client_for(members["outsider"]).post(url, {"values": GOLD}, format="json").status_code == 403
    assert client_for(None).post(url, {"values": GOLD}, format="json").status_code == 401
    assert client_for(members["reviewer"]).post("/api/v1/items/999999/gold/", {}, format="json").status_code == 404
    assert not Gold.objects.exists()
