from annotation.selectors import rater_for_user
from annotation.services.ratings import rating_submit
from rubrics.models import RubricVersion
from tests.conftest import CRITERIA, GOOD_RATIONALES, GOOD_VALUES


def test_it_creates_a_rubric_with_version_one(client_for, staff):
    response = client_for(staff).post(
        "/api/v1/rubrics/", {"name": "R", "instructions": "Do it.", "criteria": CRITERIA}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert [c["key"] for c in body["criteria"]] == ["helpfulness", "correct", "tone", "notes"]
    assert body["criteria"][0]["scale"]["labels"] == {"1": "Useless.", "5": "Perfect."}
    assert RubricVersion.objects.get(pk=body["version_id"]).criteria.count() == 4


def test_it_answers_bad_criteria_with_field_level_messages(client_for, staff):
    criteria = [
        {"key": "a b", "title": "A", "scale": {"kind": "binary"}},
        {"key": "ok", "title": "B", "scale": {"kind": "ordinal", "min": 3, "max": 1}},
        {"key": "ok", "title": "C", "scale": {"kind": "binary"}},
    ]
    response = client_for(staff).post("/api/v1/rubrics/", {"name": "R", "criteria": criteria}, format="json")
    assert response.status_code == 400
    messages = response.json()["errors"]["criteria"]
    assert any(m.startswith("criteria[0].key") for m in messages)
    assert any(m.startswith("criteria[1].scale") and "min must be less than max" in m for m in messages)
    assert any(m.startswith("criteria[2].key") and "used twice" in m for m in messages)
    assert not RubricVersion.objects.exists()


def test_it_edits_an_unused_version_in_place(client_for, staff, rubric_version):
    response = client_for(staff).patch(
        f"/api/v1/rubrics/{rubric_version.rubric_id}/", {"instructions": "New words."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    rubric_version.refresh_from_db()
    assert rubric_version.instructions == "New words."


def test_it_makes_a_new_version_when_the_current_one_has_ratings(client_for, staff, project, members, items):
    version = project.rubric_version
    rating = rating_submit(
        item=items[0], rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES, rationales=GOOD_RATIONALES
    )
    changed = [dict(c) for c in CRITERIA]
    changed[2] = {**changed[2], "scale": {"kind": "categorical", "choices": ["ok", "rude", "terse"]}}
    response = client_for(staff).put(
        f"/api/v1/rubrics/{version.rubric_id}/", {"name": "Quality", "criteria": changed}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    rating.refresh_from_db()
    assert rating.rubric_version_id == version.pk
    assert version.criteria.get(key="tone").scale["choices"] == ["ok", "rude"]
    project.refresh_from_db()
    assert project.rubric_version_id == version.pk, "projects stay pinned until upgraded"

    versions = client_for(staff).get(f"/api/v1/rubrics/{version.rubric_id}/versions/").json()
    assert [v["version"] for v in versions] == [1, 2]


def test_it_does_not_version_a_change_that_changes_nothing(client_for, staff, project, members, items):
    rating_submit(
        item=items[0], rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES, rationales=GOOD_RATIONALES
    )
    response = client_for(staff).put(
        f"/api/v1/rubrics/{project.rubric_version.rubric_id}/",
        {"name": "Renamed", "instructions": "Rate it.", "criteria": CRITERIA},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert response.json()["name"] == "Renamed"


def test_it_shows_rubrics_only_to_those_who_use_them(client_for, project, members, make_user, rubric_version):
    assert len(client_for(members["annotator"]).get("/api/v1/rubrics/").json()) == 1
    stranger = make_user("stranger")
    assert client_for(stranger).get("/api/v1/rubrics/").json() == []
    assert client_for(stranger).get(f"/api/v1/rubrics/{rubric_version.rubric_id}/").status_code == 404


def test_it_lets_only_staff_or_permitted_users_create_or_edit_rubrics(client_for, members, rubric_version):
    annotator = client_for(members["annotator"])
    assert annotator.post("/api/v1/rubrics/", {"name": "R", "criteria": CRITERIA}, format="json").status_code == 403
    response = annotator.patch(f"/api/v1/rubrics/{rubric_version.rubric_id}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    rubric_version.rubric.refresh_from_db()
    assert rubric_version.rubric.name == "Quality"
