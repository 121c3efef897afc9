import io
import json

import pytest

from annotation.models import Item
from annotation.selectors import rater_for_user
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        {"external_id": f"e{i}", "data": {"prompt": f"p{i}"}, "metadata": {"n": i}} for i in range(start, start + n)
    ]


def test_it_imports_items_idempotently_on_external_id(client_for, project, members):
    manager = client_for(members["manager"])
    url = f"/api/v1/projects/{project.pk}/items/"
    first = manager.post(url, rows(10), format="json")
    assert first.status_code == 201
    assert first.json() == {"created": 10, "updated": 0, "unchanged": 0}

    changed = rows(12)
    changed[3]["data"] = {"prompt": "edited"}
    second = manager.post(url, changed, format="json")
    assert second.json() == {"created": 2, "updated": 1, "unchanged": 9}
    assert Item.objects.filter(project=project).count() == 12
    assert Item.objects.get(project=project, external_id="e3").data == {"prompt": "edited"}


def test_it_rejects_the_whole_import_and_names_every_bad_row(client_for, project, members):
    bad = rows(5)
    bad[1] = {"external_id": "", "data": {}}
    bad[3] = {"external_id": "e9", "data": "not an object"}
    bad.append({"external_id": "e0", "data": {}})
    bad.append("just a string")
    response = client_for(members["manager"]).post(f"/api/v1/projects/{project.pk}/items/", bad, format="json")
    assert response.status_code == 400
    report = response.json()["errors"]["rows"]
    assert [r["row"] for r in report] == [2, 4, 6, 7]
    assert "external_id" in report[0]["errors"]
    assert report[1]["errors"]["data"] == ["data is required: a JSON object."]
    assert "appears twice: first at row 1" in report[2]["errors"]["external_id"][0]
    assert not Item.objects.filter(project=project).exists()


def test_it_imports_a_jsonl_upload_and_reports_the_bad_line(client_for, project, members):
    url = f"/api/v1/projects/{project.pk}/items/"
    lines = [json.dumps(r) for r in rows(3)]
    good = io.BytesIO("\n".join(lines).encode())
    good.name = "items.jsonl"
    manager = client_for(members["manager"])
    assert manager.post(url, {"file": good}, format="multipart").json()["created"] == 3

    broken = io.BytesIO(("\n".join(lines[:2]) + '\n{"external_id": "z", "data": {\n' + lines[2]).encode())
    broken.name = "more.jsonl"
    response = manager.post(url, {"file": broken}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"][0]["row"] == 3
    assert "not valid JSON" in response.json()["errors"]["rows"][0]["errors"]["row"][0]


def test_it_imports_csv_columns_into_data_and_metadata(client_for, project, members):
    text = 'external_id,prompt,response,metadata.source\nc1,"Hi, there",Hello,web\nc2,Q,A,api\n'
    upload = io.BytesIO(text.encode())
    upload.name = "items.csv"
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/items/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    item = Item.objects.get(project=project, external_id="c1")
    assert item.data == {"prompt": "Hi, there", "response": "Hello"}
    assert item.metadata == {"source": "web"}


def test_it_refuses_an_upload_of_an_unknown_kind(client_for, project, members):
    upload = io.BytesIO(b"<xml/>")
    upload.name = "items.xml"
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/items/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_it_never_changes_the_data_of_a_rated_item(client_for, project, members, items):
    rating_submit(
        item=items[0], rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES, rationales=GOOD_RATIONALES
    )
    payload = [
        {"external_id": "new", "data": {"prompt": "n"}},
        {"external_id": items[0].external_id, "data": {"prompt": "rewritten"}},
    ]
    response = client_for(members["manager"]).post(f"/api/v1/projects/{project.pk}/items/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"][0]["external_id"] == items[0].external_id
    assert not Item.objects.filter(external_id="new").exists()
    items[0].refresh_from_db()
    assert items[0].data["prompt"] == "p0"


@pytest.mark.parametrize(("who", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 403)])
def test_it_lets_only_managers_import(client_for, project, members, who, status):
    response = client_for(members[who]).post(f"/api/v1/projects/{project.pk}/items/", rows(2), format="json")
    assert response.status_code == status
    assert not Item.objects.filter(project=project).exists()


def test_it_pages_items_with_a_cursor_and_filters_by_status(client_for, project, members):
    client_for(members["manager"]).post(f"/api/v1/projects/{project.pk}/items/", rows(25), format="json")
    annotator = client_for(members["annotator"])
    seen = []
    url = f"/api/v1/projects/{project.pk}/items/?page_size=10"
    while url:
        page = annotator.get(url).json()
        seen.extend(item["external_id"] for item in page["results"])
        url = page["next"]
    assert seen == [f"e{i}" for i in range(25)]
    assert annotator.get(f"/api/v1/projects/{project.pk}/items/?status=approved").json()["results"] == []
    bad = annotator.get(f"/api/v1/projects/{project.pk}/items/?status=done")
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    assert client_for(members["outsider"]).get(f"/api/v1/projects/{project.pk}/items/").status_code == 403


def test_it_answers_malformed_json_with_a_400(client_for, project, members):
    response = client_for(members["manager"]).generic(
        "POST", f"/api/v1/projects/{project.pk}/items/", '[{"external_id": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()
