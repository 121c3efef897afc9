"""SSRF and files: the server fetches no URL a user chose outside the operator's allow-list, and
no request can make it write or read a file outside its folder.

The only URL the server fetches is a judge's ``base_url`` (its Celery workers call the LLM API
there). ``judges.services.judges.base_url_check`` refuses hosts outside
``settings.JUDGES_ALLOWED_HOSTS`` (``ACCORD_JUDGE_HOSTS``) and link-local addresses always. A
loopback canary HTTP server counts what reaches it.
"""

import asyncio
import http.server
import os
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from annotation.models import Role
from annotation.services.items import items_import
from exports.models import ExportSnapshot, SnapshotStatus
from judges.models import Judge, JudgeVerdict, RunStatus
from judges.providers import Prompt, provider_for
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from judges.tasks import judge_chunk_run

PRODUCTION_HOSTS = ["api.openai.com", "api.anthropic.com"]


class Canary:
    """A loopback HTTP server that counts every request and answers ``answer(path)``."""

    def __init__(self, answer=None):
        self.hits: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                canary.hits.append(f"{self.command} {self.path}")
                status, headers = (answer or (lambda path: (404, {})))(self.path)
                self.send_response(status)
                for name, value in {"Content-Length": "0", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_HEAD = _any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary():
    server = Canary()
    yield server
    server.close()


@pytest.fixture
def manager_client(members):
    client = APIClient()
    client.force_authenticate(members[Role.MANAGER])
    return client


def hostile_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/v1",
        f"http://localhost:{port}/v1",
        f"http://[::1]:{port}/v1",
        f"http://127.1:{port}/v1",  # short form of 127.0.0.1
        f"http://2130706433:{port}/v1",  # 127.0.0.1 as one integer
        f"http://0x7f000001:{port}/v1",
        f"http://0177.0.0.1:{port}/v1",  # octal
        f"http://[::ffff:127.0.0.1]:{port}/v1",
        f"http://api.openai.com@127.0.0.1:{port}/v1",  # userinfo trick
        f"http://127.0.0.1:{port}#@api.openai.com/v1",
        f"http://127.0.0.1:{port}\\@api.openai.com/v1",
        f"http://api.openai.com.127.0.0.1.nip.io:{port}/v1",  # suffix trick
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fe80::1]/v1",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/v1",
        "http://192.168.1.1/v1",
        "http://0.0.0.0/v1",
        "https://user:secret@api.openai.com/v1",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://api.openai.com/",
        "//api.openai.com/v1",
        'https://api.openai.com/v1"><script>alert(1)</script>',
        "https://api.openai.com:99999/v1",
    ]


@pytest.mark.django_db
def test_it_refuses_judge_base_urls_outside_the_allow_list_and_fetches_nothing(
    settings, project, members, manager_client, canary
):
    settings.JUDGES_ALLOWED_HOSTS = PRODUCTION_HOSTS
    refused = 0
    for url in hostile_urls(canary.port):
        response = manager_client.post(
            "/api/v1/judges/",
            {
                "project": project.pk,
                "name": f"j{refused}",
                "provider": "openai_compatible",
                "model": "m",
                "base_url": url,
            },
            format="json",
        )
        assert response.status_code == 400, (url, response.status_code, response.content)
        assert "base_url" in response.json()["errors"], (url, response.json())
        refused += 1
    assert Judge.objects.count() == 0
    assert canary.hits == [], canary.hits
    print(f"SSRF: {refused} hostile base URLs refused, canary hits {len(canary.hits)}")


@pytest.mark.django_db
def test_a_judge_cannot_be_moved_to_a_refused_url_afterwards(settings, project, staff, manager_client, canary):
    settings.JUDGES_ALLOWED_HOSTS = PRODUCTION_HOSTS
    judge = judge_create(
        actor=staff, project=project, name="gpt", provider="openai", model="gpt-5", api_key_env="OPENAI_API_KEY"
    )
    for url in hostile_urls(canary.port):
        response = manager_client.patch(f"/api/v1/judges/{judge.pk}/", {"base_url": url}, format="json")
        assert response.status_code == 400, (url, response.content)
    assert judge.versions.count() == 1 and judge.current_version().base_url == ""
    assert canary.hits == []


