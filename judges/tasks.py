"""Celery tasks for judge runs: take an id, call one service.

``acks_late`` + ``reject_on_worker_lost``: a chunk whose worker dies is delivered again, and the
chunk service only does the work still missing (its writes are keyed), so redelivery is safe.
``acks_on_timeout=False``: a chunk killed by its hard time limit is delivered again too, rather
than acknowledged and left unfinished (its run would never end). Those redeliveries are counted
on the chunk row (``judge_chunk_delivery_count``), since Celery cannot count them: a chunk that
makes no progress delivery after delivery is given up and its run fails. Chunks a broker lost
outright (Redis without persistence) are sent again by ``judge_runs_sweep_stalled`` on beat.

Batch mode (judges/services/batches.py): ``judge_batch_submit_run`` and ``judge_batch_poll_run``
each do one step and queue the next with a countdown; every step is a conditional UPDATE, so a
redelivered or duplicated step does nothing twice.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from annotation.models import Project
from judges.services.runs import judge_chunk_abandon, judge_chunk_delivery_count, judge_runs_requeue_stalled
from quality.services.trust import rater_trust_refresh

logger = logging.getLogger(__name__)


def judge_chunk_execute(*, chunk_id: int) -> None:
    # Imported on first use, not at the top: the provider SDKs (openai, anthropic) cost about 90 MB
    # in every process that loads them, and a worker that never runs a judge (make run's idle
    # worker, its beat process) should not carry them.
    from judges.services.chunks import judge_chunk_execute as execute

    execute(chunk_id=chunk_id)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    acks_on_timeout=False,
    max_retries=settings.JUDGES_CHUNK_RETRIES,
    soft_time_limit=settings.JUDGES_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.JUDGES_TASK_TIME_LIMIT,
)
def judge_chunk_run(self, chunk_id: int) -> None:
    try:
        if not judge_chunk_delivery_count(chunk_id=chunk_id):
            return  # given up: too many deliveries in a row without progress
        judge_chunk_execute(chunk_id=chunk_id)
    except Exception as exc:
        # Soft time limit, database, or a bug: what was answered is stored and a fresh delivery
        # picks up the rest. Any exception, not a few kinds: a chunk that is neither retried nor
        # abandoned stays unfinished and its run never ends.
        if self.request.retries < self.max_retries:
            countdown = min(60, 2**self.request.retries) * random.uniform(0.5, 1.5)
            logger.warning("judge chunk %s interrupted (%r); retrying in %.1fs", chunk_id, exc, countdown)
            raise self.retry(exc=exc, countdown=countdown) from exc
        judge_chunk_abandon(chunk_id=chunk_id, reason=f"chunk gave up after {self.max_retries} retries: {exc!r}")
        raise


@shared_task(acks_late=True, time_limit=settings.JUDGES_TASK_TIME_LIMIT)
def judge_run_trust_refresh(project_id: int) -> None:
    """After a run: re-measure every judge version against the humans and re-decide the items,
    so a judge that earned (or lost) trust approves (or stops approving) right away. Idempotent."""
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        rater_trust_refresh(project=project)


@shared_task(ignore_result=True, time_limit=settings.JUDGES_TASK_TIME_LIMIT)
def judge_runs_sweep_stalled() -> int:
    """Periodic (Celery beat: CELERY_BEAT_SCHEDULE in config/settings.py): send again the chunks
    a broker lost."""
    return judge_runs_requeue_stalled(idle_seconds=settings.JUDGES_STALLED_RUN_SECONDS)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, acks_on_timeout=False,
             max_retries=settings.JUDGES_CHUNK_RETRIES, time_limit=settings.JUDGES_TASK_TIME_LIMIT)  # fmt: skip
def judge_batch_submit_run(self, batch_id: int) -> None:
    """Submit one batch of a batch-mode run, then poll it (countdown, not a loop)."""
    from judges.services.batches import judge_batch_submit  # on first use, as the chunk service

    _batch_step(self, batch_id, judge_batch_submit)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, acks_on_timeout=False,
             max_retries=settings.JUDGES_CHUNK_RETRIES, time_limit=settings.JUDGES_TASK_TIME_LIMIT)  # fmt: skip
def judge_batch_poll_run(self, batch_id: int) -> None:
    """Ask the provider about one batch; ingest it when it has ended, else poll again later."""
    from judges.services.batches import judge_batch_poll

    _batch_step(self, batch_id, judge_batch_poll)


def _batch_step(task, batch_id: int, service) -> None:
    from judges.providers import call_error
    from judges.services.batches import judge_batch_fail

    try:
        step = service(batch_id=batch_id)
    except Exception as exc:
        try:
            error = call_error(exc)
        except Exception:  # not a provider error (the database, a bug): retry like a transient one
            error = None
        if error is not None and not error.retryable:
            # Refused for good (a bad key, a malformed batch): the items go down the live path,
            # which records the same error on each of them.
            judge_batch_fail(batch_id=batch_id, reason=error.reason)
            return
        if task.request.retries < task.max_retries:
            countdown = min(300, 5 * 2**task.request.retries) * random.uniform(0.5, 1.5)
            logger.warning("judge batch %s: %s interrupted (%r); again in %.0fs", batch_id, task.name, exc, countdown)
            raise task.retry(exc=exc, countdown=countdown) from exc
        # Still failing: the batch stays open and the beat sweep sends its step again later.
        logger.error("judge batch %s: %s failed %s times: %r", batch_id, task.name, task.max_retries, exc)
        return
    if step is not None:
        follow = judge_batch_submit_run if step.kind == "submit" else judge_batch_poll_run
        follow.apply_async(args=[batch_id], countdown=step.seconds)
