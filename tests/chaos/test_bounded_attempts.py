"""A chunk that fails every time stops after a bounded number of attempts, and its run fails.

Runs on SQLite or PostgreSQL, in this process (``apply``: Celery's eager execution, retries
included). The same bound against a real worker that is SIGKILLed by its chunk on every delivery
is in test_worker_chaos.py.
"""

import pytest

from judges.models import JudgeRun, JudgeRunChunk, JudgeVerdict, Outcome, RunStatus
from judges.services.runs import judge_chunk_delivery_count
from judges.tasks import judge_chunk_run
from tests.judges.helpers import run_unreachable


@pytest.fixture
def run(staff, project, settings):
    settings.JUDGES_CHUNK_SIZE = 2
    return run_unreachable(staff=staff, project=project, items=4)


def test_a_chunk_that_raises_every_time_is_retried_a_bounded_number_of_times_then_fails_its_run(
    run, settings, monkeypatch
):
    settings.JUDGES_CHUNK_MAX_STALLED_ATTEMPTS = 50  # only Celery's retry count bounds it here
    calls = []

    def broken(*, chunk_id):
        calls.append(chunk_id)
        raise RuntimeError("a bug that happens every time")

    monkeypatch.setattr("judges.tasks.judge_chunk_execute", broken)
    monkeypatch.setattr("judges.tasks.random.uniform", lambda a, b: 0)  # no backoff sleep in eager mode
    chunk = run.chunks.order_by("index").first()

    judge_chunk_run.apply(args=[chunk.pk])

    assert calls == [chunk.pk] * (1 + judge_chunk_run.max_retries)
    chunk.refresh_from_db()
    assert chunk.finished_at is not None
    run.refresh_from_db()
    assert "gave up after" in run.error and "a bug that happens every time" in run.error
    assert run.is_active()  # the other chunk has not run yet; the run ends with it


def test_the_run_ends_failed_when_its_last_chunk_is_given_up(run, settings, monkeypatch):
    monkeypatch.setattr("judges.tasks.random.uniform", lambda a, b: 0)
    monkeypatch.setattr("judges.tasks.judge_chunk_execute", lambda *, chunk_id: 1 / 0)
    for chunk_id in run.chunks.values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.finished_at is not None
    assert "ZeroDivisionError" in run.error


def test_deliveries_without_progress_are_counted_and_the_chunk_is_given_up(run, settings):
    """A worker that dies on the chunk never returns to Celery: only the chunk row can count."""
    settings.JUDGES_CHUNK_MAX_STALLED_ATTEMPTS = 3
    chunk = run.chunks.order_by("index").first()
    # First delivery, then three that found nothing new since the one before: given up.
    assert [judge_chunk_delivery_count(chunk_id=chunk.pk) for _ in range(4)] == [True, True, True, False]
    chunk.refresh_from_db()
    assert (chunk.stalled_attempts, chunk.finished_at is not None) == (3, True)
    run.refresh_from_db()
    assert "given up after 3 deliveries in a row without a new verdict" in run.error
    # Later deliveries of the same message (it was already in the broker) do nothing more.
    assert judge_chunk_delivery_count(chunk_id=chunk.pk) is True
    chunk.refresh_from_db()
    assert chunk.stalled_attempts == 3


def test_a_chunk_that_keeps_making_progress_is_never_given_up(run, settings):
    settings.JUDGES_CHUNK_MAX_STALLED_ATTEMPTS = 2
    chunk = run.chunks.order_by("index").first()
    assert judge_chunk_delivery_count(chunk_id=chunk.pk)
    assert judge_chunk_delivery_count(chunk_id=chunk.pk)  # one stalled
    # The interrupted delivery stored one verdict before its worker died.
    JudgeVerdict.objects.create(
        item_id=chunk.item_ids[0],
        judge_version=run.judge_version,
        rubric_version=run.rubric_version,
        run=run,
        outcome=Outcome.OK,
    )
    assert judge_chunk_delivery_count(chunk_id=chunk.pk)
    assert JudgeRunChunk.objects.get(pk=chunk.pk).stalled_attempts == 0
    assert judge_chunk_delivery_count(chunk_id=chunk.pk)
    assert not judge_chunk_delivery_count(chunk_id=chunk.pk)  # two in a row without a new verdict
    assert JudgeRun.objects.get(pk=run.pk).error
