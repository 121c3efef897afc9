"""Item import on PostgreSQL: COPY into a staging table, then one set-based merge.

The rows arrive validated (services/items.py checks every row in Python and reports every bad
one). What is left is the merge by external_id, done by the database in three statements over a
temporary table filled by COPY, instead of a lookup of every external_id, a comparison in Python
and a bulk insert:

1. refuse (all or nothing) when a row would change the data of an item that has ratings;
2. ``INSERT … SELECT … ON CONFLICT (project, external_id) DO UPDATE … WHERE changed``, whose
   ``RETURNING (xmax = 0)`` tells created rows from updated ones; rows neither inserted nor
   updated are the unchanged ones.

Equality is jsonb's (key order and whitespace do not matter), as it was Python's dict equality.
Concurrent imports into one project cannot collide: ON CONFLICT waits for the other's row.

A project with no items yet (the first import, the largest) skips the staging table: every row
is new, so one ``COPY`` straight into the items table does a third less work than COPY into
staging plus ``INSERT … SELECT`` (docs/benchmarks.md). It runs under a savepoint: should a
concurrent import fill the project meanwhile, the unique constraint stops the COPY, the
savepoint undoes it, and the staging merge runs instead, so the counts stay right.
"""

import json
from collections.abc import Callable, Iterator
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from django.utils import timezone

from annotation.models import Item, Project, Rating
from annotation.services.rows import rows_reject_if_any

_STAGE = "accord_item_import_stage"
_PER_ROW = ("external_id", "data", "metadata")


def _column_values(project: Project, now) -> tuple[list[str], list[str], list]:
    """For each concrete column but the key: its name, its SELECT expression over the staging
    table and the parameters (model defaults, prepared once, cast to the column's type)."""
    columns, expressions, params = [], [], []
    for field in Item._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in _PER_ROW:
            expressions.append(f"s.{field.name}")
            continue
        if field.name == "project":
            value = project.pk
        elif field.name in {"created_at", "updated_at"}:
            value = field.get_db_prep_save(now, connection)
        elif isinstance(field, JSONField):
            value = json.dumps(field.get_default())
        else:
            value = field.get_db_prep_save(field.get_default(), connection)
        expressions.append(f"%s::{field.cast_db_type(connection)}")
        params.append(value)
    return columns, expressions, params


def items_merge_postgresql(
    *,
    project: Project,
    clean: dict[str, tuple[dict, dict]],
    first_row: dict[str, int],
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Merge validated rows ``{external_id: (data, metadata)}`` into the project's items; returns
    ``(created, updated, unchanged)``. Call inside a transaction (the staging table is dropped at
    commit). Raises RowsRejected, before anything is visible, when a rated item's data would change."""
    now = timezone.now()
    if not Item.objects.filter(project=project).exists():
        try:
            with transaction.atomic():
                _items_copy_new(project=project, clean=clean, now=now, progress=progress)
        except IntegrityError:
            pass  # a concurrent import created some of these external_ids: merge them
        else:
            if progress:
                progress(len(clean))
            return len(clean), 0, 0
    table = connection.ops.quote_name(Item._meta.db_table)
    ratings = connection.ops.quote_name(Rating._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (line integer, external_id text, data jsonb, metadata jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_STAGE}")
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {_STAGE} (line, external_id, data, metadata) FROM STDIN") as copy,
        ):
            lines = (
                f"{first_row[external_id]}\t{_text(external_id)}\t{_json_text(data)}\t{_json_text(metadata)}\n"
                for external_id, (data, metadata) in clean.items()
            )
            _copy_lines(copy, lines, progress=None if progress is None else lambda done: progress(done // 2))
        cursor.execute(
            f"SELECT s.line, s.external_id FROM {_STAGE} s JOIN {table} i "
            f"ON i.project_id = %s AND i.external_id = s.external_id "
            f"WHERE i.data IS DISTINCT FROM s.data AND EXISTS (SELECT 1 FROM {ratings} r WHERE r.item_id = i.id) "
            f"ORDER BY s.line",
            [project.pk],
        )
        rated = cursor.fetchall()
        if rated:
            report = [
                {
                    "row": line,
                    "external_id": external_id,
                    "errors": {"data": ["this item already has ratings, so its data cannot change."]},
                }
                for line, external_id in rated
            ]
            rows_reject_if_any(report, found=len(clean), problem="would change rated items")
        columns, expressions, params = _column_values(project, now)
        cursor.execute(
            f"WITH merged AS ("
            f" INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM {_STAGE} s"
            f" ON CONFLICT (project_id, external_id) DO UPDATE"
            f" SET data = EXCLUDED.data, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at"
            f" WHERE {table}.data IS DISTINCT FROM EXCLUDED.data OR {table}.metadata IS DISTINCT FROM EXCLUDED.metadata"
            f" RETURNING (xmax = 0) AS created)"
            f" SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM merged",
            params,
        )
        created, updated = cursor.fetchone()
    if progress:
        progress(len(clean))
    return created, updated, len(clean) - created - updated


def _items_copy_new(
    *, project: Project, clean: dict[str, tuple[dict, dict]], now, progress: Callable[[int], None] | None
) -> None:
    """COPY every row straight into the items table (all new: the project had no items)."""
    table = connection.ops.quote_name(Item._meta.db_table)
    columns, _, params = _column_values(project, now)
    per_row = [c for c in columns if c.strip('"') in _PER_ROW]
    defaults = [c for c in columns if c not in per_row]
    # Constant columns first in the COPY column list, then the three per-row ones.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({', '.join(defaults + per_row)}) FROM STDIN") as copy,
    ):
        prefix = "".join(f"{_constant_text(value)}\t" for value in params)
        lines = (
            f"{prefix}{_text(external_id)}\t{_json_text(data)}\t{_json_text(metadata)}\n"
            for external_id, (data, metadata) in clean.items()
        )
        _copy_lines(copy, lines, progress=progress)


# COPY's text format, written here rather than by psycopg's write_row: the constant columns are
# formatted once per import instead of once per row (write_row's per-value adaptation of a dozen
# defaults cost more than the JSON encoding), and the lines go out in large writes.
_COPY_BATCH = 2_000


def _text(value: str) -> str:
    """A string as a COPY text field: backslash, tab, newline and carriage return escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _json_text(value: dict) -> str:
    # json.dumps escapes every control character (tab, newline...) itself: only backslashes remain.
    return json.dumps(value).replace("\\", "\\\\")


def _constant_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return _text(str(value))


def _copy_lines(copy, lines: Iterator[str], *, progress: Callable[[int], None] | None) -> None:
    batch: list[str] = []
    done = 0
    for line in lines:
        batch.append(line)
        if len(batch) == _COPY_BATCH:
            copy.write("".join(batch))
            done += len(batch)
            batch.clear()
            if progress and done % 10_000 == 0:
                progress(done)
    if batch:
        copy.write("".join(batch))