@pytest.mark.django_db
def test_the_allow_list_admits_what_the_operator_lists_but_never_link_local(settings, project, manager_client):
    settings.JUDGES_ALLOWED_HOSTS = [*PRODUCTION_HOSTS, "vllm.internal", "10.20.0.0/16", "0.0.0.0/0", "::/0"]

    def create(url: str) -> int:
        response = manager_client.post(
            "/api/v1/judges/",
            {"project": project.pk, "name": url[:100], "provider": "openai_compatible", "model": "m", "base_url": url},
            format="json",
        )
        return response.status_code

    assert create("https://api.openai.com/v1") == 201
    assert create("http://vllm.internal:8000/v1") == 201
    assert create("http://VLLM.internal.:8000/v1") == 201  # case and the root dot do not matter
    assert create("http://10.20.3.4:8000/v1") == 201
    # Listing every address (0.0.0.0/0, ::/0) still leaves link-local and unspecified out.
    for url in ("http://169.254.169.254/", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/"):
        assert create(url) == 400, url


@pytest.mark.django_db
def test_loopback_is_allowed_only_when_listed(settings, project, manager_client, canary):
    url = f"http://127.0.0.1:{canary.port}/v1"
    body = {"project": project.pk, "name": "local", "provider": "openai_compatible", "model": "m", "base_url": url}
    settings.JUDGES_ALLOWED_HOSTS = PRODUCTION_HOSTS
    assert manager_client.post("/api/v1/judges/", body, format="json").status_code == 400
    settings.JUDGES_ALLOWED_HOSTS = [*PRODUCTION_HOSTS, "127.0.0.1"]  # what DEBUG (and the tests) allow
    assert manager_client.post("/api/v1/judges/", body, format="json").status_code == 201


@pytest.mark.django_db
def test_a_judge_whose_host_left_the_allow_list_is_refused_at_run_time(
    settings, project, staff, manager_client, canary
):
    url = f"http://127.0.0.1:{canary.port}/v1"
    settings.JUDGES_ALLOWED_HOSTS = [*PRODUCTION_HOSTS, "127.0.0.1"]
    judge = judge_create(
        actor=staff, project=project, name="local", provider="openai_compatible", model="m", base_url=url
    )
    items_import(project=project, rows=[{"external_id": f"i{i}", "data": {"text": "x"}} for i in range(3)])
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all")  # allowed when it started

    settings.JUDGES_ALLOWED_HOSTS = PRODUCTION_HOSTS  # the operator takes the host off the list
    response = manager_client.post(
        f"/api/v1/projects/{project.pk}/judge-runs/", {"judge": judge.pk, "items": "all"}, format="json"
    )
    assert response.status_code == 400 and "not allowed" in response.json()["errors"]["judge"][0]
    # The run that started before is refused by the worker: its items fail without a request.
    for chunk_id in run.chunks.values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.failed == 3
    assert all("refused on the worker" in r for r in JudgeVerdict.objects.values_list("reason", flat=True))
    assert canary.hits == []


def test_the_default_allow_list_has_loopback_only_with_debug():
    import subprocess
    import sys

    code = "from django.conf import settings; print(','.join(settings.JUDGES_ALLOWED_HOSTS))"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "accord.example.org",
    }
    env.pop("ACCORD_JUDGE_HOSTS", None)
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    root = Path(__file__).resolve().parents[2]
    production = subprocess.run(run, env={**env, "DEBUG": "0"}, cwd=root, capture_output=True, text=True, check=True)
    laptop = subprocess.run(run, env={**env, "DEBUG": "1"}, cwd=root, capture_output=True, text=True, check=True)
    assert production.stdout.strip() == "api.openai.com,api.anthropic.com"
    assert "127.0.0.1" in laptop.stdout.split(",") or "127.0.0.1" in laptop.stdout.strip().split(",")


