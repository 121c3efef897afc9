"""Issue 16, items 6, 7 and 8: deep JSON, inputs that answered 500, and numbers so large that an
aggregate over them overflowed. Each answers a 400 naming the field, or is computed finitely."""

import base64
import io
import json
import math

import pytest
from django.db import connection
from rest_framework.test import APIClient

from annotation.models import Item, ItemStatus, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from quality.services.approval import items_decide
from rubrics.scales import MAX_NUMBER, value_code, value_code_sql
from rubrics.services import rubric_create


def post_json(client, url, text):
    return client.post(url, text, content_type="application/json")


def upload(client, url, name: str, content: bytes):
    file = io.BytesIO(content)
    file.name = name
    return client.post(url, {"file": file}, format="multipart")


def signed_in(user) -> APIClient:
    """A session, as a browser has: large bodies need a signed-in request (accounts/middleware.py),
    which DRF's force_authenticate is not to the middleware."""
    client = APIClient()
    client.force_login(user)
    return client


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)


# ---- item 6: deep JSON --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 10_000, 100_000])
def test_a_body_nested_too_deep_is_a_400_before_anything_recurses(client_for, members, items, depth):
    body = '{"values": ' + nested(depth) + "}"
    response = post_json(signed_in(members["annotator"]), f"/api/v1/items/{items[0].pk}/ratings/", body)
    assert response.status_code == 400, response.content[:300]
    (message,) = next(iter(response.json()["errors"].values()))
    assert message == "is nested deeper than 64 levels."


def test_nesting_up_to_the_limit_is_accepted(client_for, project, members):
    data = json.loads(nested(61))  # the array, the row and its data add three levels: 64 in all
    rows = json.dumps([{"external_id": "deep", "data": {"x": data}}])
    url = f"/api/v1/projects/{project.pk}/items/"
    response = post_json(client_for(members["manager"]), url, rows)
    assert response.status_code == 201, response.content[:300]
    one_more = json.dumps([{"external_id": "deeper", "data": {"x": json.loads(nested(62))}}])
    assert post_json(client_for(members["manager"]), url, one_more).status_code == 400


def test_import_files_nested_too_deep_are_reported_by_row(client_for, project, members):
    url = f"/api/v1/projects/{project.pk}/items/"
    manager = signed_in(members["manager"])
    line = '{"external_id": "d", "data": ' + nested(10_000) + "}"
    response = upload(manager, url, "items.jsonl", b'{"external_id": "ok", "data": {}}\n' + line.encode() + b"\n")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == [{"row": 2, "errors": {"body": ["is nested deeper than 64 levels."]}}]
    array = upload(manager, url, "items.json", ("[" + line + "]").encode())
    assert array.status_code == 400 and array.json()["errors"]["rows"][0]["row"] == 1
    cell = ('external_id,data\nd,"' + nested(100).replace('"', '""') + '"\n').encode()
    csv_response = upload(manager, url, "items.csv", cell)
    assert csv_response.status_code == 400
    assert csv_response.json()["errors"]["rows"][0]["errors"] == {
        "data" + ".a" * 64: ["is nested deeper than 64 levels."]
    }
    assert not Item.objects.filter(project=project).exists()


# ---- item 7: inputs that answered 500 ------------------------------------------------------------


def test_a_malformed_pagination_cursor_is_a_400_naming_cursor(client_for, project, members, items):
    url = f"/api/v1/projects/{project.pk}/items/"
    manager = client_for(members["manager"])
    for raw in (b"p=abc", b"p=" + b"9" * 400, b"not base64 at all"):
        response = manager.get(url, {"cursor": base64.b64encode(raw).decode() if raw[:2] == b"p=" else raw.decode()})
        assert response.status_code == 400, (raw, response.content)
        assert list(response.json()["errors"]) == ["cursor"]
    page = manager.get(url, {"page_size": 2}).json()
    assert manager.get(page["next"]).status_code == 200  # the links the API writes still work


def test_a_400_digit_project_id_on_the_judges_list_is_a_400(client_for, members):
    response = client_for(members["manager"]).get("/api/v1/judges/", {"project": "9" * 400})
    assert response.status_code == 400
    assert response.json()["errors"] == {"project": ["must be a project id."]}


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_an_export_since_outside_the_years_utc_can_hold_is_a_400(client_for, project, staff, since):
    client = client_for(staff)
    response = client.get(f"/api/v1/projects/{project.pk}/export/", {"since": since})
    assert response.status_code == 400, response.content
    assert "out of range" in response.json()["errors"]["since"][0]
    snapshot = client.post(f"/api/v1/projects/{project.pk}/export/snapshots/", {"since": since}, format="json")
    assert snapshot.status_code == 400 and "since" in snapshot.json()["errors"]


@pytest.mark.parametrize("name", ["items.jsonl", "items.csv"])
def test_an_upload_that_is_not_utf8_is_a_row_error(client_for, project, members, name):
    body = (
        b'{"external_id": "a", "data": {"t": "caf\xe9"}}\n' if name.endswith("jsonl") else b"external_id,t\na,caf\xe9\n"
    )
    response = upload(client_for(members["manager"]), f"/api/v1/projects/{project.pk}/items/", name, body)
    assert response.status_code == 400, response.content
    (row,) = response.json()["errors"]["rows"]
    assert "UTF-8" in row["errors"]["row"][0]


