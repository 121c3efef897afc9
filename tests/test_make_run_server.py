"""`make run`'s server as a newcomer gets it: bin/run-local (gunicorn, the Celery worker's thread
pool, the demo's fake model server) on the embedded defaults (SQLite, the filesystem broker).

The demo's judge run must reach its end on that worker while the web server answers the
annotation and export API, because that is the first thing a newcomer tries."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from testbed.servers import free_port

# The database marker only lets the suite's autouse cache fixture run when this file runs alone.
pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)
TOKEN_SNIPPET = """
from django.contrib.auth import get_user_model
from accounts.services import api_token_create
from annotation.models import Project, Role
from annotation.services.projects import membership_set
from demo.summaries import DEMO_PROJECT
project = Project.objects.get(name=DEMO_PROJECT)
user = get_user_model().objects.create_user(username="newcomer")
membership_set(project=project, user=user, role=Role.MANAGER)
print(project.pk, api_token_create(user=user, name="test")[1])
"""


def tree(root_pid: int) -> list[str]:
    """Command lines of ``root_pid``'s descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            found.append((Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")).decode())
        except OSError:
            continue
    return found


@pytest.fixture
def make_run(tmp_path):
    port, llm_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))}
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        ACCORD_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        DEMO_LLM_PORT=str(llm_port),
        ACCORD_DEMO_LLM_URL=f"http://127.0.0.1:{llm_port}/v1",
    )
    env.pop("CELERY_BROKER_URL", None)  # the filesystem broker, as `make run` has it

    def manage(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    manage("seed_demo_judge")
    project_id, key = manage("shell", stdin=TOKEN_SNIPPET).split()[-2:]
    log = (tmp_path / "run-local.log").open("w")
    proc = subprocess.Popen(
        ["bin/run-local"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {key}"}, timeout=30)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if client.get("/api/v1/health/").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "run-local.log").read_text()[-3000:]
            time.sleep(0.3)
        yield client, int(project_id), proc, tmp_path / "run-local.log"
    finally:
        client.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_the_demo_judge_run_finishes_on_make_runs_worker_while_the_api_answers(make_run):
    client, project_id, proc, log_path = make_run
    judges = client.get("/api/v1/judges/", params={"project": project_id}).json()
    judges = judges["results"] if isinstance(judges, dict) else judges
    (judge,) = [j for j in judges if j["project"] == project_id]
    started = client.post(f"/api/v1/projects/{project_id}/judge-runs/", json={"judge": judge["id"], "items": "all"})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    # While the run is on the worker: the web server serves the queue and the export.
    exported = client.get(f"/api/v1/projects/{project_id}/export/", params={"format": "jsonl", "status": "all"})
    assert exported.status_code == 200, exported.text[:500]
    items = [line for line in exported.text.splitlines() if line]
    assert items

    deadline = time.monotonic() + 180
    while True:
        run = client.get(f"/api/v1/judge-runs/{run_id}/").json()
        if run["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, (run, log_path.read_text()[-3000:])
        time.sleep(0.5)
    assert run["status"] == "succeeded", (run, log_path.read_text()[-3000:])
    assert run["done"] == run["total"] == len(items)
    assert run["failed"] == 0

    # Thread pool and beat in a thread: one worker process, no pool children, no beat child.
    workers = [cmd for cmd in tree(proc.pid) if "celery" in cmd and " worker" in cmd]
    assert len(workers) == 1, workers
    assert "beat: Starting" in log_path.read_text()
    webs = [cmd for cmd in tree(proc.pid) if "gunicorn" in cmd]
    assert len(webs) == 3, webs  # the arbiter and two workers
