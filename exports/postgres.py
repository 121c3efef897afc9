"""JSON Lines built by PostgreSQL: each chunk of items comes back from one query as the finished
text of its lines, which this process only forwards.

Why: building a million records in Python (decode four JSON columns, encode a dict) costs more
than the 20 µs per row a 50,000 rows/s export allows. Here the database does the encoding and
Python handles one string per chunk. Chunks are keyset pages on the primary key
(``id > last ORDER BY id LIMIT n``), so no cursor or transaction stays open while a slow client
drains the response, and memory is bounded by one chunk.

The text is deterministic: the record's own keys are written in a fixed (alphabetical) order
with compact separators, and nested values (data, metadata, consensus, disagreement, gold,
rating values) are PostgreSQL's canonical ``jsonb`` text, which depends only on the stored
value (keys ordered by length then bytes, ``", "`` and ``": "`` separators). The same stored
data therefore gives the same bytes; the layout of nested objects differs from the Python
encoder used on SQLite, but parses to the same records.
"""

from collections.abc import Iterator

from django.db import connection

from annotation.models import Gold, Item, Project, Rater, RaterKind, Rating
from exports.fields import fields_for, item_columns
from exports.records import pseudonym_key, rater_pseudonym, rubric_of
from exports.spec import ExportSpec
from rubrics.gates import gates_of
from rubrics.models import RubricVersion

CHUNK_SIZE = 5000


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _ratings_sql(spec: ExportSpec) -> str:
    """The ``ratings`` CTE: one row per item of the page with the JSON array of its ratings."""
    rating, rater, version = _q(Rating._meta.db_table), _q(Rater._meta.db_table), _q(RubricVersion._meta.db_table)
    name = """ || ',"rater_name":' || to_json(ra.name)::text""" if spec.reveal_raters else ""
    kinds = []
    if spec.human_ratings:
        kinds.append(RaterKind.HUMAN.value)
    if spec.judge_ratings:
        kinds.append(RaterKind.JUDGE.value)
    kind_list = ", ".join(f"'{kind}'" for kind in kinds)  # fixed strings, never user input
    return f"""
        SELECT r.item_id, '[' || string_agg(
            '{{"judge_version":' || CASE WHEN ra.kind = 'judge' THEN COALESCE(ra.version::text, 'null') ELSE 'null' END
            || ',"kind":' || to_json(ra.kind)::text
            || ',"rater":' || to_json(p.pseudonym)::text{name}
            || ',"rationales":' || r.rationales::text
            || ',"rubric_version":' || rv.number::text
            || ',"values":' || r.values::text || '}}',
            ',' ORDER BY r.id) || ']' AS text
        FROM {rating} AS r
        JOIN page ON page.id = r.item_id
        JOIN {rater} AS ra ON ra.id = r.rater_id
        JOIN {version} AS rv ON rv.id = r.rubric_version_id
        JOIN unnest(%(rater_ids)s::bigint[], %(pseudonyms)s::text[]) AS p(rater_id, pseudonym)
            ON p.rater_id = r.rater_id
        WHERE ra.kind IN ({kind_list})
        GROUP BY r.item_id
    """


def _pseudonyms(project: Project, spec: ExportSpec) -> tuple[list[int], list[str]]:
    """Pseudonyms of everyone who rated an item of the project, for the query to join on."""
    if not spec.with_ratings:
        return [], []
    key = pseudonym_key(project=project)
    rater_ids = sorted(
        Rating.objects.filter(item__project=project).values_list("rater_id", flat=True).order_by().distinct()
    )
    return rater_ids, [rater_pseudonym(key=key, project_id=project.pk, rater_id=r) for r in rater_ids]


def jsonl_chunk_sql(*, project: Project, spec: ExportSpec) -> tuple[str, dict]:
    """One query that returns (last id, record count, text of the lines) for the next chunk of
    items after ``%(after)s``; the caller sets ``after`` and ``limit``."""
    item, gold = _q(Item._meta.db_table), _q(Gold._meta.db_table)
    rubric = rubric_of(project)
    where = ["i.project_id = %(project)s", "i.id > %(after)s"]
    params: dict = {"project": project.pk, "rubric": f'{{"id":{rubric["id"]},"version":{rubric["version"]}}}'}
    if len(spec.statuses) == 1:
        # Equality (not ANY) lets the planner walk the (project, status, id) index in id order.
        where.append("i.status = %(status)s")
        params["status"] = spec.statuses[0]
    elif spec.statuses:
        where.append("i.status = ANY(%(statuses)s)")
        params["statuses"] = list(spec.statuses)
    if spec.since is not None:
        where.append("i.decided_at >= %(since)s")
        params["since"] = spec.since
    gates = gates_of(project.rubric_version)
    # The record's keys in a fixed (alphabetical) order, each with its JSON text (exports/fields.py).
    parts = []
    for field in sorted(fields_for(with_ratings=spec.with_ratings, gated=bool(gates)), key=lambda f: f.name):
        sql, field_params = field.sql(gates)
        params.update(field_params)
        parts.append(f"""'{"," if parts else "{"}"{field.name}":' || {sql}""")
    record = "\n            || ".join(parts) + " || '}'"
    ratings_cte = ratings_join = ""
    if spec.with_ratings:
        ratings_cte = f", ratings AS ({_ratings_sql(spec)})"
        ratings_join = "LEFT JOIN ratings AS rt ON rt.item_id = i.id"
        params["rater_ids"], params["pseudonyms"] = _pseudonyms(project, spec)
    columns = ", ".join(f"i.{c}" for c in item_columns())
    # ``page`` is the chunk's items (the keyset step); gold and ratings are joined to it as sets.
    sql = f"""
        WITH page AS (
            SELECT {columns} FROM {item} AS i WHERE {" AND ".join(where)} ORDER BY i.id LIMIT %(limit)s
        ){ratings_cte}
        SELECT max(i.id), count(*), string_agg({record}, E'\\n' ORDER BY i.id)
        FROM page AS i
        LEFT JOIN {gold} AS g ON g.item_id = i.id
        {ratings_join}
    """
    return sql, params


def jsonl_stream_postgres(*, project: Project, spec: ExportSpec, progress=None) -> Iterator[bytes]:
    """Yield the JSON Lines export, one chunk of whole lines at a time."""
    sql, params = jsonl_chunk_sql(project=project, spec=spec)
    params["after"], params["limit"] = 0, CHUNK_SIZE
    # decided_at is written in the session's time zone, which Django sets to UTC (USE_TZ).
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, params)
            last_id, count, text = cursor.fetchone()
            if not count:
                return
            if progress is not None:
                progress(count)
            yield (text + "\n").encode()
            if count < CHUNK_SIZE:
                return
            params["after"] = last_id
