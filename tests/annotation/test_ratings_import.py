import io
import json

from annotation.models import ItemStatus, Rating


def row(external_id, rater, helpfulness=4, **extra):
    return {
        "external_id": external_id,
        "rater": rater,
        "values": {"helpfulness": helpfulness, "correct": True, "tone": "ok"},
        "rationales": {"helpfulness": "fine"},
        **extra,
    }


def test_it_imports_existing_labels_and_updates_item_status(client_for, project, members, items):
    payload = [row("x0", "annotator"), row("x0", "annotator2", 3), row("x1", "annotator")]
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/ratings/import/", payload, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3, "unchanged": 0}
    assert Rating.objects.filter(source="import").count() == 3
    items[0].refresh_from_db()
    items[1].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED, "4 and 3 are within the default tolerance"
    assert items[1].status == ItemStatus.IN_PROGRESS

    again = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/ratings/import/", payload, format="json"
    )
    assert again.json() == {"created": 0, "unchanged": 3}


def test_it_rejects_the_whole_ratings_import_with_a_report(client_for, project, members, items):
    payload = [
        row("x0", "annotator"),
        row("nope", "annotator"),
        row("x1", "ghost"),
        row("x1", "outsider"),
        row("x2", "annotator", helpfulness=9),
        row("x0", "annotator"),
    ]
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/ratings/import/", payload, format="json"
    )
    assert response.status_code == 400
    report = {r["row"]: r["errors"] for r in response.json()["errors"]["rows"]}
    # "ghost" (no account) and "outsider" (not a member) are external raters: rows 3 and 4 are fine.
    assert set(report) == {2, 5, 6}
    assert "no item 'nope'" in report[2]["external_id"][0]
    assert "outside the scale" in report[5]["values.helpfulness"][0]
    assert "rates this item twice" in report[6]["rater"][0]
    assert not Rating.objects.exists()


def test_it_reports_a_conflict_with_a_stored_rating_and_writes_nothing(client_for, project, members, items):
    manager = client_for(members["manager"])
    url = f"/api/v1/projects/{project.pk}/ratings/import/"
    manager.post(url, [row("x0", "annotator")], format="json")
    response = manager.post(url, [row("x1", "annotator"), row("x0", "annotator", helpfulness=1)], format="json")
    assert response.status_code == 400
    assert "already rated this item differently" in response.json()["errors"]["rows"][0]["errors"]["rater"][0]
    assert Rating.objects.count() == 1


def test_it_accepts_a_jsonl_upload_of_ratings(client_for, project, members, items):
    upload = io.BytesIO("\n".join(json.dumps(row(f"x{i}", "annotator")) for i in range(3)).encode())
    upload.name = "ratings.jsonl"
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/ratings/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["created"] == 3


def test_it_lets_only_managers_import_ratings(client_for, project, members, items):
    response = client_for(members["annotator"]).post(
        f"/api/v1/projects/{project.pk}/ratings/import/", [row("x0", "annotator")], format="json"
    )
    assert response.status_code == 403
    assert not Rating.objects.exists()
