"""A Celery worker whose pool process kills itself (SIGKILL) whenever it is handed a judge chunk
holding an item with ``"crash": true`` in its data: a chunk that takes its worker down on every
delivery, the case Celery's own retry count never sees.

    python -m tests.chaos.crashing_worker worker -c 1 --loglevel=INFO
"""

import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from annotation.models import Item  # noqa: E402
from config.celery import app  # noqa: E402
from judges import tasks  # noqa: E402
from judges.models import JudgeRunChunk  # noqa: E402

_execute = tasks.judge_chunk_execute


def _crashing_execute(*, chunk_id: int) -> None:
    chunk = JudgeRunChunk.objects.get(pk=chunk_id)
    if Item.objects.filter(id__in=chunk.item_ids, data__crash=True).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    _execute(chunk_id=chunk_id)


tasks.judge_chunk_execute = _crashing_execute

if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