# The SDKs' own clients follow redirects (openai and anthropic default follow_redirects=True), so
# an allowed host answering 307 would send the worker to any address; judges/providers turn it off.
@pytest.mark.parametrize("provider", ["openai_compatible", "anthropic"])
def test_a_provider_does_not_follow_a_redirect_to_another_host(provider):
    target = Canary()
    relay = Canary(lambda path: (307, {"Location": f"http://localhost:{target.port}/latest/meta-data/"}))
    try:
        client = provider_for(provider=provider, base_url=f"http://127.0.0.1:{relay.port}/v1", api_key="k", timeout=5)
        prompt = Prompt(system="s", user="u", schema={"type": "object"}, schema_name="verdict")
        with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises for the 307
            asyncio.run(client.answer(prompt=prompt, model="m", temperature=0.0, max_output_tokens=16))
        assert len(relay.hits) == 1
        assert target.hits == [], target.hits
    finally:
        relay.close()
        target.close()


# --- files -------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../../evil-upload.jsonl",
    "/tmp/evil-upload-abs.jsonl",
    "..\\..\\evil-upload-win.jsonl",
    "evil-upload\x00.jsonl",
    "....//....//evil-upload-dots.jsonl",
    "%2e%2e%2fevil-upload-enc.jsonl",
]


def _files_named_like_evil(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.exists():
            found += list(root.rglob("*evil-upload*"))
    return found


@pytest.mark.django_db
def test_an_upload_with_a_hostile_name_writes_nothing_outside_the_temp_folder(settings, project, members, tmp_path):
    uploads = tmp_path / "uploads" / "inner"
    uploads.mkdir(parents=True)
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to a temporary file on disk
    client = APIClient()
    client.force_authenticate(members[Role.MANAGER])
    for n, name in enumerate(HOSTILE_NAMES):
        content = f'{{"external_id": "u{n}", "data": {{"prompt": "p"}}}}\n'.encode()
        upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
        response = client.post(f"/api/v1/projects/{project.pk}/items/", {"file": upload}, format="multipart")
        assert response.status_code in (201, 400), (name, response.status_code)
    assert _files_named_like_evil(tmp_path, Path("/tmp"), Path.cwd()) == []
    assert list(uploads.iterdir()) == [], "temporary upload files are removed after the request"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fmt", ["../../evil", "jsonl/../../evil", "/etc/passwd", "jsonl\x00", "..\\evil", "JSONL ", "parquet/.."]
)
def test_a_snapshot_format_cannot_name_a_path(settings, tmp_path, project, members, fmt):
    settings.VAR_DIR = tmp_path / "var"
    client = APIClient()
    client.force_authenticate(members[Role.MANAGER])
    response = client.post(f"/api/v1/projects/{project.pk}/export/snapshots/", {"format": fmt}, format="json")
    assert response.status_code == 400, (fmt, response.status_code)
    assert ExportSnapshot.objects.count() == 0
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").rglob("*evil*"))


@pytest.mark.django_db
def test_the_database_refuses_a_snapshot_format_outside_the_known_ones(project):
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportSnapshot.objects.create(project=project, format="../../x", params={})


@pytest.mark.django_db
def test_a_snapshot_file_swapped_for_a_link_outside_its_folder_is_not_served(settings, tmp_path, project, members):
    settings.VAR_DIR = tmp_path / "var"
    snapshot = ExportSnapshot.objects.create(
        project=project,
        requested_by=members[Role.MANAGER],
        format="jsonl",
        params={},
        status=SnapshotStatus.SUCCEEDED,
        record_count=1,
    )
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the exports folder")
    snapshot.path().parent.mkdir(parents=True)
    os.symlink(secret, snapshot.path())
    client = APIClient()
    client.force_authenticate(members[Role.MANAGER])
    response = client.get(f"/api/v1/export-snapshots/{snapshot.pk}/download/")
    assert response.status_code == 409
    assert b"outside the exports folder" not in response.content
    # The file name comes from the id and the format only.
    assert snapshot.path() == Path(settings.VAR_DIR) / "exports" / f"project-{project.pk}-snapshot-{snapshot.pk}.jsonl"
