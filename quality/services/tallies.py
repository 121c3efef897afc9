"""Live agreement tallies: alpha's coincidence cells (agreement/live.py) kept current per rating.

Every rating written or changed (annotation's ``ratings_written`` signal, sent inside the writer's
transaction) reaches :func:`tallies_record` in that same transaction, which adds the changed items'
contributions to their project's tallies. The point estimate of alpha is then read from a few rows
(quality/selectors/live.py) instead of recomputed from every rating.

Subsets: the humans (``subset`` 0), and per judge the humans with that judge (``subset`` = its
rater id; its ratings on the items it was shown as examples left out). A judge's tally begins, as
a copy of the humans', with its first verdict.

Shards: each tally is split by item id into ``AgreementTally.SHARDS`` rows, each with its own
cells; an item's contribution always goes to the shard ``item_id % SHARDS`` and readers add the
shards up. Everything below happens per (project, shard), so ratings of items in different
shards never wait for each other. A judge's subset begins per shard, when it first writes there;
a reader takes the humans' shard for a shard the judge has not begun, which is exact because the
judge has no rating there.

Concurrency (PostgreSQL, READ COMMITTED): a delta is "this item's ratings as they are now, minus
the same without my own changes", so it is exact only if no other transaction changes the item's
ratings between that read and commit. Hence, in this order and every writer alike:

1. the changed items' rows are locked (by id; a submission or correction holds its item already),
   then their ratings are read: a later statement, so a fresh snapshot in which every earlier
   writer of these items has committed, and no later one can change them before we do;
2. the shard's humans' headers are upserted (``ratings``, ``writes`` + deltas), in criterion
   order, which locks them to commit: every writer of the shard (judges' too) and a rebuild
   take turns from here on. Only then are the shard's judge subsets listed, so none can begin
   (copying the humans' cells) while a human rating it would miss is uncommitted;
3. the humans' cells (``count = count + delta``, in (m, c, k) order), then the judges' headers
   and their cells (a new judge subset copies the humans' cells first).

Locks are always taken items → then per shard, in shard order: humans' headers → humans' cells →
judges' headers → judges' cells, each in a fixed order, so writers cannot deadlock one another (a
rebuild takes every shard's humans' headers first, in the same order). On PostgreSQL each step is
one round trip carrying several statements (:func:`_batch`): each statement still takes its own
snapshot once the one before it has finished, which is what the order above relies on. SQLite has one writer at a time.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from django.db import connection, transaction

from agreement.live import Cell, cells_build, cells_delta, cells_merge
from annotation.models import Item, Project, Rater, RaterKind, Rating
from config.round_trips import Statement, statements_run
from quality.models import AgreementCell, AgreementTally
from quality.selectors.agreement import project_ratings
from rubrics.models import Criterion
from rubrics.scales import AGREEMENT_LEVEL, value_code
from rubrics.selectors import criteria_cached

Change = tuple[int, int, dict | None]
"""``(item_id, rater_id, values before)``: values before None for a new rating."""

Values = dict[int, dict[int, dict]]
"""``{item_id: {rater_id: values}}``"""

_CHUNK = 2_000
_CELL_ROWS = 500
HUMANS = AgreementTally.HUMANS
SHARDS = AgreementTally.SHARDS


class Scored(NamedTuple):
    """A criterion with an agreement level: what a tally needs of it."""

    pk: int
    key: str
    scale: dict


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _batch(statements: list[Statement]) -> list[list[tuple]]:
    """Run ``statements`` in order and return each one's rows; one round trip on PostgreSQL, where
    each statement still runs (and takes its snapshot) after the one before it has finished."""
    return statements_run(statements)


def _in(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def _chunks(seq: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _read_statements(
    rubric_version_id: int, item_ids: list[int], judge_ids: list[int], *, criteria: bool
) -> list[Statement]:
    """Criteria (unless cached); item locks; the items' ratings (after the locks); the writing
    judges' examples."""
    item, rating, rater = _q(Item._meta.db_table), _q(Rating._meta.db_table), _q(Rater._meta.db_table)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    out: list[Statement] = []
    if criteria:
        out.append(
            (
                f"SELECT id, {_q('key')}, scale FROM {_q(Criterion._meta.db_table)} WHERE version_id = %s "
                f"ORDER BY position, id",
                [rubric_version_id],
            )
        )
    for chunk in _chunks(item_ids, _CHUNK):
        out.append((f"SELECT id, project_id FROM {item} WHERE id IN ({_in(chunk)}) ORDER BY id{lock}", list(chunk)))
    for chunk in _chunks(item_ids, _CHUNK):
        out.append(
            (
                f"SELECT r.item_id, r.rater_id, a.kind, r.{_q('values')} FROM {rating} r "
                f"JOIN {rater} a ON a.id = r.rater_id WHERE r.rubric_version_id = %s AND r.item_id IN ({_in(chunk)})",
                [rubric_version_id, *chunk],
            )
        )
    if judge_ids:
        out.append((f"SELECT id, shown_item_ids FROM {rater} WHERE id IN ({_in(judge_ids)})", list(judge_ids)))
    return out


