"""The export page: managers only; the form parsed by the API's own parser with errors inline and
nothing started; a started export is a snapshot the worker writes, listed with its manifest,
checksum and download; the snippets name the same REST call."""

import hashlib
import json
import re

import pytest
from django.test import Client

from annotation.models import Role
from config.celery import app as celery_app
from exports.models import ExportSnapshot


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_export_page_is_for_managers(project, members):
    url = f"/projects/{project.pk}/export/"
    for who in (Role.REVIEWER, Role.ANNOTATOR, "outsider"):
        assert page_client(members[who]).get(url).status_code == 403
    html = page_client(members[Role.MANAGER]).get(url).content.decode()
    assert 'name="format" value="jsonl" checked' in html
    assert f"/api/v1/projects/{project.pk}/export/?format=jsonl&amp;status=approved" in html


def test_a_started_export_is_written_listed_with_its_checksum_and_downloads(
    project, members, dataset, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    client = page_client(members[Role.MANAGER])
    url = f"/projects/{project.pk}/export/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"format": "jsonl", "status": ["approved", "needs_review"], "include": "ratings"})
    assert response.status_code == 302
    snapshot = ExportSnapshot.objects.get()
    assert snapshot.params["statuses"] == ["approved", "needs_review"] and snapshot.params["include"] == ["ratings"]
    html = client.get(url).content.decode()
    assert f'data-snapshot="{snapshot.pk}" data-status="succeeded"' in html
    assert snapshot.sha256[:12] in html and "&quot;record_count&quot;: 4" in html
    download = client.get(f"/api/v1/export-snapshots/{snapshot.pk}/download/")
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == snapshot.sha256
    records = [json.loads(line) for line in body.splitlines()]
    assert sorted(r["status"] for r in records) == ["approved", "approved", "approved", "needs_review"]
    assert all("ratings" in r for r in records)


def test_bad_choices_are_shown_beside_their_fields_and_nothing_starts(project, members):
    client = page_client(members[Role.MANAGER])
    url = f"/projects/{project.pk}/export/"
    response = client.post(url, {"format": "xml", "since": "<script>yesterday</script>", "include": "ratings"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "must be one of jsonl, csv, parquet" in html
    assert "name one or more statuses" in html
    assert "&lt;script&gt;yesterday&lt;/script&gt;" in html and "<script>yesterday" not in html
    assert not ExportSnapshot.objects.exists()
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(members[Role.MANAGER])
    assert csrf.post(url, {"format": "jsonl", "status": "all"}).status_code == 403
    assert not ExportSnapshot.objects.exists()


def test_the_snippet_is_the_rest_call_for_the_export_just_started(
    project, members, client_for, dataset, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    client = page_client(members[Role.MANAGER])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/projects/{project.pk}/export/",
            {"format": "csv", "status": "all", "since": "2026-03-02", "include": "judges"},
        )
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert 'name="format" value="csv" checked' in html, "the form keeps the choices"
    curl = re.search(r'id="snippet-curl">(.*?)</pre>', html, re.S).group(1).replace("&amp;", "&")
    call = re.search(r'"https?://[^/]+(/api/v1/[^"]+)"', curl).group(1)
    assert "format=csv" in call and "status=all" in call and "include=judges" in call and "since=" in call
    api = client_for(members[Role.MANAGER]).get(call)
    assert api.status_code == 200
    snapshot = ExportSnapshot.objects.get()
    assert int(api["X-Accord-Record-Count"]) == snapshot.record_count == 2, "decided on March 2nd and 3rd"
    assert hashlib.sha256(b"".join(api.streaming_content)).hexdigest() == snapshot.sha256
