"""A real Celery worker on Redis, SIGKILLed mid-run: the run still judges every item exactly once.

Needs PostgreSQL (the worker process shares pytest-django's test database) and a Redis broker:
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/pytest tests/judges -m worker
"""

from pathlib import Path

import pytest
from django.db.models import Count

from annotation.models import Rating
from annotation.services.items import items_import
from judges.models import JudgeSample, JudgeVerdict, RunStatus
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from testbed import FakeLLMServer
from testbed.llm_quirks import LLAMA_CPP
from tests.judges.conftest import KEY_ENV
from tests.workers import run_finished_wait, wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start

REPO = Path(__file__).resolve().parents[2]
ITEMS = 60


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_judges_every_item_exactly_once_across_a_killed_worker(staff, project, settings, tmp_path):
    broker = worker_services_or_skip()

    settings.JUDGES_CHUNK_SIZE = 6
    items_import(project=project, rows=[{"external_id": f"w{i}", "data": {"prompt": f"w{i}"}} for i in range(ITEMS)])
    log = tmp_path / "worker.log"
    with FakeLLMServer(latency=0.15) as llm:
        judge = judge_create(
            actor=staff, project=project, name="W", provider="openai", model="m",
            base_url=llm.openai_base_url, api_key_env=KEY_ENV,
        )  # fmt: skip
        env = worker_env(
            broker,
            judge_key_env=KEY_ENV,
            JUDGES_TEST_VISIBILITY_TIMEOUT="5",
            JUDGES_CONCURRENCY="3",
            JUDGES_BACKOFF_BASE_MS="10",
        )
        worker = worker_start(env, log)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all")  # enqueued on commit
            verdicts = JudgeVerdict.objects.filter(run=run)
            wait_for(lambda: verdicts.count() >= 12, timeout=60, what="the first verdicts", log=log)
            worker_kill(worker)
            killed_at = verdicts.count()
            assert killed_at < ITEMS, "the run finished before the kill; nothing was tested"

            worker = worker_start(env, log)  # unacked chunks come back after the visibility timeout
            run_finished_wait(run, log=log)
        finally:
            worker_kill(worker)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, log.read_text()[-3000:]
    assert (run.total, run.done, run.failed) == (ITEMS, ITEMS, 0)
    ratings = Rating.objects.filter(rater=judge.current_version().rater)
    assert ratings.count() == ITEMS
    assert not ratings.values("item").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert JudgeSample.objects.filter(run=run).count() == ITEMS
    assert JudgeVerdict.objects.filter(run=run).count() == ITEMS
    assert llm.count() >= ITEMS


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_keep_a_judges_calls_in_flight_within_its_max_concurrency(
    staff, project, settings, tmp_path
):
    """Two pool processes run two chunks at once, each wanting 8 calls in flight; the judge's
    max_concurrency (2) holds for both together (the Redis slots), and the one-at-a-time server's
    queue never holds more than that."""
    broker = worker_services_or_skip()
    settings.JUDGES_CHUNK_SIZE = 8
    items_import(project=project, rows=[{"external_id": f"c{i}", "data": {"prompt": f"c{i}"}} for i in range(32)])
    log = tmp_path / "worker.log"
    with FakeLLMServer(latency=0.05, quirks=LLAMA_CPP) as llm:
        judge = judge_create(
            actor=staff, project=project, name="C", provider="openai_compatible", model="m",
            base_url=llm.openai_base_url, max_concurrency=2,
        )  # fmt: skip
        env = worker_env(broker, JUDGES_CONCURRENCY="8", JUDGES_BACKOFF_BASE_MS="10")
        worker = worker_start(env, log, concurrency=2)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all")
            run_finished_wait(run, log=log, timeout=120)
        finally:
            worker_kill(worker)
        peak = llm.peak_in_flight
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 32, log.read_text()[-3000:]
    assert peak == 2
