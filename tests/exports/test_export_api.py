import hashlib
import io
import json
import re

import pytest

from annotation.models import Item, Role
from annotation.services.projects import membership_set


def url(project, tail="export/"):
    return f"/api/v1/projects/{project.pk}/{tail}"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def export(client, project, **params):
    response = client.get(url(project), params)
    assert response.status_code == 200, getattr(response, "data", None)
    return response, body(response)


def lines(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_it_exports_approved_items_by_default_as_jsonl(client_for, project, dataset, members):
    response, raw = export(client_for(members[Role.MANAGER]), project)
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["X-Accord-Record-Count"] == "3"
    assert 'filename="project-' in response["Content-Disposition"]
    records = lines(raw)
    assert [r["external_id"] for r in records] == ["x0", "x1", "x2"]
    first = records[0]
    assert set(first) == {
        "external_id",
        "data",
        "metadata",
        "status",
        "approved_by",
        "decided_at",
        "audit_rank",
        "consensus",
        "disagreement",
        "gold",
        "rubric",
    }  # fmt: skip  (no acceptance: the rubric has no gate criteria)
    assert first["data"] == {"prompt": "p0", "response": "r0"}
    assert first["status"] == "approved"
    assert [r["approved_by"] for r in records] == ["consensus", "reviewer", "judge"]
    assert first["consensus"] == {"helpfulness": 4, "correct": True, "tone": "ok"}
    assert records[2]["disagreement"] == {"helpfulness": 0.5, "correct": 0.0, "tone": 0.0}
    assert first["gold"] is None
    assert records[1]["gold"] == {
        "values": {"helpfulness": 5, "correct": True, "tone": "ok"},
        "rationales": {"helpfulness": "Settled."},
    }
    assert first["rubric"] == {"id": project.rubric_version.rubric_id, "version": project.rubric_version.number}
    assert first["decided_at"] == "2026-03-01T12:00:00+00:00"


def test_it_loads_jsonl_in_pandas_as_is(client_for, project, dataset, staff):
    pd = pytest.importorskip("pandas", reason="pandas is a dev dependency")
    _, raw = export(client_for(staff), project, include="ratings,judges")
    frame = pd.read_json(io.BytesIO(raw), lines=True)
    assert list(frame["external_id"]) == ["x0", "x1", "x2"]
    assert len(frame["ratings"][0]) == 3


def test_it_loads_jsonl_with_hugging_face_datasets(client_for, project, dataset, staff, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    datasets = pytest.importorskip("datasets", reason="datasets is a dev dependency")

    _, raw = export(client_for(staff), project, include="ratings,judges", status="all")
    path = tmp_path / "export.jsonl"
    path.write_bytes(raw)
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 5
    assert loaded[0]["external_id"] == "x0"
    assert loaded[0]["ratings"][2]["kind"] == "judge"
    assert loaded[0]["ratings"][2]["judge_version"] == 2
    assert loaded[1]["gold"]["values"]["helpfulness"] == 5


def test_it_loads_parquet_with_pyarrow(client_for, project, dataset, staff, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is needed for Parquet")
    response, raw = export(client_for(staff), project, format="parquet", include="ratings")
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(raw))
    assert table.num_rows == 3
    assert table.column("external_id").to_pylist() == ["x0", "x1", "x2"]
    assert table.column("rubric_version").to_pylist() == [1, 1, 1]
    assert json.loads(table.column("consensus")[0].as_py())["helpfulness"] == 4
    assert table.column("gold").to_pylist()[0] is None
    assert len(json.loads(table.column("ratings")[0].as_py())) == 2


@pytest.fixture(params=["jsonl", "csv", "parquet"])
def fmt(request):
    """Each export format; Parquet only where pyarrow is installed."""
    if request.param == "parquet":
        pytest.importorskip("pyarrow", reason="pyarrow is needed for Parquet")
    return request.param


def test_it_repeats_exports_byte_for_byte(client_for, project, dataset, staff, fmt):
    client = client_for(staff)
    params = {"format": fmt, "include": "ratings,judges", "status": "all"}
    _, first = export(client, project, **params)
    _, second = export(client, project, **params)
    assert first == second
    assert len(first) > 100


def test_it_streams_in_chunks_across_many_items(client_for, project, staff, monkeypatch):
    from annotation.services.items import items_import
    from exports import postgres, records

    monkeypatch.setattr(records, "CHUNK_SIZE", 7)  # records per chunk (SQLite)
    monkeypatch.setattr(postgres, "CHUNK_SIZE", 7)  # records per chunk (PostgreSQL, JSON Lines)
    items_import(project=project, rows=[{"external_id": f"n{i:03d}", "data": {"i": i}} for i in range(50)])
    Item.objects.filter(project=project).update(status="approved")
    response = client_for(staff).get(url(project))
    pieces = list(response.streaming_content)
    assert len(pieces) == 8
    assert all(piece.endswith(b"\n") for piece in pieces)
    assert [r["external_id"] for r in lines(b"".join(pieces))] == [f"n{i:03d}" for i in range(50)]


def test_it_gives_the_sha256_of_the_body_in_the_manifest(client_for, project, dataset, staff, fmt):
    client = client_for(staff)
    params = {"format": fmt, "include": "judges", "since": "2026-03-02T00:00:00Z"}
    manifest = client.get(url(project, "export/manifest/"), params)
    assert manifest.status_code == 200, manifest.data
    _, raw = export(client, project, **params)
    data = manifest.json()
    assert data["sha256"] == hashlib.sha256(raw).hexdigest()
    assert data["bytes"] == len(raw)
    assert data["record_count"] == 2
    assert data["format"] == fmt
    assert data["rubric"] == {"id": project.rubric_version.rubric_id, "version": 1}
    assert data["filters"] == {
        "format": fmt,
        "statuses": ["approved"],
        "since": "2026-03-02T00:00:00+00:00",
        "include": ["judges"],
        "reveal_raters": False,
    }
    assert data["exported_at"]


def test_it_filters_by_status(client_for, project, dataset, staff):
    client = client_for(staff)
    _, raw = export(client, project, status="needs_review,pending")
    assert [(r["external_id"], r["status"]) for r in lines(raw)] == [("x3", "needs_review"), ("x4", "pending")]
    assert lines(raw)[0]["approved_by"] is None
    _, raw = export(client, project, status="all")
    assert [r["external_id"] for r in lines(raw)] == ["x0", "x1", "x2", "x3", "x4"]


def test_it_filters_by_decision_time(client_for, project, dataset, staff):
    client = client_for(staff)
    _, raw = export(client, project, since="2026-03-02T12:00:00+00:00")
    assert [r["external_id"] for r in lines(raw)] == ["x1", "x2"]
    _, raw = export(client, project, since="2026-03-02T13:00:00")  # no offset: UTC
    assert [r["external_id"] for r in lines(raw)] == ["x2"]
    # "+" unencoded in a query string arrives as a space
    response = client.get(url(project) + "?since=2026-03-02T14:00:00+02:00")
    assert [r["external_id"] for r in lines(body(response))] == ["x1", "x2"]
    _, raw = export(client, project, since="2026-03-02T12:00:00Z", status="all")
    assert [r["external_id"] for r in lines(raw)] == ["x1", "x2"]  # undecided items have no decision time


def test_it_includes_human_and_judge_ratings_on_request(client_for, project, dataset, staff):
    client = client_for(staff)
    _, raw = export(client, project)
    assert "ratings" not in lines(raw)[0]
    _, raw = export(client, project, include="ratings")
    ratings = lines(raw)[0]["ratings"]
    assert [r["kind"] for r in ratings] == ["human", "human"]
    assert ratings[0]["values"]["helpfulness"] == 3
    assert ratings[0]["rationales"] == {"helpfulness": "because 0"}
    assert ratings[0]["rubric_version"] == 1
    assert ratings[0]["judge_version"] is None
    assert set(ratings[0]) == {"rater", "kind", "values", "rationales", "rubric_version", "judge_version"}
    _, raw = export(client, project, include="judges")
    ratings = lines(raw)[0]["ratings"]
    assert [(r["kind"], r["judge_version"]) for r in ratings] == [("judge", 2)]
    _, raw = export(client, project, include="ratings,judges", status="all")
    records = lines(raw)
    assert [len(r["ratings"]) for r in records] == [3, 3, 3, 0, 0]


def test_it_gives_raters_stable_pseudonyms_without_names(client_for, project, dataset, staff, members):
    client = client_for(staff)
    _, raw = export(client, project, include="ratings,judges")
    records = lines(raw)
    ids = [[r["rater"] for r in record["ratings"]] for record in records]
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0])) == 3
    assert all(pseudonym.startswith("r-") and len(pseudonym) == 22 for pseudonym in ids[0])
    assert all(re.fullmatch(r"r-[0-9a-f]{20}", pseudonym) for pseudonym in ids[0])
    text = raw.decode()
    for person in (members[Role.ANNOTATOR], members["annotator2"]):  # the people who rated
        assert person.username not in text
    for person in members.values():
        assert person.email not in text
    assert "strict-judge" not in text
    _, again = export(client, project, include="ratings,judges")
    assert again == raw


