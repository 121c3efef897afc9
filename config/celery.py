import os

import click
from celery import Celery, bootsteps
from celery.beat import EmbeddedService

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    result_serializer="json",
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()


class BeatThread(bootsteps.StartStopStep):
    """``--beat-thread``: what ``-B`` embeds, as a thread of the worker rather than a child
    process, which would hold a ~90 MB copy of the worker (``make run`` keeps its tree small).
    With several workers, run one ``celery -A config beat`` instead (docs/judges.md)."""

    label = "Beat (thread)"
    conditional = True

    def __init__(self, worker, beat_thread: bool = False, **kwargs):
        self.enabled = bool(beat_thread)
        super().__init__(worker, **kwargs)

    def create(self, worker):
        return EmbeddedService(worker.app, thread=True, schedule_filename=worker.schedule_filename)


app.user_options["worker"].add(
    click.Option(["--beat-thread"], is_flag=True, default=False, help="Run beat in a thread of this worker.")
)
app.steps["worker"].add(BeatThread)
