"""Draft, publish, new version from a published one, and the diff of two versions (API)."""

from rubrics.models import RubricVersion
from tests.conftest import CRITERIA


def test_a_draft_is_edited_in_place_and_a_published_version_never_changes(client_for, staff):
    client = client_for(staff)
    rubric = client.post("/api/v1/rubrics/", {"name": "R", "criteria": CRITERIA}, format="json").json()
    assert (rubric["version"], rubric["frozen"], rubric["published_at"]) == (1, False, None)
    url = f"/api/v1/rubrics/{rubric['id']}/"
    edited = client.patch(url, {"instructions": "draft edit"}, format="json").json()
    assert edited["version"] == 1, "a draft is edited in place"
    published = client.post(f"{url}versions/1/publish/")
    assert published.status_code == 200 and published.json()["frozen"] is True
    after = client.patch(url, {"instructions": "after publishing"}, format="json").json()
    assert after["version"] == 2, "a published version is never edited: the change is a new version"
    assert RubricVersion.objects.get(rubric_id=rubric["id"], number=1).instructions == "draft edit"


def test_new_version_from_a_published_one_and_the_diff(client_for, staff):
    client = client_for(staff)
    rubric = client.post("/api/v1/rubrics/", {"name": "R", "criteria": CRITERIA}, format="json").json()
    url = f"/api/v1/rubrics/{rubric['id']}/"
    client.post(f"{url}versions/1/publish/")
    copy = client.post(f"{url}versions/1/copy/")
    assert copy.status_code == 201 and (copy.json()["version"], copy.json()["frozen"]) == (2, False)
    criteria = [dict(c) for c in CRITERIA[1:]]
    criteria[0] = {**criteria[0], "title": "Is it correct?"}
    criteria.append({"key": "new_one", "title": "New", "scale": {"kind": "binary"}})
    client.patch(url, {"criteria": criteria}, format="json")
    diff = client.get(f"{url}diff/", {"from": 1, "to": 2}).json()
    changes = {row["key"]: row["change"] for row in diff["criteria"]}
    assert changes == {
        "helpfulness": "removed",
        "correct": "changed",
        "tone": "moved",
        "notes": "moved",
        "new_one": "added",
    }
    correct = next(row for row in diff["criteria"] if row["key"] == "correct")
    assert [f["field"] for f in correct["fields"]] == ["title"]
    assert client.get(f"{url}diff/", {"from": 1, "to": "x"}).status_code == 400


def test_only_the_author_publishes(client_for, staff, members, project):
    rubric_id = project.rubric_version.rubric_id
    response = client_for(members["manager"]).post(f"/api/v1/rubrics/{rubric_id}/versions/1/publish/")
    assert response.status_code == 403
    assert RubricVersion.objects.get(rubric_id=rubric_id, number=1).published_at is None
