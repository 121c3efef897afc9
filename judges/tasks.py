"""Celery tasks for judge runs: take an id, call one service.

``acks_late`` + ``reject_on_worker_lost``: a chunk whose worker dies is delivered again, and the
chunk service only does the work still missing (its writes are keyed), so redelivery is safe.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError

from annotation.models import Project
from annotation.services.approval import rater_trust_refresh
from judges.services.chunks import judge_chunk_execute
from judges.services.runs import judge_chunk_abandon

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.JUDGES_CHUNK_RETRIES,
    soft_time_limit=settings.JUDGES_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.JUDGES_TASK_TIME_LIMIT,
)
def judge_chunk_run(self, chunk_id: int) -> None:
    try:
        judge_chunk_execute(chunk_id=chunk_id)
    except (SoftTimeLimitExceeded, DatabaseError) as exc:
        # What was answered is stored; a fresh delivery picks up the rest.
        if self.request.retries < self.max_retries:
            countdown = min(60, 2**self.request.retries) * random.uniform(0.5, 1.5)
            logger.warning("judge chunk %s interrupted (%s); retrying in %.1fs", chunk_id, exc, countdown)
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
