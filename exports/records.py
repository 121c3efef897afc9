"""Reading export records: items in id order, a chunk at a time, with their gold and ratings.

Constant memory whatever the project's size: items are read by keyset pagination on the
primary key (``id > last ORDER BY id LIMIT n``), so no cursor or transaction stays open while a
slow client drains the response, and each chunk's gold and ratings come from one query each.
Rows are read with ``values_list`` (no model instances) and turned into plain dicts.
"""

import hashlib
import hmac
from collections.abc import Iterator

from django.db import IntegrityError, connection, transaction

from annotation.models import Gold, Item, Project, RaterKind, Rating
from exports.columns import Layout
from exports.fields import RecordContext, fields_for, item_columns
from exports.models import ProjectPseudonymKey
from exports.spec import ExportSpec
from rubrics.gates import gates_of

CHUNK_SIZE = 2000


def export_items(*, project: Project, spec: ExportSpec):
    """The items an export covers (unordered queryset)."""
    items = Item.objects.filter(project=project)
    if spec.statuses:
        items = items.filter(status__in=spec.statuses)
    if spec.since is not None:
        items = items.filter(decided_at__gte=spec.since)
    return items


def export_count(*, project: Project, spec: ExportSpec) -> int:
    return export_items(project=project, spec=spec).count()


def export_layout(*, project: Project, spec: ExportSpec) -> Layout:
    """What the tabular columns of this export are: acceptance where the rubric has gates, the
    criteria that can have a consensus (rubric order) and, for CSV, the data keys."""
    version = project.rubric_version
    return Layout(
        with_ratings=spec.with_ratings,
        gated=bool(gates_of(version)),
        criteria=tuple(c.key for c in version.criteria.all() if c.agreement_level is not None),
        data_keys=_data_keys(project=project, spec=spec) if spec.format == "csv" else (),
    )


def _data_keys(*, project: Project, spec: ExportSpec) -> tuple[str, ...]:
    """Every top-level key of the exported items' data, sorted: one query, in the database (a
    scan of the items' data, as the export itself reads it, but without sending it here)."""
    ids_sql, params = export_items(project=project, spec=spec).values("id").query.sql_with_params()
    table = connection.ops.quote_name(Item._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT k FROM {table} AS i, jsonb_object_keys(CASE WHEN jsonb_typeof(i.data) = 'object' "
            f"THEN i.data ELSE '{{}}'::jsonb END) AS k WHERE i.id IN ({ids_sql})"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table} AS i, json_each(i.data) AS j "
            f"WHERE json_type(i.data) = 'object' AND i.id IN ({ids_sql})"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(sorted(row[0] for row in cursor.fetchall()))


def rubric_of(project: Project) -> dict:
    version = project.rubric_version
    return {"id": version.rubric_id, "version": version.number}


def pseudonym_key(*, project: Project) -> bytes:
    """The project's pseudonym key, created on first use (two first exports racing both end up
    with the row the winner inserted)."""
    try:
        with transaction.atomic():
            row, _ = ProjectPseudonymKey.objects.get_or_create(project=project)
    except IntegrityError:
        row = ProjectPseudonymKey.objects.get(project=project)
    return row.key.encode()


def rater_pseudonym(*, key: bytes, project_id: int, rater_id: int) -> str:
    """``r-`` and the first 20 hex digits of HMAC-SHA256(project key, "project:rater"): stable for
    a rater within a project, unlinkable across projects, and derived from ids only, so it can
    contain nothing of a username or e-mail address."""
    digest = hmac.new(key, f"{project_id}:{rater_id}".encode(), hashlib.sha256).hexdigest()
    return f"r-{digest[:20]}"


def export_chunks(*, project: Project, spec: ExportSpec, chunk_size: int | None = None) -> Iterator[list[dict]]:
    """Yield the export's records, in item id order, as lists of at most ``chunk_size`` dicts."""
    chunk_size = chunk_size or CHUNK_SIZE
    items = export_items(project=project, spec=spec).order_by("id")
    rubric = rubric_of(project)
    gates = gates_of(project.rubric_version)
    key = pseudonym_key(project=project) if spec.with_ratings else b""
    pseudonyms: dict[int, str] = {}
    fields = fields_for(with_ratings=spec.with_ratings, gated=bool(gates))
    last_id = 0
    while True:
        rows = list(items.filter(id__gt=last_id).values(*item_columns())[:chunk_size])
        if not rows:
            return
        ids = [row["id"] for row in rows]
        last_id = ids[-1]
        context = RecordContext(
            gates=gates,
            rubric=rubric,
            golds=_golds(ids),
            ratings=_ratings(ids, spec, project.pk, key, pseudonyms) if spec.with_ratings else None,
        )
        yield [{field.name: field.python(row, context) for field in fields} for row in rows]
        if len(rows) < chunk_size:
            return


def _golds(ids: list[int]) -> dict[int, dict]:
    rows = Gold.objects.filter(item_id__in=ids).values_list("item_id", "values", "rationales")
    return {item_id: {"values": values, "rationales": rationales} for item_id, values, rationales in rows}


def _ratings(ids: list[int], spec: ExportSpec, project_id: int, key: bytes, pseudonyms: dict) -> dict[int, list]:
    ratings = Rating.objects.filter(item_id__in=ids)
    if not spec.human_ratings:
        ratings = ratings.filter(rater__kind=RaterKind.JUDGE)
    elif not spec.judge_ratings:
        ratings = ratings.filter(rater__kind=RaterKind.HUMAN)
    rows = ratings.order_by("item_id", "id").values_list(
        "item_id",
        "rater_id",
        "rater__kind",
        "rater__name",
        "rater__version",
        "rubric_version__number",
        "values",
        "rationales",
    )
    out: dict[int, list] = {}
    for item_id, rater_id, kind, name, judge_version, rubric_number, values, rationales in rows:
        pseudonym = pseudonyms.get(rater_id)
        if pseudonym is None:
            pseudonym = pseudonyms[rater_id] = rater_pseudonym(key=key, project_id=project_id, rater_id=rater_id)
        rating = {
            "rater": pseudonym,
            "kind": kind,
            "values": values,
            "rationales": rationales,
            "rubric_version": rubric_number,
            "judge_version": judge_version if kind == RaterKind.JUDGE else None,
        }
        if spec.reveal_raters:
            rating["rater_name"] = name
        out.setdefault(item_id, []).append(rating)
    return out