Head = tuple[int, int, int, int, int]
"""A header's change: (shard, criterion id, subset, ratings delta, writes delta)."""


def _headers_sql(project_id: int, rubric_version_id: int, rows: list[Head]) -> Statement:
    """Upsert tally headers ``rows`` in key order (shard, criterion, subset); returns (id, shard,
    criterion_id, subset, ratings). Holds the rows locked to commit."""
    table = _q(AgreementTally._meta.db_table)
    params: list = []
    for shard, criterion_id, subset, ratings, writes in sorted(rows):
        params += [project_id, criterion_id, rubric_version_id, subset, shard, ratings, writes]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    return (
        f"INSERT INTO {table} (project_id, criterion_id, rubric_version_id, subset, shard, ratings, writes) "
        f"VALUES {values} ON CONFLICT (project_id, criterion_id, subset, shard) DO UPDATE SET "
        f"ratings = {table}.ratings + EXCLUDED.ratings, writes = {table}.writes + EXCLUDED.writes "
        f"RETURNING id, shard, criterion_id, subset, ratings",
        params,
    )


def _judges_sql(project_id: int, rubric_version_id: int, shard: int) -> Statement:
    """The judges with a tally in the shard (after its humans' headers are locked), and their examples."""
    table, rater = _q(AgreementTally._meta.db_table), _q(Rater._meta.db_table)
    return (
        f"SELECT DISTINCT t.subset, a.shown_item_ids FROM {table} t JOIN {rater} a ON a.id = t.subset "
        f"WHERE t.project_id = %s AND t.rubric_version_id = %s AND t.shard = %s AND t.subset <> 0",
        [project_id, rubric_version_id, shard],
    )


def _copy_sql(project_id: int, rubric_version_id: int, judge: int, shard: int) -> Statement:
    """A judge subset's new shard: the humans' cells of the shard as they stand (this writer's own
    human deltas included, its judge deltas come after)."""
    cell, table = _q(AgreementCell._meta.db_table), _q(AgreementTally._meta.db_table)
    return (
        f"INSERT INTO {cell} (tally_id, m, c, k, count) SELECT j.id, x.m, x.c, x.k, x.count FROM {cell} x "
        f"JOIN {table} h ON h.id = x.tally_id JOIN {table} j ON j.project_id = h.project_id "
        f"AND j.criterion_id = h.criterion_id AND j.shard = h.shard AND j.subset = %s "
        f"WHERE h.project_id = %s AND h.rubric_version_id = %s AND h.shard = %s AND h.subset = 0 AND x.count <> 0",
        [judge, project_id, rubric_version_id, shard],
    )


def _cells_sql(project_id: int, shard: int, rows: list[tuple[int, int, int, float, float, int]]) -> list[Statement]:
    """Upsert one shard's cells ``(criterion id, subset, m, c, k, delta)`` as ``count = count + delta``,
    in (tally, m, c, k) order; the tally found by its key, so one round trip can create it first."""
    cell, table = _q(AgreementCell._meta.db_table), _q(AgreementTally._meta.db_table)
    out: list[Statement] = []
    first = "(CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS double precision), " \
        "CAST(%s AS double precision), CAST(%s AS bigint))"  # fmt: skip
    for chunk in _chunks(sorted(r for r in rows if r[5]), _CELL_ROWS):
        values = ", ".join([first] + ["(%s, %s, %s, %s, %s, %s)"] * (len(chunk) - 1))
        out.append(
            (
                f"WITH v(criterion_id, subset, m, c, k, d) AS (VALUES {values}) "
                f"INSERT INTO {cell} (tally_id, m, c, k, count) SELECT t.id, v.m, v.c, v.k, v.d FROM v JOIN {table} t "
                f"ON t.project_id = %s AND t.shard = %s AND t.criterion_id = v.criterion_id AND t.subset = v.subset "
                f"WHERE true ORDER BY t.id, v.m, v.c, v.k "
                f"ON CONFLICT (tally_id, m, c, k) DO UPDATE SET count = {cell}.count + EXCLUDED.count",
                [x for row in chunk for x in row] + [project_id, shard],
            )
        )
    return out


