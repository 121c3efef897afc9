"""The fields of an export record, declared once.

Each field says which item column it reads, how a record built in Python gets its value
(records.py: every format on SQLite, CSV and Parquet everywhere) and the PostgreSQL expression
that writes its JSON text (postgres.py: JSON Lines on PostgreSQL, built by the database). A new
field is one entry here; tests/exports/test_record_fields.py checks on PostgreSQL that the two
paths give the same records.

In the SQL, ``i`` is the item row of the page, ``g`` its gold (LEFT JOIN) and ``rt`` its ratings
(LEFT JOIN, when asked for); ``%(name)s`` parameters are bound by postgres.py.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quality.selectors.acceptance import acceptance_of, acceptance_sql
from rubrics.gates import Gates


@dataclass(frozen=True)
class RecordContext:
    """What a chunk of records is built from besides the item rows (Python path)."""

    gates: Gates
    rubric: dict
    golds: dict[int, dict]
    ratings: dict[int, list] | None


@dataclass(frozen=True)
class Field:
    name: str
    columns: tuple[str, ...]  # item columns it reads
    python: Callable[[dict, RecordContext], Any]  # the value, from the item row (a dict of columns)
    sql: Callable[[Gates], tuple[str, dict]]  # its JSON text in PostgreSQL, with parameters
    with_ratings_only: bool = False
    gated_only: bool = False  # only in projects whose rubric has acceptance gates


def _fixed(sql: str) -> Callable[[Gates], tuple[str, dict]]:
    return lambda gates: (sql, {})


def _json(column: str) -> Field:
    return Field(column, (column,), lambda row, ctx: row[column], _fixed(f"i.{column}::text"))


def _text(column: str) -> Field:
    return Field(column, (column,), lambda row, ctx: row[column], _fixed(f"to_json(i.{column})::text"))


def _blank_as_null(column: str) -> Field:
    return Field(
        column,
        (column,),
        lambda row, ctx: row[column] or None,
        _fixed(f"COALESCE(to_json(NULLIF(i.{column}, ''))::text, 'null')"),
    )


def _instant(column: str) -> Field:
    # Written exactly as Python's isoformat() of a UTC datetime (microseconds only when not 0), so
    # both paths give the same bytes; to_json() would drop a fraction's trailing zeros.
    utc = f"(i.{column} AT TIME ZONE 'UTC')"
    sql = (
        f"CASE WHEN i.{column} IS NULL THEN 'null' ELSE '\"' || to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN extract(microseconds FROM i.{column})::bigint %% 1000000 <> 0 THEN to_char({utc}, '.US') "
        "ELSE '' END || '+00:00\"' END"
    )
    return Field(column, (column,), lambda row, ctx: row[column].isoformat() if row[column] else None, _fixed(sql))


FIELDS: tuple[Field, ...] = (
    Field(
        "acceptance",
        ("status", "consensus"),
        lambda row, ctx: acceptance_of(gates=ctx.gates, status=row["status"], consensus=row["consensus"]),
        lambda gates: acceptance_sql(gates=gates),
        gated_only=True,
    ),
    _text("external_id"),
    _json("data"),
    _json("metadata"),
    _text("status"),
    _blank_as_null("approved_by"),
    _instant("decided_at"),
    # The item's place in the project's audit sample (docs/triage.md), null when not audited: the
    # audited items are a uniform random sample, so a consumer can re-estimate from them.
    Field(
        "audit_rank",
        ("audit_rank",),
        lambda row, ctx: row["audit_rank"],
        _fixed("COALESCE(i.audit_rank::text, 'null')"),
    ),
    _json("consensus"),
    _json("disagreement"),
    Field(
        "gold",
        (),
        lambda row, ctx: ctx.golds.get(row["id"]),
        _fixed("""CASE WHEN g.id IS NULL THEN 'null'
            ELSE '{"rationales":' || g.rationales::text || ',"values":' || g.values::text || '}' END"""),
    ),
    Field("rubric", (), lambda row, ctx: ctx.rubric, _fixed("%(rubric)s::text")),
    Field(
        "ratings",
        (),
        lambda row, ctx: (ctx.ratings or {}).get(row["id"], []),
        _fixed("COALESCE(rt.text, '[]')"),
        with_ratings_only=True,
    ),
)


def fields_for(*, with_ratings: bool, gated: bool) -> tuple[Field, ...]:
    """The fields of a record: ``ratings`` only when asked for, ``acceptance`` only when the
    project's rubric has acceptance gates (a plain project's records do not have the key)."""
    return tuple(f for f in FIELDS if (with_ratings or not f.with_ratings_only) and (gated or not f.gated_only))


def item_columns() -> tuple[str, ...]:
    """The item columns the fields read, the primary key first."""
    columns = ["id"]
    for field in FIELDS:
        columns += [c for c in field.columns if c not in columns]
    return tuple(columns)
