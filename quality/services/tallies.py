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
from annotation.models import Item, Project, Rater, RaterKind, Rating
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


def _headers_bump(project_id: int, rubric_version_id: int, rows: list[tuple[int, int, int, int]]) -> dict:
    """Upsert tally headers: ``rows`` of (criterion id, subset, ratings delta, writes delta).
    Returns ``{(criterion_id, subset): (tally_id, ratings now)}``. Holds the rows locked to commit."""
    rows = sorted(rows)
    table = _quote(AgreementTally._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list = []
    for criterion_id, subset, ratings, writes in rows:
        params += [project_id, criterion_id, rubric_version_id, subset, ratings, writes]
    sql = (
        f"INSERT INTO {table} (project_id, criterion_id, rubric_version_id, subset, ratings, writes) "
        f"VALUES {values} ON CONFLICT (project_id, criterion_id, subset) DO UPDATE SET "
        f"ratings = {table}.ratings + EXCLUDED.ratings, writes = {table}.writes + EXCLUDED.writes "
        f"RETURNING id, criterion_id, subset, ratings"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(criterion_id, subset): (tally_id, n) for tally_id, criterion_id, subset, n in cursor.fetchall()}


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


Values = dict[int, dict[int, dict]]
"""``{item_id: {rater_id: values}}``"""


def _item_ratings(item_ids: list[int], rubric_version_id: int) -> tuple[Values, Values, set[int]]:
    """The items' ratings as they are now: the humans', the judges', and the ids of the human
    raters seen. Read after the items are locked: no one else can change them now."""
    humans: Values = defaultdict(dict)
    judges: Values = defaultdict(dict)
    human_ids: set[int] = set()
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start : start + _CHUNK]
        rows = Rating.objects.filter(item_id__in=chunk, rubric_version_id=rubric_version_id).values_list(
            "item_id", "rater_id", "rater__kind", "values"
        )
        for item_id, rater_id, kind, values in rows:
            if kind == RaterKind.HUMAN:
                humans[item_id][rater_id] = values
                human_ids.add(rater_id)
            else:
                judges[item_id][rater_id] = values
    return humans, judges, human_ids


def _judge_subsets(project_id: int, rubric_version_id: int, also: set[int]) -> tuple[set[int], dict[int, set[int]]]:
    """The judges with a tally in the project, and for those and ``also`` the items each was shown
    (its ratings there are left out, as in the reports)."""
    existing = set(
        AgreementTally.objects.filter(project_id=project_id, rubric_version_id=rubric_version_id)
        .exclude(subset=AgreementTally.HUMANS)
        .values_list("subset", flat=True)
    )
    shown = Rater.objects.filter(pk__in=existing | also).values_list("pk", "shown_item_ids")
    return existing, {pk: set(items or []) for pk, items in shown}


def _subset_values(subset: int, item_id: int, humans: Values, judges: Values, shown: dict[int, set[int]]) -> list:
    values = list(humans.get(item_id, {}).values())
    if subset != AgreementTally.HUMANS and item_id not in shown[subset]:
        judged = judges.get(item_id, {}).get(subset)
        if judged is not None:
            values.append(judged)
    return values


def _codes(criterion: Criterion, ratings: Iterable[dict]) -> list[float]:
    codes = (value_code(criterion.scale, (values or {}).get(criterion.key)) for values in ratings)
    return [c for c in codes if c is not None]


def tallies_record(*, rubric_version_id: int, changes: Sequence[Change]) -> None:
    """Count ratings just written or changed (``changes``) into their projects' live tallies.

    Call inside the writer's transaction, after the write. Subsets: the humans (``subset`` 0),
    and per judge the humans with that judge (its tally begins, as a copy of the humans', with its
    first verdict). Every change counts as a write on the humans' headers, which every writer of
    the project therefore locks first.
    """
    criteria = _criteria(rubric_version_id)
    if not criteria or not changes:
        return
    item_ids = sorted({item_id for item_id, _, _ in changes})
    projects = _lock_items(item_ids)
    humans_now, judges_now, human_ids = _item_ratings(item_ids, rubric_version_id)
    humans_was = {item_id: dict(by_rater) for item_id, by_rater in humans_now.items()}
    judges_was = {item_id: dict(by_rater) for item_id, by_rater in judges_now.items()}
    by_project: dict[int, list[Change]] = defaultdict(list)
    for item_id, rater_id, old in changes:
        by_project[projects[item_id]].append((item_id, rater_id, old))
        was = humans_was if rater_id in human_ids else judges_was
        if old is None:
            was.setdefault(item_id, {}).pop(rater_id, None)
        else:
            was.setdefault(item_id, {})[rater_id] = old
    rows: list[tuple[int, int, float, float, int]] = []
    for project_id, mine in sorted(by_project.items()):
        rows += _project_record(
            project_id, rubric_version_id, criteria, mine, human_ids, (humans_now, judges_now), (humans_was, judges_was)
        )
    _cells_add(rows)


