import hashlib
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from annotation.models import Role
from config.celery import app as celery_app
from exports.models import ExportSnapshot, SnapshotStatus
from exports.services import snapshot_run
from exports.spec import ExportSpec
from exports.tasks import export_snapshot_write
from tests.workers import worker_env, worker_services_or_skip, worker_start


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def snapshots_url(project):
    return f"/api/v1/projects/{project.pk}/export/snapshots/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def make_snapshot(project, user, **spec) -> ExportSnapshot:
    spec = ExportSpec(**spec)
    return ExportSnapshot.objects.create(
        project=project, requested_by=user, format=spec.format, params=spec.as_params()
    )


def test_it_writes_a_snapshot_in_the_background(
    client_for, project, dataset, members, eager, django_capture_on_commit_callbacks
):
    client = client_for(members[Role.MANAGER])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(snapshots_url(project), {"include": "ratings,judges", "status": "all"}, format="json")
    assert response.status_code == 202, response.data
    assert response.data["status"] == "queued"
    assert len(callbacks) == 1
    detail = client.get(f"/api/v1/export-snapshots/{response.data['id']}/").json()
    assert detail["status"] == "succeeded"
    assert (detail["done"], detail["total"], detail["record_count"], detail["progress"]) == (5, 5, 5, 1.0)
    assert detail["filters"]["include"] == ["ratings", "judges"]
    download = client.get(detail["download"])
    assert download.status_code == 200
    data = body(download)
    assert hashlib.sha256(data).hexdigest() == detail["sha256"] == download["X-Accord-Sha256"]
    assert len(data) == detail["bytes"]
    streamed = body(
        client.get(f"/api/v1/projects/{project.pk}/export/", {"include": "ratings,judges", "status": "all"})
    )
    assert data == streamed


def test_it_takes_snapshot_parameters_from_the_query_string(client_for, project, dataset, staff, eager):
    response = client_for(staff).post(snapshots_url(project) + "?format=csv&status=needs_review")
    assert response.status_code == 202, response.data
    snapshot = ExportSnapshot.objects.get(pk=response.data["id"])
    assert snapshot.format == "csv"
    assert snapshot.params["statuses"] == ["needs_review"]


