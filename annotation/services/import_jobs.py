"""The import page's jobs: an uploaded file is kept, previewed, checked (a dry run) and imported,
by the same ``items_import`` / ``ratings_import`` as the REST API, so a file the API refuses is
refused here with the same report (line, field, message) and nothing written."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from annotation.dispatch import import_fits_inline, import_job_run_later
from annotation.models import ImportJob, ImportJobStatus, ImportKind, Project
from annotation.services.items import items_import
from annotation.services.rating_imports import ratings_import
from annotation.services.rows import ParsedRow, rows_read_upload
from config.errors import Conflict, RowsRejected, validation_errors

PREVIEW_ROWS = 10
_PROGRESS_EVERY_SECONDS = 0.3
_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".json")


def _import_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fields_of(rows: list[Any], kind: str) -> dict[str, list[str]]:
    """The fields the preview rows carry: top-level ones, and those of data (items) or values (ratings)."""
    top: dict[str, None] = {}
    inner: dict[str, None] = {}
    inner_key = "data" if kind == ImportKind.ITEMS else "values"
    for row in rows:
        if isinstance(row, dict):
            top.update(dict.fromkeys(map(str, row)))
            if isinstance(row.get(inner_key), dict):
                inner.update(dict.fromkeys(map(str, row[inner_key])))
    return {"row": list(top), inner_key: list(inner)}


def import_job_create(
    *, project: Project, actor: AbstractBaseUser, kind: str, name: str, stream: IO[bytes]
) -> ImportJob:
    """Keep an uploaded file and preview its first rows. Nothing is imported yet."""
    if kind not in ImportKind.values:
        raise ValidationError({"kind": ["import items or ratings."]})
    if not name.lower().endswith(_SUFFIXES):
        raise ValidationError({"file": ["upload a .jsonl, .csv or .json file."]})
    if kind == ImportKind.RATINGS and name.lower().endswith(".csv"):
        # The CSV reader makes item rows (external_id, data): it has no place for values and rationales.
        raise ValidationError({"file": ["ratings are imported from JSON Lines (.jsonl) or a .json array."]})
    path = _import_dir() / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    size = lines = 0
    last = b"\n"
    with path.open("wb") as out:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            out.write(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": ["the file is empty."]})
    preview_rows: list[dict] = []
    with path.open("rb") as source:
        for parsed in rows_read_upload(name=name, stream=source):
            preview_rows.append(
                {"line": parsed.line, "value": parsed.value, "error": parsed.error or parsed.errors or None}
            )
            if len(preview_rows) >= PREVIEW_ROWS:
                break
    header = 1 if name.lower().endswith(".csv") else 0
    return ImportJob.objects.create(
        project=project,
        kind=kind,
        created_by=actor,
        file_name=name[:255],
        path=str(path),
        size=size,
        rows_total=max(lines + (0 if last == b"\n" else 1) - header, 1),
        preview={"rows": preview_rows, "fields": _fields_of([r["value"] for r in preview_rows], kind)},
    )


def import_job_start(*, job: ImportJob, dry_run: bool) -> ImportJob:
    """Check (``dry_run``) or import the job's file: here and now when it is small (the caller
    waits), else on a worker (the caller polls the job)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status in {ImportJobStatus.QUEUED, ImportJobStatus.RUNNING}:
            raise Conflict("this file is being processed already.")
        if job.status == ImportJobStatus.DONE:
            raise Conflict("this file has been imported already; upload it again to import it again.")
        job.status, job.dry_run, job.phase, job.rows_done = ImportJobStatus.QUEUED, dry_run, "", 0
        job.result, job.errors, job.finished_at = {}, {}, None
        job.save(update_fields=["status", "dry_run", "phase", "rows_done", "result", "errors", "finished_at"])
        inline = import_fits_inline(size=job.size)
        if not inline:
            import_job_run_later(job_id=job.pk)
    if inline:
        import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _counted(rows: Iterator[ParsedRow], job_id: int) -> Iterator[ParsedRow]:
    """The rows, with the number read so far written to the job a few times a second (outside
    the import's transaction, so the page polling the job sees it move)."""
    last = time.monotonic()
    count = 0
    for count, row in enumerate(rows, start=1):
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY_SECONDS:
            ImportJob.objects.filter(pk=job_id).update(rows_done=count)
            last = now
        yield row
    ImportJob.objects.filter(pk=job_id).update(rows_done=0, phase="writing")


class _WriteProgress:
    """Rows written so far, shown while the import's transaction is still open: on PostgreSQL
    through a second connection of its own (the import's connection would show it only at
    commit); SQLite has one writer at a time, so there the bar waits for the commit."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.last = 0.0
        self.side = connections.create_connection(DEFAULT_DB_ALIAS) if connection.vendor == "postgresql" else None

    def __call__(self, written: int) -> None:
        now = time.monotonic()
        if self.side is None or now - self.last < _PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        table = connection.ops.quote_name(ImportJob._meta.db_table)
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET rows_done = %s, phase = 'writing' WHERE id = %s", [written, self.job_id]
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def import_job_execute(*, job_id: int) -> None:
    """Run a queued job. Claims it with a conditional update, so a job is run once however often
    it is delivered; records the outcome (counts, or every bad row) on the job."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.QUEUED).update(
        status=ImportJobStatus.RUNNING, phase="reading"
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("project__rubric_version").get(pk=job_id)
    service = items_import if job.kind == ImportKind.ITEMS else ratings_import
    outcome: dict[str, Any] = {"status": ImportJobStatus.DONE, "finished_at": timezone.now(), "phase": ""}
    written = _WriteProgress(job.pk)
    try:
        with open(job.path, "rb") as source:
            rows = _counted(rows_read_upload(name=job.file_name, stream=source), job.pk)
            result = service(project=job.project, rows=rows, dry_run=job.dry_run, progress=written)
        outcome["result"] = result.as_dict()
        outcome["rows_done"] = job.rows_total  # the bar ends full
        outcome["status"] = ImportJobStatus.CHECKED if job.dry_run else ImportJobStatus.DONE
    except RowsRejected as exc:
        outcome.update(status=ImportJobStatus.REJECTED, errors={"detail": exc.message, "rows": exc.rows})
    except ValidationError as exc:
        outcome.update(
            status=ImportJobStatus.REJECTED, errors={"detail": "nothing was imported.", **validation_errors(exc)}
        )
    except (OSError, ValueError) as exc:
        outcome.update(status=ImportJobStatus.FAILED, errors={"detail": f"the file could not be read: {exc}"})
    finally:
        written.close()
    outcome["finished_at"] = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(**outcome)
    if outcome["status"] == ImportJobStatus.DONE:
        Path(job.path).unlink(missing_ok=True)