def _project_record(
    project_id: int,
    rubric_version_id: int,
    criteria: list[Criterion],
    mine: list[Change],
    human_ids: set[int],
    now: tuple[Values, Values],
    was: tuple[Values, Values],
) -> list[tuple[int, int, float, float, int]]:
    """Headers of one project bumped (humans first), judge subsets begun; returns its cell deltas."""
    human_items = {item_id for item_id, rater_id, _ in mine if rater_id in human_ids}
    judge_items: dict[int, set[int]] = defaultdict(set)
    for item_id, rater_id, _ in mine:
        if rater_id not in human_ids:
            judge_items[rater_id].add(item_id)

    def deltas(subset: int, items: set[int], shown: dict[int, set[int]]):
        cells: dict[int, dict[Cell, int]] = defaultdict(dict)
        counts: dict[int, int] = defaultdict(int)
        for item_id in items:
            after = _subset_values(subset, item_id, now[0], now[1], shown)
            before = _subset_values(subset, item_id, was[0], was[1], shown)
            for criterion in criteria:
                old_codes, new_codes = _codes(criterion, before), _codes(criterion, after)
                cells_merge(cells[criterion.pk], cells_delta(old_codes, new_codes))
                counts[criterion.pk] += len(new_codes) - len(old_codes)
        return cells, counts

    cells, counts = deltas(AgreementTally.HUMANS, human_items, {})
    heads = [(c.pk, AgreementTally.HUMANS, counts[c.pk], len(mine)) for c in criteria]
    humans = _headers_bump(project_id, rubric_version_id, heads)  # every writer of the project waits here
    rows = [(humans[(cid, 0)][0], m, c, k, d) for cid, delta in cells.items() for (m, c, k), d in delta.items()]
    # Read now, under the humans' locks: no judge subset can begin, or miss a human rating, meanwhile.
    existing, shown = _judge_subsets(project_id, rubric_version_id, set(judge_items))
    heads, judge_cells = [], {}
    for judge in sorted(shown):
        items = human_items | judge_items.get(judge, set())
        judge_cells[judge], judge_counts = deltas(judge, items, shown)
        for criterion in criteria:
            # A new judge subset begins as the humans' committed tally (theirs minus this writer's).
            base = 0 if judge in existing else humans[(criterion.pk, 0)][1] - counts[criterion.pk]
            heads.append((criterion.pk, judge, base + judge_counts[criterion.pk], 0))
    judges = _headers_bump(project_id, rubric_version_id, heads) if heads else {}
    for judge in sorted(set(shown) - existing):
        for criterion in criteria:
            _cells_copy(source=humans[(criterion.pk, 0)][0], target=judges[(criterion.pk, judge)][0])
    for judge, per_criterion in judge_cells.items():
        for cid, delta in per_criterion.items():
            rows += [(judges[(cid, judge)][0], m, c, k, d) for (m, c, k), d in delta.items()]
    return rows


def _cells_copy(*, source: int, target: int) -> None:
    table = _quote(AgreementCell._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tally_id, m, c, k, count) SELECT %s, m, c, k, count FROM {table} "
            f"WHERE tally_id = %s AND count <> 0",
            [target, source],
        )


@transaction.atomic
def tallies_rebuild(*, project: Project) -> int:
    """Recount the project's live tallies from its ratings (after a bulk load, rows deleted outside
    the services, or a judge's few-shot items changed). Locks the humans' headers first, like every
    writer, so a rating written meanwhile is counted exactly once. Returns the cells written."""
    version_id = project.rubric_version_id
    criteria = _criteria(version_id)
    if not criteria:
        return 0
    humans = _headers_bump(project.pk, version_id, [(c.pk, AgreementTally.HUMANS, 0, 0) for c in criteria])
    AgreementTally.objects.filter(project=project, rubric_version_id=version_id).exclude(
        subset=AgreementTally.HUMANS
    ).delete()
    AgreementCell.objects.filter(tally_id__in=[tally_id for tally_id, _ in humans.values()]).delete()
    per_criterion, raters = project_ratings(project=project)
    human_ids = np.asarray([pk for pk, r in raters.items() if r.kind == RaterKind.HUMAN], dtype=np.int64)
    judges = {pk: r for pk, r in raters.items() if r.kind != RaterKind.HUMAN}
    written = 0
    for cr in per_criterion:
        is_human = np.isin(cr.raters, human_ids)
        masks = {AgreementTally.HUMANS: is_human}
        for pk, judge in judges.items():
            shown = np.asarray(judge.shown_item_ids or [], dtype=np.int64)
            masks[pk] = is_human | ((cr.raters == pk) & ~np.isin(cr.units, shown))
        heads = [(cr.criterion.pk, subset, int(mask.sum()), 0) for subset, mask in masks.items() if subset]
        tallies = {**humans, **(_headers_bump(project.pk, version_id, heads) if heads else {})}
        AgreementTally.objects.filter(pk=humans[(cr.criterion.pk, 0)][0]).update(ratings=int(is_human.sum()))
        for subset, mask in masks.items():
            built = cells_build(cr.units[mask], cr.values[mask])
            tally_id = tallies[(cr.criterion.pk, subset)][0]
            AgreementCell.objects.bulk_create(
                [
                    AgreementCell(tally_id=tally_id, m=int(m), c=float(c), k=float(k), count=int(n))
                    for m, c, k, n in zip(built.m, built.c, built.k, built.count, strict=True)
                ],
                batch_size=_CHUNK,
            )
            written += int(built.count.size)
    return written
