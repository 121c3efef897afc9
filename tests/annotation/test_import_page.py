"""The import page's jobs through Django's test client: upload and preview, a dry run that lists
every bad row and writes nothing, the import and its summary, the same all-or-nothing as the API;
and (marked worker) a large file imported by a real Celery worker while the page polls progress."""

import io
import json
import time

import pytest
from django.test import Client

from annotation.models import ImportJob, Item, Rater, Rating
from tests.workers import wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


def upload(client, project, name, content: bytes, kind="items"):
    f = io.BytesIO(content)
    f.name = name
    return client.post(f"/projects/{project.pk}/import/upload/", {"kind": kind, "file": f})


def go(client, project, job_id, action):
    response = client.post(f"/projects/{project.pk}/import/{job_id}/{action}/")
    assert response.status_code == 202, response.content
    return client.get(f"/projects/{project.pk}/import/{job_id}/").json()


@pytest.fixture(autouse=True)
def _imports_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_only_managers_use_the_import_page(project, members):
    url = f"/projects/{project.pk}/import/"
    assert page_client(members["manager"]).get(url).status_code == 200
    for role in ("annotator", "reviewer", "outsider"):
        assert page_client(members[role]).get(url).status_code == 403
        assert (
            upload(page_client(members[role]), project, "a.jsonl", b'{"external_id": "a", "data": {}}').status_code
            == 403
        )
    assert not ImportJob.objects.exists()


def test_an_upload_is_previewed_with_its_fields_and_imports_nothing(project, members):
    rows = [{"external_id": f"e{i}", "data": {"prompt": f"p{i}", "answer": "a"}} for i in range(25)]
    response = upload(page_client(members["manager"]), project, "items.jsonl", jsonl(rows))
    assert response.status_code == 201
    state = response.json()
    assert (state["status"], state["rows_total"], len(state["preview"]["rows"])) == ("uploaded", 25, 10)
    assert state["preview"]["fields"] == {"row": ["external_id", "data"], "data": ["prompt", "answer"]}
    assert state["preview"]["rows"][0] == {"line": 1, "value": rows[0], "error": None}
    assert not Item.objects.exists()


def test_a_file_that_cannot_be_imported_is_refused_at_upload(project, members):
    client = page_client(members["manager"])
    for name, content, kind, message in (
        ("notes.txt", b"x", "items", "upload a .jsonl, .csv or .json file."),
        ("empty.jsonl", b"", "items", "the file is empty."),
        ("ratings.csv", b"external_id,rater\nx0,a\n", "ratings", "ratings are imported from JSON Lines"),
    ):
        response = upload(client, project, name, content, kind=kind)
        assert response.status_code == 400
        assert response.json()["errors"]["file"][0].startswith(message)
    assert upload(client, project, "a.jsonl", b"{}", kind="labels").json()["errors"]["kind"]
    assert not ImportJob.objects.exists()


def test_a_dry_run_lists_every_bad_row_and_the_import_changes_nothing(project, members, items):
    client = page_client(members["manager"])
    content = (
        jsonl([{"external_id": "new-1", "data": {"p": 1}}, {"external_id": "", "data": {}}])
        + b"{not json\n"
        + jsonl([{"external_id": "new-2", "data": "text"}, {"external_id": "new-1", "data": {"p": 2}}])
    )
    job_id = upload(client, project, "bad.jsonl", content).json()["id"]
    before = list(Item.objects.order_by("id").values_list("id", "external_id", "data"))
    for action in ("check", "run"):
        state = go(client, project, job_id, action)
        assert state["status"] == "rejected"
        report = {(r["row"], field) for r in state["errors"]["rows"] for field in r["errors"]}
        assert report == {(2, "external_id"), (3, "row"), (4, "data"), (5, "external_id")}
        assert "nothing was imported" in state["errors"]["detail"]
    assert list(Item.objects.order_by("id").values_list("id", "external_id", "data")) == before


