"""Where annotation's background work runs: in the request, or on a Celery worker.

The one seam between annotation's services and its tasks (as quality/dispatch.py): services reach
the tasks only through these functions, which import ``annotation.tasks`` when called. Work is
queued when the current transaction commits, so the worker reads what the request wrote.
"""

from django.conf import settings
from django.db import transaction

# An import costs about 30 µs per 100-byte row (parse, checks, insert): some 3 units of
# settings.INLINE_WORK_LIMIT (0.1 µs each) per byte of the file.
IMPORT_WORK_PER_BYTE = 3


def import_fits_inline(*, size: int) -> bool:
    """Whether an import of a file of ``size`` bytes is cheap enough to run inside the request."""
    return size * IMPORT_WORK_PER_BYTE <= settings.INLINE_WORK_LIMIT


def import_job_run_later(*, job_id: int) -> None:
    """Run an import job (its check or the import) on a worker, once the current transaction commits."""
    from annotation.tasks import import_job_run

    transaction.on_commit(lambda: import_job_run.delay(job_id))
