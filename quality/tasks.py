"""Celery tasks of the quality app: take an id, call one service.

``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is delivered again; both
services only do the work still missing, so a redelivery changes nothing that is done.
"""

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from annotation.models import Project
from quality.services.agreement_reports import TASK_TIME_LIMIT, ComputeOutcome, agreement_report_compute
from quality.services.approval import project_decide
from quality.services.intervals import agreement_interval_refresh as interval_refresh
from quality.services.posterior import posterior_fit_run, posterior_refits_queue

logger = logging.getLogger(__name__)

# A task still running when the broker's visibility timeout ends is handed to a second worker.
_EVALUATE_TIME_LIMIT = max(60, int(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600) * 0.8))


def _backoff(retries: int) -> float:
    return min(60, 5 * 2**retries) * random.uniform(0.5, 1.5)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=30,
    soft_time_limit=TASK_TIME_LIMIT - 30,
    time_limit=TASK_TIME_LIMIT,
)
def agreement_report_refresh(self, report_id: int) -> None:
    """Recompute a stored agreement report (queued, coalesced, after its ratings changed)."""
    try:
        outcome = agreement_report_compute(report_id=report_id)
    except DatabaseError as exc:
        if self.request.retries >= 5:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    if outcome == ComputeOutcome.BUSY:
        # Another worker is computing it from data that may predate the change that queued us.
        # Half a minute at a time, within the 30 retries: longer than any computation takes.
        raise self.retry(countdown=random.uniform(20, 40))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5, time_limit=_EVALUATE_TIME_LIMIT)
def project_items_decide(self, project_id: int) -> None:
    """Re-decide every item of a project after its policy or rubric version changed. Idempotent:
    items already decided by the current rules are left as they are."""
    project = Project.objects.select_related("rubric_version").filter(pk=project_id).first()
    if project is None:
        return
    try:
        project_decide(project=project, inline=True)
    except DatabaseError as exc:  # e.g. a deadlock with an import locking the same items
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=30, time_limit=TASK_TIME_LIMIT)
def agreement_interval_refresh(self, project_id: int) -> None:
    """Bring a project's live bootstrap interval up to date (queued, coalesced, after ratings)."""
    try:
        outcome = interval_refresh(project_id=project_id)
    except DatabaseError as exc:  # e.g. a serialization failure under REPEATABLE READ
        if self.request.retries >= 5:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    if outcome == "busy":
        # Another worker is refreshing from data that may predate the change that queued us.
        raise self.retry(countdown=random.uniform(1, 3))


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=_EVALUATE_TIME_LIMIT)
def posterior_model_fit_run(project_id: int) -> None:
    """The policy page's "Fit now" for a project too large to fit inside a request."""
    posterior_fit_run(project_id=project_id)


@shared_task(ignore_result=True, time_limit=_EVALUATE_TIME_LIMIT)
def posterior_refits_sweep() -> list[int]:
    """Periodic (Celery beat: CELERY_BEAT_SCHEDULE in config/settings.py): queue a fit for every
    posterior-rule project whose data has grown enough since its last one."""
    return posterior_refits_queue()
