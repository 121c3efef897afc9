"""Several SQL statements in one round trip to PostgreSQL, for hot paths where the round trips
cost more than the statements (on a busy host each one is a wake-up of the server process).

Django's psycopg cursor binds parameters client-side, so statements joined with ``;`` travel as
one query. PostgreSQL still runs them one after the other, each with its own snapshot taken once
the one before it has finished (READ COMMITTED): a statement after a ``FOR UPDATE`` sees every
transaction that held the lock as committed, exactly as if it had been sent on its own. Other
databases (SQLite) run the statements one by one.
"""

from collections.abc import Sequence
from functools import cache

from django.db import connection
from psycopg.pq import ExecStatus

Statement = tuple[str, list]

# What a bigint id can be: bind nothing beyond to a hand-written query (PostgreSQL refuses it).
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def statements_run(statements: list[Statement]) -> list[list[tuple]]:
    """Run ``statements`` in order, in one round trip on PostgreSQL; each one's rows (``[]`` for a
    statement that returns none)."""
    out: list[list[tuple]] = []
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for sql, params in statements:
                cursor.execute(sql, params)
                out.append(cursor.fetchall() if cursor.description else [])
            return out
        cursor.execute("; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
        while True:
            out.append(cursor.fetchall() if _has_rows(cursor) else [])
            if not cursor.nextset():
                return out


def _has_rows(cursor) -> bool:
    # What ``cursor.description`` says, without the Column objects it builds on each call (a
    # few percent of a hot path's CPU with a dozen result sets per request).
    result = cursor.pgresult
    return result is not None and (result.nfields > 0 or result.status == ExecStatus.TUPLES_OK)


@cache  # models and aliases are few and fixed; the hot paths ask on every request
def columns(model, alias: str) -> str:
    """``alias.col1, alias.col2, …``: every concrete column of ``model``, in field order, for a
    hand-written SELECT whose rows :func:`instance` turns back into models."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def instance(model, values: Sequence):
    """A ``model`` instance from the values of :func:`columns` (the JSON fields parsed as the ORM
    parses them), as if loaded by a queryset. PostgreSQL only: psycopg already returns dates,
    times and booleans as Python values, which SQLite leaves to Django's converters."""
    fields = model._meta.concrete_fields
    converted = [
        field.from_db_value(value, None, connection) if value is not None and hasattr(field, "from_db_value") else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def width(model) -> int:
    """How many values :func:`columns` selects for ``model``."""
    return len(model._meta.concrete_fields)