def test_it_rewrites_the_same_file_when_the_task_runs_again(project, dataset, staff):
    snapshot = make_snapshot(project, staff, include=("judges",))
    export_snapshot_write(snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    first = snapshot.path().read_bytes()
    assert snapshot.sha256 == hashlib.sha256(first).hexdigest()
    assert snapshot.record_count == 3
    finished = snapshot.finished_at

    export_snapshot_write(snapshot.pk)  # a redelivery after success: nothing to do
    snapshot.refresh_from_db()
    assert snapshot.finished_at == finished

    # A redelivery after a worker died mid-way: the row says running; the file is rewritten whole.
    ExportSnapshot.objects.filter(pk=snapshot.pk).update(status=SnapshotStatus.RUNNING, done=1)
    snapshot.path().write_bytes(b"half a file")
    export_snapshot_write(snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    assert snapshot.path().read_bytes() == first
    assert (snapshot.done, snapshot.total, snapshot.record_count) == (3, 3, 3)
    assert sorted(p.name for p in ExportSnapshot.folder().iterdir()) == [snapshot.file_name()]  # no temp files


def test_it_saves_progress_while_writing(project, staff, monkeypatch):
    from annotation.models import Item
    from annotation.services.items import items_import
    from exports import postgres, records, services

    items_import(project=project, rows=[{"external_id": f"n{i}", "data": {"i": i}} for i in range(9)])
    Item.objects.filter(project=project).update(status="approved")
    monkeypatch.setattr(records, "CHUNK_SIZE", 2)
    monkeypatch.setattr(postgres, "CHUNK_SIZE", 2)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    seen = []
    update = ExportSnapshot.objects.filter

    def spy(*args, **kwargs):
        seen.append(ExportSnapshot.objects.values_list("done", "total").get())
        return update(*args, **kwargs)

    snapshot = make_snapshot(project, staff)
    monkeypatch.setattr(ExportSnapshot.objects, "filter", spy)
    snapshot_run(snapshot_id=snapshot.pk)
    monkeypatch.undo()
    assert (2, 9) in seen and (6, 9) in seen
    snapshot.refresh_from_db()
    assert (snapshot.done, snapshot.total, snapshot.status) == (9, 9, "succeeded")


def test_it_marks_a_failed_snapshot(project, dataset, staff, monkeypatch):
    from exports import services

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "export_write", broken)
    snapshot = make_snapshot(project, staff)
    snapshot_run(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.FAILED
    assert "disk full" in snapshot.error


def test_it_ignores_a_snapshot_that_no_longer_exists(db):
    snapshot_run(snapshot_id=987654)


def test_it_refuses_to_download_an_unfinished_snapshot(client_for, project, dataset, staff):
    snapshot = make_snapshot(project, staff)
    client = client_for(staff)
    detail = client.get(f"/api/v1/export-snapshots/{snapshot.pk}/").json()
    assert (detail["status"], detail["progress"], detail["download"]) == ("queued", None, None)
    response = client.get(f"/api/v1/export-snapshots/{snapshot.pk}/download/")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_it_serves_only_the_snapshot_file_from_the_exports_folder(client_for, project, dataset, staff, settings):
    snapshot = make_snapshot(project, staff)
    snapshot_run(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.path().parent == Path(settings.VAR_DIR) / "exports"
    snapshot.path().unlink()
    response = client_for(staff).get(f"/api/v1/export-snapshots/{snapshot.pk}/download/")
    assert response.status_code == 409


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER, "outsider"])
def test_it_lets_only_managers_and_staff_use_snapshots(client_for, project, dataset, members, staff, role):
    client = client_for(members[role])
    assert client.post(snapshots_url(project)).status_code == 403
    snapshot = make_snapshot(project, staff)
    snapshot_run(snapshot_id=snapshot.pk)
    assert client.get(f"/api/v1/export-snapshots/{snapshot.pk}/").status_code == 403
    assert client.get(f"/api/v1/export-snapshots/{snapshot.pk}/download/").status_code == 403
    assert client_for().get(f"/api/v1/export-snapshots/{snapshot.pk}/").status_code == 401
    assert not ExportSnapshot.objects.exclude(pk=snapshot.pk).exists()


def test_it_names_a_bad_snapshot_parameter(client_for, project, staff):
    response = client_for(staff).post(snapshots_url(project), {"format": "xlsx", "since": "soon"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"format", "since"}
    assert not ExportSnapshot.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_writes_a_snapshot_through_a_real_celery_worker(
    client_for, project, dataset, members, monkeypatch, tmp_path
):
    worker_services_or_skip(flush=False)  # it sends to a queue of its own
    # A queue of our own, so a worker another test run left on the same Redis cannot take the task.
    queue = f"exports-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(
        export_snapshot_write, "delay", lambda *args: export_snapshot_write.apply_async(args, queue=queue)
    )
    env = worker_env(
        str(celery_app.conf.broker_url), ACCORD_VAR_DIR=str(django_settings.VAR_DIR), DATABASE_CONN_MAX_AGE="0"
    )
    log = tmp_path / "worker.log"
    worker = worker_start(env, log, pool="solo", queue=queue, loglevel="warning", heartbeat=False)
    try:
        client = client_for(members[Role.MANAGER])
        response = client.post(snapshots_url(project), {"include": "ratings", "format": "jsonl"}, format="json")
        assert response.status_code == 202, response.data
        url = f"/api/v1/export-snapshots/{response.data['id']}/"
        deadline = time.monotonic() + 120  # a loaded CI machine starts a worker slowly
        while (detail := client.get(url).json())["status"] not in ("succeeded", "failed"):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"snapshot still {detail['status']} after 120 s"
            time.sleep(0.2)
        assert detail["status"] == "succeeded", detail["error"]
        assert (detail["done"], detail["total"], detail["record_count"]) == (3, 3, 3)
        data = body(client.get(detail["download"]))
        assert hashlib.sha256(data).hexdigest() == detail["sha256"]
        records = [json.loads(line) for line in data.decode().splitlines()]
        assert [r["external_id"] for r in records] == ["x0", "x1", "x2"]
        assert all(len(r["ratings"]) == 2 for r in records)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        with celery_app.connection_for_write() as broker:  # drop our queue (kombu keeps tiny binding keys)
            broker.default_channel.queue_delete(queue)
