"""Where quality's work runs: here in the request, or on a Celery worker.

The one seam between quality's services and its tasks. Tasks import services, so services reach
the tasks only through these functions, which import ``quality.tasks`` when called (the one
function-level import of the app that tools/check_structure.py allows). Work is queued when the
current transaction commits, so the worker reads what the request wrote.
"""

from django.conf import settings
from django.db import transaction


def fits_inline(*, work: int) -> bool:
    """Whether ``work`` (an estimate in the unit of settings.INLINE_WORK_LIMIT, about 0.1 µs
    here) is cheap enough to do inside a web request rather than on a worker."""
    return work <= settings.INLINE_WORK_LIMIT


def project_decide_later(*, project_id: int) -> None:
    """Re-decide every item of the project on a worker, once the current transaction commits."""
    from quality.tasks import project_items_decide

    transaction.on_commit(lambda: project_items_decide.delay(project_id))


def agreement_report_refresh_later(*, report_id: int, countdown: float) -> None:
    """Recompute one stored agreement report on a worker, ``countdown`` seconds from now.

    Called after commit; raises if the broker cannot be reached (the caller then clears its
    queued mark so that the next change tries again)."""
    from quality.tasks import agreement_report_refresh

    agreement_report_refresh.apply_async((report_id,), countdown=countdown)


def agreement_interval_refresh_later(*, project_id: int, countdown: float) -> None:
    """Refresh the project's live bootstrap interval on a worker, ``countdown`` seconds from now.
    Called after commit; raises if the broker cannot be reached."""
    from quality.tasks import agreement_interval_refresh

    agreement_interval_refresh.apply_async((project_id,), countdown=countdown)


def posterior_fit_later(*, project_id: int) -> None:
    """Fit the project's posterior model on a worker, once the current transaction commits."""
    from quality.tasks import posterior_model_fit_run

    transaction.on_commit(lambda: posterior_model_fit_run.delay(project_id))
