"""Exports: a streamed body, its manifest, files written atomically, and snapshots.

Callers check who may export (managers of the project and staff) before calling these.
"""

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection
from django.utils import timezone

from annotation.models import Project
from exports import dispatch
from exports.encoders import ENCODERS
from exports.models import ExportSnapshot, SnapshotStatus
from exports.postgres import jsonl_stream_postgres
from exports.records import export_chunks, export_count, export_layout, rubric_of
from exports.spec import ExportSpec, export_spec_parse

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


def export_stream(*, project: Project, spec: ExportSpec, progress: Progress | None = None) -> Iterator[bytes]:
    """Yield the export body in pieces of about one chunk of records each; ``progress`` is called
    with the number of records each piece holds. Memory use does not grow with the project.

    JSON Lines on PostgreSQL come from the database as finished lines (``exports.postgres``);
    everything else is encoded here from records read a chunk at a time."""
    if spec.format == "jsonl" and connection.vendor == "postgresql":
        yield from jsonl_stream_postgres(project=project, spec=spec, progress=progress)
        return
    encoder = ENCODERS[spec.format](layout=export_layout(project=project, spec=spec))
    head = encoder.start()
    if head:
        yield head
    for records in export_chunks(project=project, spec=spec):
        body = encoder.encode(records)
        if body:
            yield body
        if progress is not None:
            progress(len(records))
    tail = encoder.finish()
    if tail:
        yield tail


class _Tally:
    """Counts the records and bytes of an export body as it streams past, and hashes it."""

    def __init__(self, progress: Progress | None = None):
        self.digest = hashlib.sha256()
        self.size = 0
        self.count = 0
        self.progress = progress

    def records(self, n: int) -> None:
        self.count += n
        if self.progress is not None:
            self.progress(n)

    def pieces(self, body: Iterator[bytes]) -> Iterator[bytes]:
        for piece in body:
            self.digest.update(piece)
            self.size += len(piece)
            yield piece

    def as_dict(self) -> dict:
        return {"record_count": self.count, "bytes": self.size, "sha256": self.digest.hexdigest()}


def export_filename(*, project: Project, spec: ExportSpec) -> str:
    return f"project-{project.pk}-export.{spec.format}"


def export_manifest(*, project: Project, spec: ExportSpec) -> dict:
    """Describe the body that the same export request returns now: its record count, byte size
    and sha256, computed by streaming that body and hashing it (nothing is kept)."""
    tally = _Tally()
    for _ in tally.pieces(export_stream(project=project, spec=spec, progress=tally.records)):
        pass  # hashed and counted as it streams past; nothing is kept
    return {
        "project": project.pk,
        "format": spec.format,
        "filters": spec.as_params(),
        "rubric": rubric_of(project),
        **tally.as_dict(),
        "exported_at": timezone.now().isoformat(),
        "filename": export_filename(project=project, spec=spec),
    }


def export_write(*, project: Project, spec: ExportSpec, path: Path, progress: Progress | None = None) -> dict:
    """Write the export to ``path`` atomically: into a temporary file beside it, then renamed over
    it, so a reader never sees half a file and a rerun simply replaces it. Returns
    ``{record_count, bytes, sha256}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tally = _Tally(progress)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in tally.pieces(export_stream(project=project, spec=spec, progress=tally.records)):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tally.as_dict()


def snapshot_create(*, project: Project, spec: ExportSpec, actor) -> ExportSnapshot:
    """Record a snapshot export and enqueue its task once the row is committed (a worker that
    picked it up earlier would not find the row)."""
    snapshot = ExportSnapshot.objects.create(
        project=project, requested_by=actor, format=spec.format, params=spec.as_params()
    )
    dispatch.snapshot_write_later(snapshot_id=snapshot.pk)
    return snapshot


def snapshot_spec(snapshot: ExportSnapshot) -> ExportSpec:
    params = dict(snapshot.params)
    params["status"] = params.pop("statuses")
    return export_spec_parse(params)


# Progress is saved at most this often (in records) so a huge export is not a stream of UPDATEs.
PROGRESS_EVERY = 10_000


def snapshot_run(*, snapshot_id: int) -> None:
    """Write snapshot ``snapshot_id``'s file, keeping done/total on the row as it goes.

    Safe to run more than once (``acks_late`` redelivers after a crash): a snapshot that already
    succeeded and whose file is present is left alone; otherwise the file is (re)written from
    scratch under a temporary name and renamed into place, so a second run replaces rather than
    appends, and the row ends with the counts and hash of the file on disk.
    """
    snapshot = ExportSnapshot.objects.select_related("project__rubric_version").filter(pk=snapshot_id).first()
    if snapshot is None:
        logger.warning("export snapshot %s does not exist (deleted?); nothing to do", snapshot_id)
        return
    if snapshot.is_done() and snapshot.path().exists():
        return
    spec = snapshot_spec(snapshot)
    total = export_count(project=snapshot.project, spec=spec)
    # Claim: queued (first run), running (a crashed worker's redelivery) or succeeded with the
    # file gone. A failed snapshot stays failed; the user asks for a new one.
    claimed = ExportSnapshot.objects.filter(
        pk=snapshot.pk, status__in=[SnapshotStatus.QUEUED, SnapshotStatus.RUNNING, SnapshotStatus.SUCCEEDED]
    ).update(status=SnapshotStatus.RUNNING, started_at=timezone.now(), done=0, total=total, error="")
    if claimed != 1:
        return

    done = 0
    saved = 0

    def advance(n: int) -> None:
        nonlocal done, saved
        done += n
        if done - saved >= PROGRESS_EVERY:
            ExportSnapshot.objects.filter(pk=snapshot.pk).update(done=done)
            saved = done

    try:
        result = export_write(project=snapshot.project, spec=spec, path=snapshot.path(), progress=advance)
    except Exception as exc:
        logger.exception("export snapshot %s failed", snapshot.pk)
        ExportSnapshot.objects.filter(pk=snapshot.pk).update(
            status=SnapshotStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return
    ExportSnapshot.objects.filter(pk=snapshot.pk).update(
        status=SnapshotStatus.SUCCEEDED,
        done=result["record_count"],
        total=max(total, result["record_count"]),
        record_count=result["record_count"],
        size_bytes=result["bytes"],
        sha256=result["sha256"],
        finished_at=timezone.now(),
    )
