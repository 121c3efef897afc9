from celery import shared_task

from exports.services import snapshot_run


@shared_task(acks_late=True, ignore_result=True)
def export_snapshot_write(snapshot_id: int) -> None:
    """Write an export snapshot's file. Rerunning rewrites the same file atomically, so a
    redelivered message (``acks_late``) does no harm."""
    snapshot_run(snapshot_id=snapshot_id)
