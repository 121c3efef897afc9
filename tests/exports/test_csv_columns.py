"""CSV a data scientist can load: data.<key> and consensus.<key> columns in a documented order,
nested values as JSON in their cell, usable dtypes straight out of pandas.read_csv."""

import io
import json

import pytest

from annotation.models import Item, Role
from annotation.services.items import items_import
from tests.exports.test_export_api import export

pd = pytest.importorskip("pandas", reason="pandas is a dev dependency")

CRITERIA = ["helpfulness", "correct", "tone"]  # the rubric's criteria with a consensus, in rubric order


def read(raw: bytes):
    return pd.read_csv(io.BytesIO(raw))


def test_the_columns_come_in_the_documented_order(client_for, project, dataset, staff):
    Item.objects.filter(project=project, external_id="x0").update(
        data={"prompt": "p0", "response": "r0", "context": {"lang": "en"}}
    )
    response, raw = export(client_for(staff), project, format="csv")
    assert response["Content-Type"].startswith("text/csv")
    frame = read(raw)
    assert list(frame.columns) == [
        "external_id", "status", "approved_by", "decided_at", "audit_rank", "rubric_id", "rubric_version",
        "data.context", "data.prompt", "data.response",
        "metadata",
        *(f"consensus.{key}" for key in CRITERIA),
        *(f"disagreement.{key}" for key in CRITERIA),
        "gold",
    ]  # fmt: skip
    _, with_ratings = export(client_for(staff), project, format="csv", include="ratings")
    assert list(read(with_ratings).columns)[-1] == "ratings"


def test_pandas_gets_usable_columns_at_once(client_for, project, dataset, staff):
    Item.objects.filter(project=project, external_id="x1").update(
        data={"prompt": "p1", "response": "r1", "context": {"lang": "en", "n": [1, 2]}}
    )
    _, raw = export(client_for(staff), project, format="csv", include="ratings")
    frame = read(raw).set_index("external_id")
    assert list(frame.index) == ["x0", "x1", "x2"]
    assert frame.loc["x0", "data.prompt"] == "p0"
    assert frame["consensus.helpfulness"].dtype.kind == "i"
    assert list(frame["consensus.helpfulness"]) == [4, 5, 4]
    assert frame["consensus.correct"].dtype == bool and frame["consensus.correct"].all()
    assert list(frame["consensus.tone"]) == ["ok", "ok", "ok"]
    assert frame["disagreement.helpfulness"].dtype.kind == "f"
    assert frame.loc["x2", "disagreement.helpfulness"] == 0.5
    assert frame["rubric_version"].dtype.kind == "i"
    # Nested values stay JSON in their cell; an item without a key has an empty cell (NaN).
    assert json.loads(frame.loc["x1", "data.context"]) == {"lang": "en", "n": [1, 2]}
    assert pd.isna(frame.loc["x0", "data.context"])
    assert json.loads(frame.loc["x1", "gold"])["values"]["helpfulness"] == 5
    assert pd.isna(frame.loc["x0", "gold"])
    assert len(json.loads(frame.loc["x0", "ratings"])) == 2


def test_a_plain_project_has_no_acceptance_columns_and_a_gated_one_has_three(
    client_for, project, dataset, staff, make_user
):
    _, raw = export(client_for(staff), project, format="csv")
    assert not [c for c in read(raw).columns if c.startswith("acceptance")]

    from annotation.services.projects import membership_set, project_create
    from quality.services.approval import item_reject
    from rubrics.templates import rubric_from_template

    version = rubric_from_template(actor=staff, template="agentic-task-acceptance")
    tasks = project_create(actor=staff, name="Tasks", rubric=version, annotations_per_item=1)
    membership_set(project=tasks, user=make_user("tm"), role=Role.MANAGER)
    items_import(project=tasks, rows=[{"external_id": f"t{i}", "data": {"instruction": f"do {i}"}} for i in range(2)])
    Item.objects.filter(project=tasks, external_id="t0").update(
        status="approved",
        consensus={"achievable": True, "non_trivial": True, "functionally_correct": True, "reliable": True},
    )
    item_reject(item=tasks.items.get(external_id="t1"), actor=staff, reason="spam")
    _, raw = export(client_for(staff), tasks, format="csv", status="all")
    frame = read(raw).set_index("external_id")
    assert [c for c in frame.columns if c.startswith("acceptance")] == [
        "acceptance.bucket",
        "acceptance.failing",
        "acceptance.reason",
    ]
    assert list(frame["acceptance.bucket"]) == ["accepted", "rejected"]
    assert json.loads(frame.loc["t0", "acceptance.failing"]) == []
    _, jsonl = export(client_for(staff), tasks, status="all")
    records = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert [r["acceptance"]["bucket"] for r in records] == ["accepted", "rejected"]
