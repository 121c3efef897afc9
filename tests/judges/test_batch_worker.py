"""A batch-mode run on a real Celery worker (Redis broker), SIGKILLed while its batch is at the
provider: the restarted worker picks up the poll, ingests once, and no request is sent twice.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/pytest tests/judges/test_batch_worker.py -m worker
"""

import pytest
from django.db.models import Count

from annotation.models import Rating
from annotation.services.items import items_import
from judges.models import BatchStatus, JudgeBatch, JudgeVerdict, RunMode, RunStatus
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from testbed import FakeLLMServer
from tests.judges.conftest import KEY_ENV
from tests.workers import run_finished_wait, wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start

ITEMS = 12


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_run_survives_a_killed_worker_with_one_provider_batch(staff, project, tmp_path, provider):
    broker = worker_services_or_skip()
    items_import(project=project, rows=[{"external_id": f"b{i}", "data": {"prompt": f"b{i}"}} for i in range(ITEMS)])
    log = tmp_path / "worker.log"
    with FakeLLMServer() as llm:
        # The provider holds the batch until the worker has died: a fixed delay raced the kill on a
        # loaded machine (the poll ingested before the kill).
        llm.batches.delay = 3600
        base_url = llm.anthropic_base_url if provider == "anthropic" else llm.openai_base_url
        judge = judge_create(
            actor=staff, project=project, name="B", provider=provider, model="m", base_url=base_url,
            api_key_env=KEY_ENV,
        )  # fmt: skip
        env = worker_env(
            broker, judge_key_env=KEY_ENV, JUDGES_TEST_VISIBILITY_TIMEOUT="5", JUDGES_BATCH_POLL_SECONDS="1"
        )
        worker = worker_start(env, log)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all", mode=RunMode.BATCH)
            wait_for(
                lambda: JudgeBatch.objects.filter(run=run, status=BatchStatus.SUBMITTED).exists(),
                timeout=60, what="the batch to be submitted", log=log,
            )  # fmt: skip
            worker_kill(worker)  # its poll, waiting for its countdown, is unacknowledged: it comes back
            assert not JudgeVerdict.objects.filter(run=run).exists()

            llm.batches.delay = 0
            worker = worker_start(env, log)
            run_finished_wait(run, log=log)
        finally:
            worker_kill(worker)
        created = llm.batches.created(provider)
        live_calls = llm.count(provider)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, log.read_text()[-3000:]
    assert (run.total, run.done, run.failed) == (ITEMS, ITEMS, 0)
    assert len(created) == 1 and len(created[0].lines) == ITEMS
    assert live_calls == 0
    batch = JudgeBatch.objects.get(run=run)
    assert (batch.status, batch.ingested, batch.provider_batch_id) == (BatchStatus.DONE, ITEMS, created[0].id)
    ratings = Rating.objects.filter(rater=judge.current_version().rater)
    assert ratings.count() == ITEMS
    assert not ratings.values("item").annotate(n=Count("id")).filter(n__gt=1).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_server_without_a_batch_api_has_its_items_judged_live_by_the_worker(staff, project, tmp_path):
    """An OpenAI-compatible server that answers 404 on /v1/files (plain vLLM, Ollama): the worker
    gives the batch up at once, without retrying, and the release sends every item down the live path."""
    broker = worker_services_or_skip()
    items_import(project=project, rows=[{"external_id": f"v{i}", "data": {"prompt": f"v{i}"}} for i in range(ITEMS)])
    log = tmp_path / "worker.log"
    with FakeLLMServer() as llm:
        llm.batches.enabled = False
        judge = judge_create(
            actor=staff, project=project, name="vLLM", provider="openai_compatible", model="m",
            base_url=llm.openai_base_url, api_key_env="",
        )  # fmt: skip
        worker = worker_start(worker_env(broker, judge_key_env=KEY_ENV, JUDGES_BATCH_POLL_SECONDS="1"), log)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all", mode=RunMode.BATCH)
            run_finished_wait(run, log=log)
        finally:
            worker_kill(worker)
        refused = llm.batches.refused
        live_calls = llm.count("openai")

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, log.read_text()[-3000:]
    assert (run.total, run.done, run.failed) == (ITEMS, ITEMS, 0)
    batch = JudgeBatch.objects.get(run=run)
    assert batch.status == BatchStatus.FAILED and "this server has no batch API" in batch.error
    assert refused == 1, "refused for good: the upload is not retried"
    assert live_calls == ITEMS and run.batch_input_tokens == 0
