"""Shared by import_items and import_ratings: open a file, count its rows, show a progress bar."""

import sys
from pathlib import Path

from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError
from tqdm import tqdm

from annotation.models import Project
from annotation.services.rows import rows_read_upload
from config.errors import RowsRejected


def project_from_option(value: str) -> Project:
    try:
        return Project.objects.get(pk=int(value)) if value.isdigit() else Project.objects.get(name=value)
    except (Project.DoesNotExist, Project.MultipleObjectsReturned):
        raise CommandError(f"no single project with id or name {value!r}.") from None


def run_import(*, path: str, project: Project, service, stdout) -> dict:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file.")
    with file.open("rb") as stream:
        try:
            rows = list(
                tqdm(rows_read_upload(name=file.name, stream=stream), desc="reading", unit=" rows", file=sys.stderr)
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    with tqdm(total=len(rows), desc="writing", unit=" rows", file=sys.stderr) as bar:

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        try:
            result = service(project=project, rows=rows, progress=progress)
        except RowsRejected as exc:
            lines = [exc.message]
            for row in exc.rows[:50]:
                lines.append(f"  row {row['row']}: {row.get('errors')}")
            raise CommandError("\n".join(lines)) from None
        except (OperationalError, InterfaceError) as exc:
            raise CommandError(
                f"the database failed during the import ({exc}); nothing was imported (an import applies "
                "fully or not at all). Run the same command again."
            ) from exc
    return result.as_dict()
