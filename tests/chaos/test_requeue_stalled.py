"""A run whose queued chunks a broker lost is noticed and its unfinished chunks are sent again.

The sweep (judges.tasks.judge_runs_sweep_stalled, on Celery beat) runs against the database
only; sending is checked by recording the enqueued chunk ids. The end-to-end figure (Redis
without persistence, restarted mid-run, beat running) is benchmarks/chaos_judges.py --no-appendonly.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from judges.models import JudgeRun, JudgeRunChunk, JudgeVerdict, Outcome, RunStatus
from judges.services.runs import judge_run_cancel, judge_runs_requeue_stalled
from tests.judges.helpers import run_unreachable

IDLE = 600
# The sweep runs on Celery beat, outside any transaction, so the chunks it sends go out at once
# (judges/dispatch.py queues on commit); these tests run the same way.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr("judges.tasks.judge_chunk_run.delay", ids.append)
    return ids


@pytest.fixture
def run(staff, project, settings):
    settings.JUDGES_CHUNK_SIZE = 2
    return run_unreachable(staff=staff, project=project, items=6)


def _age(run, seconds):
    past = timezone.now() - timedelta(seconds=seconds)
    JudgeRun.objects.filter(pk=run.pk).update(created_at=past)
    return past


def test_a_silent_run_gets_its_unfinished_chunks_sent_again_once_per_idle_period(run, sent):
    first, second, third = run.chunks.order_by("index")
    long_ago = _age(run, IDLE + 60)
    JudgeRunChunk.objects.filter(pk=first.pk).update(finished_at=long_ago, delivered_at=long_ago)

    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 2
    assert sent == [second.pk, third.pk]
    run.refresh_from_db()
    assert run.requeued_at is not None and run.status == RunStatus.QUEUED

    # Sent again only if still silent a whole idle period after that.
    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 0
    JudgeRun.objects.filter(pk=run.pk).update(requeued_at=timezone.now() - timedelta(seconds=IDLE + 1))
    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 2


@pytest.mark.parametrize("sign_of_life", ["young run", "recent delivery", "recent verdict"])
def test_a_run_with_a_recent_sign_of_life_is_left_alone(run, sent, sign_of_life):
    if sign_of_life != "young run":
        _age(run, IDLE + 60)
    chunk = run.chunks.order_by("index").first()
    if sign_of_life == "recent delivery":
        JudgeRunChunk.objects.filter(pk=chunk.pk).update(delivered_at=timezone.now() - timedelta(seconds=IDLE - 30))
    if sign_of_life == "recent verdict":
        JudgeVerdict.objects.create(
            item_id=chunk.item_ids[0], judge_version=run.judge_version, rubric_version=run.rubric_version,
            run=run, outcome=Outcome.OK,
        )  # fmt: skip
    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 0
    assert sent == []


def test_a_cancelled_run_is_left_alone(run, sent):
    _age(run, IDLE + 60)
    judge_run_cancel(run=run)
    assert run.chunks.filter(finished_at__isnull=True).count() == 3
    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 0
    assert sent == []


def test_a_silent_run_whose_chunks_all_finished_is_closed_not_left_running(run, sent):
    past = _age(run, IDLE + 60)
    run.chunks.update(finished_at=past)
    assert judge_runs_requeue_stalled(idle_seconds=IDLE) == 0
    assert sent == []
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED  # nothing attempted, nothing failed: closed, not left running
