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
"""

import json
from collections.abc import Callable

from django.db import connection
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
    table = connection.ops.quote_name(Item._meta.db_table)
    ratings = connection.ops.quote_name(Rating._meta.db_table)
    now = timezone.now()
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
            for done, (external_id, (data, metadata)) in enumerate(clean.items(), start=1):
                copy.write_row((first_row[external_id], external_id, json.dumps(data), json.dumps(metadata)))
                if progress and done % 10_000 == 0:
                    progress(done // 2)  # staging is about half the work
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
