"""The judge's prediction per item for each quantity of the estimate (quality/selectors/estimate.py),
computed by the database: on 100,000 items, decoding every verdict's JSON in Python took seconds.

A prediction is soft where the verdict has a distribution (Rating.distribution, written by
judges/uncertainty.py): P(yes), the expected value, P(at or above the level); else the verdict's
value coded as a number (rubrics.scales.value_code_sql, the SQL twin of value_code); NULL when
the item has no verdict (the estimate gives it a fixed value). PostgreSQL and SQLite each get
their own JSON functions; tests/quality/test_triage_estimate.py runs on both.
"""

from collections.abc import Sequence

import numpy as np
from django.db import connection

from annotation.models import Item, Rating
from rubrics.scales import value_code_sql

SqlPart = tuple[str, list]
_BINARY = {"kind": "binary"}


def _number(vendor: str, sql: str) -> str:
    return f"CAST({sql} AS double precision)" if vendor == "postgresql" else f"CAST({sql} AS REAL)"


def soft_yes(key: str, vendor: str) -> SqlPart:
    """P(yes) from the distribution of a yes/no criterion."""
    if vendor == "postgresql":
        return _number(vendor, "r.distribution -> %s ->> 'true'"), [key]
    return "json_extract(r.distribution, %s)", [f'$."{key}"."true"']


def soft_sum(key: str, vendor: str, *, at_least: float | None = None) -> SqlPart:
    """The expected value (or P(value >= at_least)) of a numeric criterion's distribution."""
    point, p = _number(vendor, "d.key"), _number(vendor, "d.value")
    weight, params = (
        (f"{p} * {point}", []) if at_least is None else (f"CASE WHEN {point} >= %s THEN {p} ELSE 0 END", [at_least])
    )
    if vendor == "postgresql":
        return f"(SELECT SUM({weight}) FROM jsonb_each_text(r.distribution -> %s) AS d)", [*params, key]
    return f"(SELECT SUM({weight}) FROM json_each(r.distribution, %s) AS d)", [*params, f'$."{key}"']


def hard(scale: dict, key: str, vendor: str) -> SqlPart:
    """The verdict's value as a number (NULL when absent)."""
    return value_code_sql(scale, key, column='r."values"', vendor=vendor)  # quoted: VALUES is a keyword


def hard_at_least(scale: dict, key: str, level: float, vendor: str) -> SqlPart:
    code, params = hard(scale, key, vendor)
    return f"(CASE WHEN {code} >= %s THEN 1.0 WHEN {code} IS NOT NULL THEN 0.0 END)", [*params, level, *params]


def hard_all_true(keys: Sequence[str], vendor: str) -> SqlPart:
    """1 when every one of the yes/no criteria ``keys`` is yes, 0 when one is no, NULL when one is absent."""
    codes = [hard(_BINARY, k, vendor) for k in keys]
    missing = " OR ".join(f"{sql} IS NULL" for sql, _ in codes)
    passing = " AND ".join(f"{sql} = 1.0" for sql, _ in codes)
    params = [p for _, ps in codes for p in ps]
    return f"(CASE WHEN {missing} THEN NULL WHEN {passing} THEN 1.0 ELSE 0.0 END)", [*params, *params]


def either(first: SqlPart, second: SqlPart) -> SqlPart:
    """``first`` where it is known, else ``second``."""
    return f"COALESCE({first[0]}, {second[0]})", [*first[1], *second[1]]


def predictions_read(
    *, project_id: int, rater_id: int, rubric_version_id: int, parts: Sequence[SqlPart]
) -> tuple[np.ndarray, np.ndarray]:
    """Every item id of the project (sorted) and a matrix with one column per part: the part's
    value on the item's verdict by ``rater_id``, NaN where there is none."""
    item, rating = Item._meta.db_table, Rating._meta.db_table
    columns = ", ".join(sql for sql, _ in parts) or "NULL"
    sql = (
        f"SELECT i.id, {columns} FROM {item} i LEFT JOIN {rating} r ON r.item_id = i.id "
        "AND r.rater_id = %s AND r.rubric_version_id = %s WHERE i.project_id = %s ORDER BY i.id"
    )
    params = [p for _, ps in parts for p in ps] + [rater_id, rubric_version_id, project_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty((0, len(parts)))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    values = np.array([r[1:] for r in rows], dtype=np.float64)  # None becomes NaN
    return ids, values.reshape(len(rows), -1)[:, : len(parts)]