def _codes(criterion: Scored, ratings: Iterable[dict]) -> list[float]:
    codes = (value_code(criterion.scale, (values or {}).get(criterion.key)) for values in ratings)
    return [c for c in codes if c is not None]


def _subset_values(subset: int, item_id: int, humans: Values, judges: Values, shown: dict[int, set[int]]) -> list:
    values = list(humans.get(item_id, {}).values())
    if subset != HUMANS and item_id not in shown[subset]:
        judged = judges.get(item_id, {}).get(subset)
        if judged is not None:
            values.append(judged)
    return values


def tallies_record(*, rubric_version_id: int, changes: Sequence[Change]) -> None:
    """Count ratings just written or changed (``changes``) into their projects' live tallies.

    Call inside the writer's transaction, after the write. Every change counts as a write on the
    humans' headers (a stored report must notice judges' verdicts too). Two round trips on
    PostgreSQL whatever the batch (read; headers and cells), a third when the project has judges.
    """
    if not changes:
        return
    item_ids = sorted({item_id for item_id, _, _ in changes})
    judge_ids = sorted({rater_id for _, rater_id, _ in changes})  # narrowed to judges below
    chunks = -(-len(item_ids) // _CHUNK)
    cached = criteria_cached(version_id=rubric_version_id)  # else read in the same round trip
    results = _batch(_read_statements(rubric_version_id, item_ids, judge_ids, criteria=cached is None))
    rows = [(c.pk, c.key, c.scale) for c in cached] if cached is not None else results.pop(0)
    scored = (Scored(pk, key, _json(scale)) for pk, key, scale in rows)
    criteria = [c for c in scored if AGREEMENT_LEVEL.get(c.scale.get("kind", ""))]
    if not criteria:
        return
    projects = {item_id: project_id for rows in results[:chunks] for item_id, project_id in rows}
    humans_now: Values = defaultdict(dict)
    judges_now: Values = defaultdict(dict)
    human_ids: set[int] = set()
    for rows in results[chunks : 2 * chunks]:
        for item_id, rater_id, kind, values in rows:
            if kind == RaterKind.HUMAN:
                humans_now[item_id][rater_id] = _json(values)
                human_ids.add(rater_id)
            else:
                judges_now[item_id][rater_id] = _json(values)
    writing_judges = {pk: set(_json(items) or []) for pk, items in (results[-1] if len(results) > 2 * chunks else [])}
    humans_was = {item_id: dict(by_rater) for item_id, by_rater in humans_now.items()}
    judges_was = {item_id: dict(by_rater) for item_id, by_rater in judges_now.items()}
    by_shard: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for item_id, rater_id, old in changes:
        by_shard[(projects[item_id], item_id % SHARDS)].append((item_id, rater_id, old))
        was = humans_was if rater_id in human_ids else judges_was
        if old is None:
            was.setdefault(item_id, {}).pop(rater_id, None)
        else:
            was.setdefault(item_id, {})[rater_id] = old
    for (project_id, shard), mine in sorted(by_shard.items()):
        _shard_record(
            project_id,
            shard,
            rubric_version_id,
            criteria,
            mine,
            human_ids,
            {pk: shown for pk, shown in writing_judges.items() if pk not in human_ids},
            (humans_now, judges_now),
            (humans_was, judges_was),
        )


def _shard_record(
    project_id: int,
    shard: int,
    rubric_version_id: int,
    criteria: list[Scored],
    mine: list[Change],
    human_ids: set[int],
    writing_judges: dict[int, set[int]],
    now: tuple[Values, Values],
    was: tuple[Values, Values],
) -> None:
    """One shard of a project's tallies: humans' headers (the turnstile), then judges' headers and all cells."""
    human_items = {item_id for item_id, rater_id, _ in mine if rater_id in human_ids}
    judge_items: dict[int, set[int]] = defaultdict(set)
    for item_id, rater_id, _ in mine:
        if rater_id not in human_ids:
            judge_items[rater_id].add(item_id)

    def deltas(subset: int, items: set[int], shown: dict[int, set[int]], humans_before: Values):
        cells: dict[int, dict[Cell, int]] = defaultdict(dict)
        counts: dict[int, int] = defaultdict(int)
        for item_id in items:
            after = _subset_values(subset, item_id, now[0], now[1], shown)
            before = _subset_values(subset, item_id, humans_before, was[1], shown)
            for criterion in criteria:
                old_codes, new_codes = _codes(criterion, before), _codes(criterion, after)
                cells_merge(cells[criterion.pk], cells_delta(old_codes, new_codes))
                counts[criterion.pk] += len(new_codes) - len(old_codes)
        return cells, counts

    # Round trip 1: the humans' headers (the turnstile), the judge subsets, the humans' cells.
    cells, counts = deltas(HUMANS, human_items, {}, was[0])
    heads = [(shard, c.pk, HUMANS, counts[c.pk], len(mine)) for c in criteria]
    rows = [(cid, HUMANS, m, c, k, d) for cid, delta in cells.items() for (m, c, k), d in delta.items()]
    humans, existing, *_ = _batch(
        [
            _headers_sql(project_id, rubric_version_id, heads),
            _judges_sql(project_id, rubric_version_id, shard),
            *_cells_sql(project_id, shard, rows),
        ]
    )
    humans_ratings = {criterion_id: n for _, _, criterion_id, _, n in humans}
    shown = {pk: set(_json(items) or []) for pk, items in existing}
    begun = set(shown)
    shown.update((pk, items) for pk, items in writing_judges.items() if pk in judge_items)
    if not shown:
        return
    # Round trip 2 (projects with judges): their headers, new subsets' cells, their cell deltas.
    rows, heads = [], []
    for judge in sorted(shown):
        # A new judge subset begins as a copy of the humans' cells, which now hold this writer's
        # human ratings too: its delta is then the judge's own ratings only.
        judge_cells, judge_counts = deltas(
            judge, human_items | judge_items.get(judge, set()), shown, was[0] if judge in begun else now[0]
        )
        for criterion in criteria:
            base = 0 if judge in begun else humans_ratings[criterion.pk]
            heads.append((shard, criterion.pk, judge, base + judge_counts[criterion.pk], 0))
        rows += [(cid, judge, m, c, k, d) for cid, delta in judge_cells.items() for (m, c, k), d in delta.items()]
    statements = [_headers_sql(project_id, rubric_version_id, heads)]
    statements += [_copy_sql(project_id, rubric_version_id, judge, shard) for judge in sorted(set(shown) - begun)]
    _batch(statements + _cells_sql(project_id, shard, rows))


def _headers_bump(project_id: int, rubric_version_id: int, rows: list[Head]) -> dict:
    """:func:`_headers_sql` run: ``{(shard, criterion_id, subset): (tally_id, ratings)}``."""
    (returned,) = _batch([_headers_sql(project_id, rubric_version_id, rows)])
    return {(shard, criterion_id, subset): (tally_id, n) for tally_id, shard, criterion_id, subset, n in returned}


@transaction.atomic
def tallies_rebuild(*, project: Project) -> int:
    """Recount the project's live tallies from its ratings (after a bulk load, rows deleted outside
    the services, or a judge's few-shot items changed). Locks the humans' headers of every shard
    first, in the writers' order, so a rating written meanwhile is counted exactly once. Every
    judge gets a tally in every shard. Returns the cells written."""
    version_id = project.rubric_version_id
    criteria = [c for c in Criterion.objects.filter(version_id=version_id) if c.agreement_level is not None]
    if not criteria:
        return 0
    humans = _headers_bump(
        project.pk, version_id, [(shard, c.pk, HUMANS, 0, 0) for shard in range(SHARDS) for c in criteria]
    )
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
        shards = cr.units % SHARDS
        masks = {AgreementTally.HUMANS: is_human}
        for pk, judge in judges.items():
            shown = np.asarray(judge.shown_item_ids or [], dtype=np.int64)
            masks[pk] = is_human | ((cr.raters == pk) & ~np.isin(cr.units, shown))
        per_shard = {
            (shard, subset): mask & (shards == shard) for subset, mask in masks.items() for shard in range(SHARDS)
        }
        heads = [(shard, cr.criterion.pk, subset, int(mask.sum()), 0) for (shard, subset), mask in per_shard.items()]
        judge_heads = [head for head in heads if head[2] != HUMANS]
        tallies = {**humans, **(_headers_bump(project.pk, version_id, judge_heads) if judge_heads else {})}
        for shard in range(SHARDS):
            tally_id = humans[(shard, cr.criterion.pk, HUMANS)][0]
            AgreementTally.objects.filter(pk=tally_id).update(ratings=int(per_shard[(shard, HUMANS)].sum()))
        for (shard, subset), mask in per_shard.items():
            built = cells_build(cr.units[mask], cr.values[mask])
            tally_id = tallies[(shard, cr.criterion.pk, subset)][0]
            AgreementCell.objects.bulk_create(
                [
                    AgreementCell(tally_id=tally_id, m=int(m), c=float(c), k=float(k), count=int(n))
                    for m, c, k, n in zip(built.m, built.c, built.k, built.count, strict=True)
                ],
                batch_size=_CHUNK,
            )
            written += int(built.count.size)
    return written
