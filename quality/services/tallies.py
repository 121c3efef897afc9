"""Live agreement tallies: alpha's coincidence cells (agreement/live.py) kept current per rating.

Every rating written or changed (annotation's ``ratings_written`` signal, sent inside the writer's
transaction) reaches :func:`tallies_record` in that same transaction, which adds the changed items'
contributions to their project's tallies. The point estimate of alpha is then read from a few rows
(quality/selectors/live.py) instead of recomputed from every rating.

Concurrency (PostgreSQL, READ COMMITTED): a delta is "this item's human ratings as they are now,
minus the same without my own changes", so it is exact only if no other transaction changes the
item's ratings between that read and commit. Hence, in this order and every writer alike:

1. the changed items' rows are locked (by id; a submission or correction holds its item already);
2. the items' ratings are read (a fresh snapshot: every earlier writer of these items committed,
   and no later one can change them before this transaction ends);
3. the project's tally headers are upserted (``ratings``, ``writes`` + deltas), in criterion
   order, which locks them to commit: a rebuild (which locks them before it reads the ratings)
   thus either counted this transaction's ratings or waits for them to be added;
4. the cells are upserted with ``count = count + delta`` in (tally, m, c, k) order.

Locks are always taken items → headers → cells, each in a fixed order, so writers cannot deadlock
one another. SQLite has one writer at a time, which gives the same result trivially.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from django.db import connection, transaction

from agreement.live import Cell, cells_build, cells_delta, cells_merge
from annotation.models import Item, Project, RaterKind, Rating
from quality.models import AgreementCell, AgreementTally
from quality.selectors.agreement import project_ratings
from rubrics.models import Criterion
from rubrics.scales import value_code

Change = tuple[int, int, dict | None]
"""``(item_id, rater_id, values before)``: values before None for a new rating."""

_CHUNK = 5_000
_CELL_ROWS = 500


def _criteria(rubric_version_id: int) -> list[Criterion]:
    return [c for c in Criterion.objects.filter(version_id=rubric_version_id) if c.agreement_level is not None]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _lock_items(item_ids: list[int]) -> dict[int, int]:
    """Lock the items (by id) and return ``{item_id: project_id}``."""
    out: dict[int, int] = {}
    locking = connection.vendor == "postgresql"
    for start in range(0, len(item_ids), _CHUNK):
        rows = Item.objects.filter(pk__in=item_ids[start : start + _CHUNK]).order_by("pk")
        if locking:
            rows = rows.select_for_update()
        out.update(rows.values_list("pk", "project_id"))
    return out


def _headers_bump(project_id: int, rubric_version_id: int, rows: list[tuple[int, int, int]]) -> dict[int, int]:
    """Upsert the project's tally headers: ``rows`` of (criterion id, ratings delta, writes delta).
    Returns ``{criterion_id: tally_id}``. Holds the rows locked to commit."""
    rows = sorted(rows)
    table = _quote(AgreementTally._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list = []
    for criterion_id, ratings, writes in rows:
        params += [project_id, criterion_id, rubric_version_id, AgreementTally.HUMANS, ratings, writes]
    sql = (
        f"INSERT INTO {table} (project_id, criterion_id, rubric_version_id, subset, ratings, writes) "
        f"VALUES {values} ON CONFLICT (project_id, criterion_id, subset) DO UPDATE SET "
        f"ratings = {table}.ratings + EXCLUDED.ratings, writes = {table}.writes + EXCLUDED.writes "
        f"RETURNING id, criterion_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {criterion_id: tally_id for tally_id, criterion_id in cursor.fetchall()}


def _cells_add(rows: list[tuple[int, int, float, float, int]]) -> None:
    """Upsert cells ``(tally_id, m, c, k, delta)`` as ``count = count + delta``, in key order."""
    rows = sorted(r for r in rows if r[4])
    table = _quote(AgreementCell._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CELL_ROWS):
            chunk = rows[start : start + _CELL_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (tally_id, m, c, k, count) VALUES {values} "
                f"ON CONFLICT (tally_id, m, c, k) DO UPDATE SET count = {table}.count + EXCLUDED.count",
                [x for row in chunk for x in row],
            )


def _item_ratings(item_ids: list[int], rubric_version_id: int) -> tuple[dict[int, dict[int, dict]], set[int]]:
    """The human ratings of the items as they are now (``{item: {rater: values}}``), and the ids of
    every human rater seen. Read after the items are locked: no one else can change them now."""
    out: dict[int, dict[int, dict]] = defaultdict(dict)
    humans: set[int] = set()
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start : start + _CHUNK]
        rows = Rating.objects.filter(item_id__in=chunk, rubric_version_id=rubric_version_id).values_list(
            "item_id", "rater_id", "rater__kind", "values"
        )
        for item_id, rater_id, kind, values in rows:
            if kind == RaterKind.HUMAN:
                out[item_id][rater_id] = values
                humans.add(rater_id)
    return out, humans


def _codes(criterion: Criterion, ratings: Iterable[dict]) -> list[float]:
    codes = (value_code(criterion.scale, (values or {}).get(criterion.key)) for values in ratings)
    return [c for c in codes if c is not None]


def tallies_record(*, rubric_version_id: int, changes: Sequence[Change]) -> None:
    """Count ratings just written or changed (``changes``) into their projects' live tallies.

    Call inside the writer's transaction, after the write. Judges' ratings count as writes (a
    stored report must notice them) but the human tallies' cells are the humans' only. Five
    statements whatever the batch: criteria, item locks, the items' ratings, headers, cells.
    """
    criteria = _criteria(rubric_version_id)
    if not criteria or not changes:
        return
    item_ids = sorted({item_id for item_id, _, _ in changes})
    projects = _lock_items(item_ids)
    after, humans = _item_ratings(item_ids, rubric_version_id)
    before = {item_id: dict(by_rater) for item_id, by_rater in after.items()}
    writes: dict[int, int] = defaultdict(int)
    for item_id, rater_id, old in changes:
        writes[projects[item_id]] += 1
        if rater_id not in humans:
            continue
        if old is None:
            before.setdefault(item_id, {}).pop(rater_id, None)
        else:
            before.setdefault(item_id, {})[rater_id] = old
    cells: dict[tuple[int, int], dict[Cell, int]] = defaultdict(dict)
    ratings: dict[tuple[int, int], int] = defaultdict(int)
    for item_id in {item_id for item_id, rater_id, _ in changes if rater_id in humans}:
        now, was = after.get(item_id, {}), before.get(item_id, {})
        for criterion in criteria:
            old_codes, new_codes = _codes(criterion, was.values()), _codes(criterion, now.values())
            key = (projects[item_id], criterion.pk)
            cells_merge(cells[key], cells_delta(old_codes, new_codes))
            ratings[key] += len(new_codes) - len(old_codes)
    rows = []
    for project_id, n in sorted(writes.items()):
        headers = [(c.pk, ratings.get((project_id, c.pk), 0), n) for c in criteria]
        tally_ids = _headers_bump(project_id, rubric_version_id, headers)
        for criterion_id, tally_id in tally_ids.items():
            rows += [(tally_id, m, c, k, d) for (m, c, k), d in cells.get((project_id, criterion_id), {}).items()]
    _cells_add(rows)


@transaction.atomic
def tallies_rebuild(*, project: Project) -> int:
    """Recount the project's live tallies from its ratings (after a bulk load, or rows deleted
    outside the services). Locks the headers first, like every writer, so a rating written
    meanwhile is counted exactly once. Returns the number of cells written."""
    criteria = _criteria(project.rubric_version_id)
    if not criteria:
        return 0
    tally_ids = _headers_bump(project.pk, project.rubric_version_id, [(c.pk, 0, 0) for c in criteria])
    AgreementCell.objects.filter(tally_id__in=tally_ids.values()).delete()
    per_criterion, raters = project_ratings(project=project)
    human_ids = np.asarray([pk for pk, r in raters.items() if r.kind == RaterKind.HUMAN], dtype=np.int64)
    written = 0
    for cr in per_criterion:
        humans = np.isin(cr.raters, human_ids)
        built = cells_build(cr.units[humans], cr.values[humans])
        tally_id = tally_ids[cr.criterion.pk]
        AgreementCell.objects.bulk_create(
            [
                AgreementCell(tally_id=tally_id, m=int(m), c=float(c), k=float(k), count=int(n))
                for m, c, k, n in zip(built.m, built.c, built.k, built.count, strict=True)
            ],
            batch_size=_CHUNK,
        )
        AgreementTally.objects.filter(pk=tally_id).update(ratings=int(humans.sum()))
        written += int(built.count.size)
    return written
