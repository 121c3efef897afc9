"""Celery tasks of the annotation app: take an id, call one service.

``acks_late``: a job whose worker dies is delivered again; ``import_job_execute`` claims the job
with a conditional update, so a redelivery of a job already taken changes nothing, and the
import itself is all or nothing (a crash mid-way wrote nothing)."""

from celery import shared_task

from annotation.services.import_jobs import import_job_execute


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3600)
def import_job_run(job_id: int) -> None:
    import_job_execute(job_id=job_id)
