"""Helpers for tests that start real Celery worker processes beside pytest: the skip when no worker
can share pytest's database and broker, the worker's environment, and a wait that fails the test
with the worker's log. The worker processes themselves (``celery -A config worker`` and its
options): testbed.workers (shared with the benchmarks)."""

import os
import sys
from pathlib import Path

import pytest
import redis
from django.db import connection

from testbed.servers import wait_until
from testbed.workers import database_url, worker_kill, worker_start

__all__ = [
    "database_url", "run_finished_wait", "wait_for", "worker_env", "worker_kill", "worker_services_or_skip",
    "worker_start",
]  # fmt: skip

# The key a test's judges send, and only to the loopback fake LLM server (testbed.FakeLLMServer).
TEST_KEY = "test-key"


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


def worker_env(broker: str, *, judge_key_env: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a worker process beside this test: this process's own, with DEBUG on,
    pytest's test database (DATABASE_URL) and ``broker``. ``judge_key_env``: the env var a test's
    judges name for their key, set to the tests' key and allowed to 127.0.0.1 only
    (ACCORD_JUDGE_KEYS), as tests/judges/conftest.py allows it in this process. ``extra``: more
    variables (JUDGES_CONCURRENCY, ...), which win."""
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker}
    if judge_key_env:
        env |= {judge_key_env: TEST_KEY, "ACCORD_JUDGE_KEYS": f"{judge_key_env}=127.0.0.1:*"}
    return env | extra


def wait_for(predicate, *, timeout: float, what: str, log: Path) -> None:
    """Poll ``predicate`` until true; on timeout, show the worker's log and fail the test."""
    if not wait_until(predicate, timeout=timeout, interval=0.1):
        sys.stderr.write(log.read_text()[-5000:])
        pytest.fail(f"timed out waiting for {what}")


def run_finished_wait(run, *, log: Path, timeout: float = 90, what: str = "the run to finish") -> None:
    """Wait until the judge ``run`` has left queued and running (see ``wait_for``)."""
    from judges.models import JudgeRun, RunStatus

    active = (RunStatus.QUEUED, RunStatus.RUNNING)
    wait_for(lambda: JudgeRun.objects.get(pk=run.pk).status not in active, timeout=timeout, what=what, log=log)
