"""Real Celery worker processes (two, two chunks at a time each) stop a run at its cap, then
finish it after a resume with a higher one.

Needs PostgreSQL and a Redis broker, like tests/judges/test_worker.py:
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/pytest tests/judges -m worker
"""

import re
from decimal import Decimal

import pytest
from django.db.models import Count

from annotation.services.items import items_import
from judges.models import JudgeSample, JudgeVerdict, RunStatus
from judges.selectors import project_spend_month
from judges.services.budgets import judge_run_resume
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from testbed import FakeLLMServer
from tests.judges.conftest import KEY_ENV
from tests.workers import run_finished_wait, worker_env, worker_kill, worker_services_or_skip, worker_start

ITEMS = 40


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_processes_stop_a_run_at_its_cap_and_finish_it_after_a_resume(staff, project, settings, tmp_path):
    broker = worker_services_or_skip()
    settings.JUDGES_CHUNK_SIZE = 5
    items_import(project=project, rows=[{"external_id": f"m{i}", "data": {"prompt": f"m{i}"}} for i in range(ITEMS)])
    log = tmp_path / "worker.log"
    with FakeLLMServer(latency=0.05) as llm:
        judge = judge_create(
            actor=staff, project=project, name="Paid", provider="openai", model="m", base_url=llm.openai_base_url,
            api_key_env=KEY_ENV, samples=2, max_output_tokens=400, price_input_per_mtok=3, price_output_per_mtok=15,
        )  # fmt: skip
        env = worker_env(broker, judge_key_env=KEY_ENV, JUDGES_CONCURRENCY="4", JUDGES_BACKOFF_BASE_MS="10")
        worker = worker_start(env, log, concurrency=2)
        other = worker_start(env, tmp_path / "worker2.log", concurrency=2)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all", max_cost=Decimal("0.1"))
            run_finished_wait(run, log=log, timeout=120, what="the run to stop")
            run.refresh_from_db()
            stopped_with = JudgeVerdict.objects.filter(run=run).count()

            assert run.status == RunStatus.STOPPED_BUDGET, (run.status, run.error, log.read_text()[-3000:])
            assert run.cost_spent_micros <= 100_000
            assert 0 < stopped_with < ITEMS
            assert "stopped at the run's budget of $0.100000" in run.stop_reason
            # Said when it stopped: another worker may still write an item it had already paid for.
            left = int(re.search(r"(\d+) items left", run.stop_reason).group(1))
            assert ITEMS - stopped_with <= left <= ITEMS - stopped_with + 4

            judge_run_resume(run=run, max_cost=Decimal("5"))
            run_finished_wait(run, log=log, timeout=120, what="the resumed run to finish")
        finally:
            worker_kill(worker)
            worker_kill(other)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.status, run.error, log.read_text()[-3000:])
    assert JudgeVerdict.objects.filter(run=run).count() == ITEMS
    # Whole verdicts only, and no sample asked twice across the stop and the resume.
    per_item = JudgeSample.objects.filter(run=run).values("item").annotate(n=Count("id"))
    assert {row["n"] for row in per_item} == {2} and len(per_item) == ITEMS
    assert run.cost_reserved_micros == 0
    month = project_spend_month(project_id=project.pk)
    assert month["spent_micros"] == run.cost_spent_micros and month["reserved_micros"] == 0
