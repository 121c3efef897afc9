"""Issue 16, item 4: text that cannot be stored (a lone UTF-16 surrogate, a NUL character) is
refused at every edge with a 400 naming the field path; rows stored before the check (SQLite kept
them in JSON columns) still render and export, and `manage.py repair_text` rewrites them."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from annotation.models import Draft, Item, Rating
from annotation.selectors import rater_for_user
from config.untrusted import NUL_MESSAGE, SURROGATE_MESSAGE, text_storable
from rubrics.scales import CriterionSpec, values_clean
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

LONE = "\\ud800"  # as JSON spells it: decoded, a lone surrogate


def post_json(client, url, text):
    return client.post(url, text, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('[{"external_id": "a", "data": {"prompt": "x' + LONE + '"}}]', "[0].data.prompt"),
        ('[{"external_id": "a' + LONE + '", "data": {}}]', "[0].external_id"),
        (
            '[{"external_id": "a", "data": {"turns": [{"text": "ok"}, {"text": "' + LONE + '"}]}}]',
            "[0].data.turns[1].text",
        ),
        ('[{"external_id": "a", "data": {}, "metadata": {"k\\u0000": 1}}]', "[0].metadata.k\\u0000"),
    ],
)
def test_an_item_import_with_unstorable_text_is_a_400_naming_the_field(client_for, project, members, body, path):
    response = post_json(client_for(members["manager"]), f"/api/v1/projects/{project.pk}/items/", body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [path]
    assert errors[path][0].endswith(NUL_MESSAGE) if "u0000" in path else errors[path] == [SURROGATE_MESSAGE]
    assert not Item.objects.filter(project=project).exists()


def test_a_rationale_or_a_draft_with_a_lone_surrogate_is_refused_and_not_stored(client_for, members, items):
    annotator = client_for(members["annotator"])
    body = json.dumps({"values": GOOD_VALUES, "rationales": {"helpfulness": "fine"}}).replace("fine", "fi" + LONE)
    response = post_json(annotator, f"/api/v1/items/{items[0].pk}/ratings/", body.replace("\\\\", "\\"))
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"rationales.helpfulness": [SURROGATE_MESSAGE]}
    assert not Rating.objects.filter(item=items[0]).exists()
    draft = annotator.put(
        f"/api/v1/items/{items[0].pk}/draft/",
        '{"values": {"helpfulness": "x\\udfff"}}',
        content_type="application/json",
    )
    assert draft.status_code == 400
    assert draft.json()["errors"] == {"values.helpfulness": [SURROGATE_MESSAGE]}
    assert not Draft.objects.exists()


def test_a_nul_character_is_refused_the_same_way_on_every_database(client_for, members, items):
    body = '{"values": {"helpfulness": "x\\u0000"}, "rationales": {}}'
    draft = client_for(members["annotator"]).put(
        f"/api/v1/items/{items[1].pk}/draft/", body, content_type="application/json"
    )
    assert draft.status_code == 400
    assert draft.json()["errors"] == {"values.helpfulness": [NUL_MESSAGE]}


def upload(client, url, name: str, content: bytes):
    file = io.BytesIO(content)
    file.name = name
    return client.post(url, {"file": file}, format="multipart")


def test_import_files_refuse_unstorable_text_by_row_and_field(client_for, project, members):
    url = f"/api/v1/projects/{project.pk}/items/"
    manager = client_for(members["manager"])
    jsonl = b'{"external_id": "a", "data": {"t": "ok"}}\n{"external_id": "b", "data": {"t": "\\udc00"}}\n'
    report = upload(manager, url, "items.jsonl", jsonl).json()["errors"]["rows"]
    assert report == [{"row": 2, "errors": {"data.t": [SURROGATE_MESSAGE]}}]
    table = b"external_id,prompt,metadata.source\na,fine,x\nb,nul \x00 here,y\n"
    response = upload(manager, url, "items.csv", table)
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [{"row": 3, "errors": {"data.prompt": [NUL_MESSAGE]}}]
    cell = b'external_id,data\nc,"{""t"": ""\\ud800""}"\n'
    assert upload(manager, url, "items.csv", cell).json()["errors"]["rows"][0]["errors"] == {
        "data.t": [SURROGATE_MESSAGE]
    }
    assert not Item.objects.filter(project=project).exists()


def test_the_admin_refuses_unstorable_text_in_item_data(items, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    item = items[0]
    url = f"/admin/annotation/item/{item.pk}/change/"
    form = {
        "project": item.project_id,
        "external_id": item.external_id,
        "data": '{"prompt": "x\\ud800"}',
        "metadata": "{}",
        "status": item.status,
        "approved_by": "",
        "consensus": "{}",
        "decision_reason": "",
        "disagreement": "{}",
    }
    response = client.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert "lone UTF-16 surrogate" in response.content.decode()
    item.refresh_from_db()
    assert item.data == {"prompt": "p0", "response": "r0"}


def test_values_clean_refuses_what_a_judge_or_a_person_cannot_store():
    criteria = [CriterionSpec("notes", {"kind": "text"}, required=False), CriterionSpec("ok", {"kind": "binary"})]
    with pytest.raises(Exception) as caught:
        values_clean(criteria=criteria, values={"notes": "a\ud800", "ok": True}, rationales={"ok": "b\x00"})
    assert caught.value.message_dict == {"notes": [f"text {SURROGATE_MESSAGE}"], "ok": [f"rationale {NUL_MESSAGE}"]}


# ---- rows stored before the check: only SQLite could keep them (PostgreSQL refuses them) ----

sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="PostgreSQL cannot store a lone surrogate: no old rows to read"
)


def _plant_old_rows(project, items, members):
    """Write bad text as the code before the check did: through the ORM, unvalidated."""
    Item.objects.filter(pk=items[0].pk).update(
        data={"prompt": "old \ud800 row", "response": "r"}, metadata={"k\udc00": "\x00"}
    )
    Rating.objects.create(
        item=items[0],
        rater=rater_for_user(user=members["annotator"]),
        rubric_version=project.rubric_version,
        values={**GOOD_VALUES, "notes": "n\ud800"},
        rationales={**GOOD_RATIONALES, "helpfulness": "because \udfff"},
    )


@sqlite_only
@pytest.mark.both_databases
def test_pages_lists_and_exports_never_fail_on_rows_stored_before_the_check(client_for, project, members, items):
    _plant_old_rows(project, items, members)
    manager, annotator = client_for(members["manager"]), client_for(members["annotator2"])
    listed = manager.get(f"/api/v1/projects/{project.pk}/items/")
    assert listed.status_code == 200
    first = listed.json()["results"][0]
    assert first["data"]["prompt"] == "old \ufffd row" and first["metadata"] == {"k\ufffd": "\ufffd"}
    assert manager.get(f"/api/v1/items/{items[0].pk}/ratings/").status_code == 200
    assert manager.get(f"/api/v1/projects/{project.pk}/review/").status_code == 200
    nxt = annotator.post(f"/api/v1/projects/{project.pk}/queue/next/")  # the queue serves items in id order
    assert nxt.status_code == 200 and nxt.json()["item"]["id"] == items[0].pk
    assert nxt.json()["item"]["data"]["prompt"] == "old \ufffd row"
    page = Client()
    page.force_login(members["annotator2"])
    annotate = page.get(f"/projects/{project.pk}/annotate/")
    assert annotate.status_code == 200 and "old \ufffd row" in annotate.content.decode()
    jsonl = manager.get(f"/api/v1/projects/{project.pk}/export/?format=jsonl&status=all&include=ratings")
    records = [json.loads(line) for line in b"".join(jsonl.streaming_content).decode().splitlines()]
    assert len(records) == len(items)
    assert records[0]["data"]["prompt"] == "old \ufffd row"
    csv_export = manager.get(f"/api/v1/projects/{project.pk}/export/?format=csv&status=all&include=ratings")
    body = b"".join(csv_export.streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == len(items)


@sqlite_only
@pytest.mark.both_databases
def test_repair_text_finds_and_rewrites_rows_stored_before_the_check(project, members, items):
    _plant_old_rows(project, items, members)
    out = io.StringIO()
    call_command("repair_text", "--dry-run", stdout=out)
    assert "annotation.Item.data: 1 value(s)" in out.getvalue()
    assert "annotation.Item.metadata: 1 value(s)" in out.getvalue()
    assert "annotation.Rating.values: 1 value(s)" in out.getvalue()
    assert "annotation.Rating.rationales: 1 value(s)" in out.getvalue()
    assert "4 value(s) would be repaired" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM annotation_item WHERE id = %s", [items[0].pk])
        assert "\\ud800" in cursor.fetchone()[0]  # a dry run writes nothing
    call_command("repair_text", stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT data, metadata FROM annotation_item WHERE id = %s", [items[0].pk])
        data, metadata = cursor.fetchone()
    assert json.loads(data)["prompt"] == "old \ufffd row" and json.loads(metadata) == {"k\ufffd": "\ufffd"}
    again = io.StringIO()
    call_command("repair_text", stdout=again)
    assert "0 value(s) repaired" in again.getvalue()


def test_text_storable_replaces_in_keys_and_values_and_keeps_clean_objects():
    clean = {"a": ["b", {"c": 1}]}
    assert text_storable(clean) is clean
    assert text_storable({"k\ud800": ["\x00", "ok"]}) == {"k\ufffd": ["\ufffd", "ok"]}