def test_a_check_then_the_import_gives_the_summary(project, members, items):
    client = page_client(members["manager"])
    content = b"external_id,prompt\nx0,p0\nx1,changed\nfresh,hello\n"
    # x0 has data {"prompt": "p0", "response": "r0"}: a CSV row without response changes it.
    job_id = upload(client, project, "items.csv", content).json()["id"]
    checked = go(client, project, job_id, "check")
    assert checked["status"] == "checked"
    assert checked["result"] == {"created": 1, "updated": 2, "unchanged": 0}
    assert not Item.objects.filter(external_id="fresh").exists()
    done = go(client, project, job_id, "run")
    assert (done["status"], done["result"]) == ("done", {"created": 1, "updated": 2, "unchanged": 0})
    assert Item.objects.get(external_id="fresh").data == {"prompt": "hello"}
    again = client.post(f"/projects/{project.pk}/import/{job_id}/run/")
    assert again.status_code == 409


def test_ratings_upload_goes_to_members_and_external_raters(project, members, items):
    client = page_client(members["manager"])
    values = {"helpfulness": 4, "correct": True, "tone": "ok"}
    rows = [
        {"external_id": "x0", "rater": "annotator", "values": values, "rationales": {"helpfulness": "ok"}},
        {"external_id": "x0", "rater": "Historic Rater", "values": values, "rationales": {"helpfulness": "ok"}},
    ]
    job_id = upload(client, project, "ratings.jsonl", jsonl(rows), kind="ratings").json()["id"]
    assert go(client, project, job_id, "check")["result"] == {"created": 2, "unchanged": 0}
    assert not Rater.objects.filter(project=project).exists(), "a dry run creates no external rater"
    assert go(client, project, job_id, "run")["result"] == {"created": 2, "unchanged": 0}
    assert Rating.objects.filter(rater__project=project, rater__name="Historic Rater").count() == 1


def test_the_api_dry_run_checks_without_writing(client_for, project, members):
    manager = client_for(members["manager"])
    url = f"/api/v1/projects/{project.pk}/items/?dry_run=true"
    response = manager.post(url, [{"external_id": "a", "data": {}}], format="json")
    assert (response.status_code, response.json()) == (200, {"created": 1, "updated": 0, "unchanged": 0})
    assert not Item.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_imports_a_large_file_while_the_page_shows_progress(project, members, settings, tmp_path):
    broker = worker_services_or_skip()
    settings.INLINE_WORK_LIMIT = 0  # every file goes to the worker
    rows = 100_000
    content = b"".join(
        json.dumps({"external_id": f"big-{i}", "data": {"prompt": f"p{i}", "n": i}}).encode() + b"\n"
        for i in range(rows)
    )
    client = page_client(members["manager"])
    job_id = upload(client, project, "big.jsonl", content).json()["id"]
    log = tmp_path / "worker.log"
    worker = worker_start(worker_env(broker), log)
    try:
        started = time.monotonic()
        assert client.post(f"/projects/{project.pk}/import/{job_id}/run/").status_code == 202
        assert time.monotonic() - started < 2, "the request only queues the job"
        seen = set()

        def finished():
            state = client.get(f"/projects/{project.pk}/import/{job_id}/").json()
            if 0 < state["rows_done"] < rows:
                seen.add(state["rows_done"])
            return state["status"] in {"done", "rejected", "failed"}

        wait_for(finished, timeout=180, what="the import", log=log)
        elapsed = time.monotonic() - started
        state = client.get(f"/projects/{project.pk}/import/{job_id}/").json()
        assert state["status"] == "done", state["errors"]
        print(f"\n{rows:,}-row import on a worker: {elapsed:.1f} s; the page saw {len(seen)} progress counts")
        assert state["result"] == {"created": rows, "updated": 0, "unchanged": 0}
        assert state["rows_total"] == rows and state["rows_done"] == rows
        assert seen, "the page saw the count move before the end"
        assert Item.objects.filter(project=project).count() == rows
    finally:
        worker_kill(worker)
