"""Several SQL statements in one round trip to PostgreSQL, for hot paths where the round trips
cost more than the statements (on a busy host each one is a wake-up of the server process).

Django's psycopg cursor binds parameters client-side, so statements joined with ``;`` travel as
one query. PostgreSQL still runs them one after the other, each with its own snapshot taken once
the one before it has finished (READ COMMITTED): a statement after a ``FOR UPDATE`` sees every
transaction that held the lock as committed, exactly as if it had been sent on its own. Other
databases (SQLite) run the statements one by one.
"""

from django.db import connection

Statement = tuple[str, list]


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
            out.append(cursor.fetchall() if cursor.description else [])
            if not cursor.nextset():
                return out
