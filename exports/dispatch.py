"""The one seam between exports' services and its tasks: tasks import services, so services
enqueue through this function, which imports ``exports.tasks`` when called (the app's one
function-level import that tools/check_structure.py allows)."""

from django.db import transaction


def snapshot_write_later(*, snapshot_id: int) -> None:
    """Write the snapshot's file on a worker once the current transaction commits (a worker that
    picked it up earlier would not find the row)."""
    from exports.tasks import export_snapshot_write

    transaction.on_commit(lambda: export_snapshot_write.delay(snapshot_id))
