"""The one seam between judges' services and its tasks: tasks import services, so services
enqueue through these functions, which import ``judges.tasks`` when called (the app's one
function-level import that tools/check_structure.py allows). Both queue on commit, so the worker
finds the rows the request wrote."""

from collections.abc import Sequence

from django.db import transaction


def chunks_run_later(*, chunk_ids: Sequence[int]) -> None:
    """Run each chunk of a judge run on a worker once the current transaction commits."""
    from judges.tasks import judge_chunk_run

    ids = list(chunk_ids)

    def send() -> None:
        for chunk_id in ids:
            judge_chunk_run.delay(chunk_id)

    transaction.on_commit(send)


def trust_refresh_later(*, project_id: int) -> None:
    """Re-measure the project's judges against the humans on a worker, after commit."""
    from judges.tasks import judge_run_trust_refresh

    transaction.on_commit(lambda: judge_run_trust_refresh.delay(project_id))


def batches_submit_later(*, batch_ids: Sequence[int]) -> None:
    """Submit each batch of a batch-mode run on a worker, after commit. The submit task passes a
    batch already submitted on to polling, so this also revives a lost poll chain."""
    from judges.tasks import judge_batch_submit_run

    ids = list(batch_ids)

    def send() -> None:
        for batch_id in ids:
            judge_batch_submit_run.delay(batch_id)

    transaction.on_commit(send)