def test_a_csv_cell_over_200_kb_is_imported(client_for, project, members):
    big = "x" * 300_000
    body = f"external_id,text\nbig,{big}\n".encode()
    response = upload(signed_in(members["manager"]), f"/api/v1/projects/{project.pk}/items/", "items.csv", body)
    assert response.status_code == 201, response.content[:300]
    assert Item.objects.get(project=project, external_id="big").data == {"text": big}


# ---- items 7 and 8: numbers ----------------------------------------------------------------------

NUMERIC = [
    {"key": "cost", "title": "Cost", "scale": {"kind": "ratio"}},
    {"key": "score", "title": "Score", "scale": {"kind": "interval", "min": -10, "max": 10}},
]


@pytest.fixture
def numeric(staff, make_user):
    version = rubric_create(actor=staff, name="Numbers", instructions="Rate.", criteria=NUMERIC)
    project = project_create(actor=staff, name="N", rubric=version, annotations_per_item=2)
    items_import(project=project, rows=[{"external_id": f"n{i}", "data": {"t": i}} for i in range(3)])
    people = {name: make_user(name) for name in ("ann1", "ann2", "boss")}
    for name, user in people.items():
        membership_set(project=project, user=user, role=Role.MANAGER if name == "boss" else Role.ANNOTATOR)
    return project, people


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ('{"cost": 1' + "0" * 400 + ', "score": 1}', "cost"),
        ('{"cost": 1, "score": -1' + "0" * 400 + "}", "score"),
        ('{"cost": 1.7e308, "score": 1}', "cost"),
        ('{"cost": 1e16, "score": 1}', "cost"),
    ],
)
def test_huge_interval_and_ratio_values_are_a_400_on_the_field(client_for, numeric, values, field):
    project, people = numeric
    item = project.items.first()
    response = post_json(client_for(people["ann1"]), f"/api/v1/items/{item.pk}/ratings/", '{"values": ' + values + "}")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["errors"]) == [field]
    assert not Rating.objects.exists()


def test_a_scale_with_a_huge_bound_is_refused(client_for, staff):
    criteria = [{"key": "s", "title": "S", "scale": {"kind": "interval", "min": 0, "max": 10**400}}]
    body = json.dumps({"name": "Huge", "instructions": "", "criteria": criteria})
    response = post_json(client_for(staff), "/api/v1/rubrics/", body)
    assert response.status_code == 400, response.content[:300]


def _old_rating(project, user, item, cost):
    """A rating as the code before the bound stored it (1.7e308 was accepted)."""
    return Rating.objects.create(
        item=item,
        rater=rater_for_user(user=user),
        rubric_version=project.rubric_version,
        values={"cost": cost, "score": 1},
    )


def test_aggregates_over_values_stored_before_the_bound_stay_finite(client_for, numeric):
    project, people = numeric
    item = project.items.order_by("id").first()
    _old_rating(project, people["ann1"], item, 1.7e308)
    _old_rating(project, people["ann2"], item, 1.6e308)
    items_decide(project=project, item_ids=[item.pk])  # the median of these overflowed to inf
    item.refresh_from_db()
    assert item.status in (ItemStatus.APPROVED, ItemStatus.NEEDS_REVIEW)
    assert all(math.isfinite(v) for v in [*item.consensus.values(), *item.disagreement.values()])
    assert item.consensus.get("cost", MAX_NUMBER) == MAX_NUMBER
    report = client_for(people["boss"]).get(f"/api/v1/projects/{project.pk}/agreement/", {"bootstrap": 0})
    assert report.status_code == 200, report.content[:300]
    exported = client_for(people["boss"]).get(f"/api/v1/projects/{project.pk}/export/", {"status": "all"})
    assert exported.status_code == 200 and len(b"".join(exported.streaming_content).splitlines()) == 3


def test_a_manager_can_reject_an_item_stuck_on_such_values(client_for, numeric):
    project, people = numeric
    item = project.items.order_by("id").first()
    _old_rating(project, people["ann1"], item, 1.7e308)
    _old_rating(project, people["ann2"], item, -1.7e308)
    Item.objects.filter(pk=item.pk).update(status=ItemStatus.NEEDS_REVIEW, consensus={"cost": 1.7e308})
    response = client_for(people["boss"]).post(f"/api/v1/items/{item.pk}/reject/", {"reason": "stuck"}, format="json")
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert item.status == ItemStatus.REJECTED and item.decision_reason == "stuck"
    items_decide(project=project, item_ids=[item.pk])  # and a later evaluation leaves the rejection alone
    item.refresh_from_db()
    assert item.status == ItemStatus.REJECTED


@pytest.mark.both_databases
def test_value_codes_are_clamped_alike_in_python_and_sql(numeric):
    project, people = numeric
    items = list(project.items.order_by("id"))
    costs = [1.7e308, -5.0, 3.25]
    for item, cost in zip(items, costs, strict=True):
        _old_rating(project, people["ann1"], item, cost)
    scale = {"kind": "ratio"}
    column = connection.ops.quote_name("values")
    expr, params = value_code_sql(scale, "cost", column=column, vendor=connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expr} FROM annotation_rating ORDER BY id", params)
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [value_code(scale, c) for c in costs] == [MAX_NUMBER, -5.0, 3.25]
