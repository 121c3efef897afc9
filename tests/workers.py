"""Helpers for tests that start real Celery worker processes beside pytest."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

REPO = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """pytest-django's test database as a DATABASE_URL, so worker processes share it (PostgreSQL)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_services_or_skip(*, flush: bool = True) -> str:
    """Skip the test unless a worker process can share its database (PostgreSQL) and its broker
    (Redis at CELERY_BROKER_URL); returns the broker URL, emptied of what an earlier run left
    unless ``flush`` is False (a test that sends to a queue of its own)."""
    from config.celery import app as celery_app

    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs PostgreSQL: the worker process must share pytest's test database")
    broker = str(celery_app.conf.broker_url or "")
    if not broker.startswith("redis://"):
        pytest.skip("the worker test needs CELERY_BROKER_URL=redis://127.0.0.1:6379/<db>")
    try:
        client = redis.Redis.from_url(broker, socket_connect_timeout=1)
        client.flushdb() if flush else client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is unreachable at {broker}: {exc}")
    return broker


def worker_start(env: dict, log: Path, *, name: str = "test") -> subprocess.Popen:
    """``celery -A config worker -c 2`` with ``env``, its output appended to ``log``."""
    command = [
        str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-c", "2", "--loglevel=INFO",
        "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log.open("a") as out:
        # Its own session, so worker_kill reaches the pool children and nothing else.
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def worker_kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool children, as a crash or the OOM killer would."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def wait_for(predicate, *, timeout: float, what: str, log: Path) -> None:
    """Poll ``predicate`` until true; on timeout, show the worker's log and fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    sys.stderr.write(log.read_text()[-5000:])
    pytest.fail(f"timed out waiting for {what}")