def test_it_reveals_rater_names_only_when_asked(client_for, project, dataset, members):
    client = client_for(members[Role.MANAGER])
    _, raw = export(client, project, include="ratings,judges", reveal_raters="true")
    names = [r["rater_name"] for r in lines(raw)[0]["ratings"]]
    assert names == ["annotator", "annotator2", "strict-judge v2"]


def test_it_keeps_pseudonyms_apart_between_projects(client_for, project, dataset, staff, rubric_version):
    from annotation.models import Rating
    from annotation.services.items import items_import
    from annotation.services.projects import project_create

    other = project_create(actor=staff, name="Project B", rubric=rubric_version)
    items_import(project=other, rows=[{"external_id": "y0", "data": {"prompt": "q"}}])
    item = other.items.get()
    Item.objects.filter(pk=item.pk).update(status="approved")
    rater = dataset["humans"][0]
    Rating.objects.create(item=item, rater=rater, rubric_version=rubric_version, values={"correct": True})
    client = client_for(staff)
    _, a = export(client, project, include="ratings")
    _, b = export(client, other, include="ratings")
    assert lines(a)[0]["ratings"][0]["rater"] != lines(b)[0]["ratings"][0]["rater"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER, "outsider"])
@pytest.mark.parametrize("tail", ["export/", "export/manifest/"])
def test_it_lets_only_managers_and_staff_export(client_for, project, dataset, members, role, tail):
    response = client_for(members[role]).get(url(project, tail))
    assert response.status_code == 403
    assert "x0" not in response.content.decode()


def test_it_asks_anonymous_clients_to_log_in(client_for, project, dataset):
    assert client_for().get(url(project)).status_code == 401
    assert client_for().get(url(project, "export/manifest/")).status_code == 401


def test_it_lets_a_manager_promoted_later_export(client_for, project, dataset, members):
    membership_set(project=project, user=members[Role.REVIEWER], role=Role.MANAGER)
    response, _ = export(client_for(members[Role.REVIEWER]), project)
    assert response["X-Accord-Record-Count"] == "3"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("format", "xml"),
        ("status", "approvedd"),
        ("status", ","),
        ("since", "yesterday"),
        ("include", "ratings,emails"),
        ("reveal_raters", "maybe"),
    ],
)
@pytest.mark.parametrize("tail", ["export/", "export/manifest/"])
def test_it_names_the_bad_parameter(client_for, project, dataset, staff, param, value, tail):
    response = client_for(staff).get(url(project, tail), {param: value})
    assert response.status_code == 400
    data = response.json()
    assert list(data["errors"]) == [param]
    assert data["detail"]


def test_it_answers_404_for_a_missing_project(client_for, staff):
    assert client_for(staff).get("/api/v1/projects/999999/export/").status_code == 404
