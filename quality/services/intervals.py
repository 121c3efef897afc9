"""The humans' bootstrap interval of alpha, refreshed at the cost of what changed.

The stored report's interval (quality/services/agreement_reports.py) is recomputed from every
rating: 76 to 137 s at a million ratings. This keeps, per project, agreement/live_bootstrap.py's
per-draw sums of every criterion (``AgreementInterval``) and what each item contributed to them
(``AgreementIntervalUnit``). A refresh, on a worker, re-reads only the items with a rating
written or changed since the last one (the ``rating_updated`` index), compares them with what
was counted, and moves the sums by the difference: its cost follows the change, not the project.

Which items changed is found by ``updated_at`` (the writing transaction's ``now()``, which
can be earlier than its commit). A refresh remembers a watermark that no later commit can
stamp below: on PostgreSQL the start of the oldest transaction open just before its snapshot
(``pg_stat_activity``; the app's connections share one role, so it sees them all), elsewhere
:data:`LOOK_BACK` before it. The next refresh re-reads the items with a rating stamped at or after
it; an item seen twice changes nothing the second time. As a check, the ratings counted must
equal the live tallies' count read in the same snapshot (REPEATABLE READ on PostgreSQL); when
they do not, the refresh rebuilds from every rating. A new rubric version or a different
number of draws rebuilds too.
"""

import io
import json
import logging
import time
from datetime import timedelta

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agreement.live_bootstrap import MAX_VALUES, DrawSums, units_changed_together
from annotation.models import Item, Project, Rater, RaterKind, Rating
from quality import dispatch
from quality.models import AgreementInterval, AgreementIntervalUnit
from quality.selectors.intervals import criteria_with_levels, sums_load
from quality.selectors.live import tally_counts
from rubrics.scales import value_code_sql

logger = logging.getLogger(__name__)

DRAWS = 1000
REFRESH_DELAY_SECONDS = 1
"""A queued refresh waits this long, so a burst of ratings is counted once."""
LOOK_BACK = timedelta(minutes=20)
"""SQLite: how far before a refresh the next one looks (a write transaction's longest run)."""
LOST_AFTER = timedelta(minutes=15)
"""A claim older than this is taken for a worker that died while refreshing."""

Values = dict[int, dict[str, list[float]]]


def _human_values(*, project: Project, criteria: list, since=None) -> Values:
    """``{item id: {criterion key: [value codes of its human ratings]}}`` for the project's items,
    or only those with a rating written or changed at or after ``since``."""
    quote = connection.ops.quote_name
    rating, item, rater = (quote(m._meta.db_table) for m in (Rating, Item, Rater))
    selects, params = [], []
    for criterion in criteria:
        expr, expr_params = value_code_sql(
            criterion.scale, criterion.key, column=f"r.{quote('values')}", vendor=connection.vendor
        )
        selects.append(expr)
        params.extend(expr_params)
    where = "i.project_id = %s AND r.rubric_version_id = %s AND ra.kind = %s"
    params += [project.pk, project.rubric_version_id, str(RaterKind.HUMAN)]
    if since is not None:
        where += (
            f" AND r.item_id IN (SELECT c.item_id FROM {rating} c WHERE c.updated_at >= %s"
            " AND c.rubric_version_id = %s)"
        )
        params += [since, project.rubric_version_id]
    sql = (
        f"SELECT r.item_id, {', '.join(selects)} FROM {rating} r JOIN {item} i ON i.id = r.item_id "
        f"JOIN {rater} ra ON ra.id = r.rater_id WHERE {where} ORDER BY r.item_id, r.id"
    )
    out: Values = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            per_item = out.setdefault(row[0], {})
            for criterion, value in zip(criteria, row[1:], strict=True):
                if value is not None:
                    per_item.setdefault(criterion.key, []).append(float(value))
    return out


def _sums_dump(sums: dict[str, DrawSums], seed: int) -> bytes:
    arrays = {"seed": np.array([seed], dtype=np.int64)}
    for key, kept in sums.items():
        arrays[f"{key}.values"], arrays[f"{key}.sums"] = kept.values, kept.sums
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def agreement_interval_refresh(*, project_id: int) -> str:
    """Bring the project's live interval up to date; returns what it did: ``"refreshed"``,
    ``"rebuilt"``, ``"busy"`` (another worker is at it: retry later), ``"none"`` (no live
    tallies, or a criterion with too many distinct values) or ``"gone"``. Idempotent."""
    project = Project.objects.select_related("rubric_version").filter(pk=project_id).first()
    if project is None:
        return "gone"
    interval, _ = AgreementInterval.objects.get_or_create(project=project)
    now = timezone.now()
    free = Q(computing_since__isnull=True) | Q(computing_since__lt=now - LOST_AFTER)
    # The claim (a conditional UPDATE, committed) keeps refreshes of one project one at a time;
    # dropping the queued mark with it lets any later change queue the next refresh.
    if not AgreementInterval.objects.filter(free, pk=interval.pk).update(computing_since=now):
        return "busy"
    cache.delete(_queued_key(project_id))
    try:
        started = time.perf_counter()
        watermark = _watermark()  # before the snapshot: see the module's docstring
        outer = connection.in_atomic_block
        with transaction.atomic():
            if connection.vendor == "postgresql" and not outer:
                # One snapshot for the tallies and the ratings, so that their counts compare.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            outcome = _refresh(project=project, interval_id=interval.pk, watermark=watermark)
        AgreementInterval.objects.filter(pk=interval.pk).update(refresh_seconds=round(time.perf_counter() - started, 3))
        return outcome
    finally:
        AgreementInterval.objects.filter(pk=interval.pk, computing_since=now).update(computing_since=None)


def _watermark():
    """A time no rating committed after this moment can carry in ``updated_at``."""
    if connection.vendor != "postgresql":
        return timezone.now() - LOOK_BACK
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT least(clock_timestamp(), now(), (SELECT min(xact_start) FROM pg_stat_activity"
            " WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()))"
        )
        return cursor.fetchone()[0]


def _refresh(*, project: Project, interval_id: int, watermark) -> str:
    interval = AgreementInterval.objects.get(pk=interval_id)
    tallies = tally_counts(project=project)
    criteria = [c for c in criteria_with_levels(project) if c.key in tallies]
    if not criteria:
        return "none"
    fresh = (
        interval.rubric_version_id != project.rubric_version_id
        or interval.draws != DRAWS
        or interval.seen_until is None
        or set(interval.ratings) != {c.key for c in criteria}
    )
    outcome = _count(interval=interval, project=project, criteria=criteria, rebuild=fresh)
    if not fresh and any(interval.ratings[c.key] != tallies[c.key][0] for c in criteria):
        logger.warning("live interval of project %s missed a write; rebuilding", project.pk)
        outcome = _count(interval=interval, project=project, criteria=criteria, rebuild=True)
    if outcome == "none":
        # Nothing kept: readers fall back to the report's interval, and the next refresh rebuilds.
        AgreementIntervalUnit.objects.filter(interval=interval).delete()
        AgreementInterval.objects.filter(pk=interval.pk).update(sums=b"", ratings={}, seen_until=None)
        return outcome
    interval.rubric_version_id = project.rubric_version_id
    interval.draws = DRAWS
    interval.writes = max(writes for _, writes in tallies.values())
    interval.seen_until = watermark
    interval.refreshed_at = timezone.now()
    interval.save(
        update_fields=["rubric_version", "draws", "sums", "ratings", "writes", "seen_until", "refreshed_at", "seed"]
    )
    return outcome


def _count(*, interval: AgreementInterval, project: Project, criteria: list, rebuild: bool) -> str:
    """Move ``interval``'s sums (in memory) and its unit rows (in the database) to the ratings now."""
    if rebuild:
        AgreementIntervalUnit.objects.filter(interval=interval).delete()
        interval.seed = project.pk
        sums = {c.key: DrawSums.empty(draws=DRAWS, seed=interval.seed) for c in criteria}
        counted: dict[str, int] = dict.fromkeys(sums, 0)
        current = _human_values(project=project, criteria=criteria)
        before: dict[int, AgreementIntervalUnit] = {}
    else:
        sums = sums_load(interval.sums)
        counted = dict(interval.ratings)
        assert interval.seen_until is not None  # not a rebuild
        current = _human_values(project=project, criteria=criteria, since=interval.seen_until)
        before = {u.item_id: u for u in AgreementIntervalUnit.objects.filter(interval=interval, item_id__in=current)}
    changed = {
        item_id: values
        for item_id, values in current.items()
        if item_id not in before or before[item_id].values != values
    }
    changes = {}
    for criterion in criteria:
        key = criterion.key
        rows = [
            (item_id, before[item_id].values.get(key, []) if item_id in before else [], values.get(key, []))
            for item_id, values in changed.items()
        ]
        changes[key] = [row for row in rows if row[1] != row[2]]
        counted[key] += sum(len(after) - len(was) for _, was, after in changes[key])
    units_changed_together(sums, changes)
    if any(kept.values.size > MAX_VALUES for kept in sums.values()):
        return "none"  # free-valued numbers: the report's full bootstrap keeps these
    for item_id, values in changed.items():
        if item_id in before:
            before[item_id].values = values
    AgreementIntervalUnit.objects.bulk_update([u for i, u in before.items() if i in changed], ["values"], 2_000)
    _units_insert(interval=interval, units={i: v for i, v in changed.items() if i not in before})
    interval.sums = _sums_dump(sums, interval.seed)
    interval.ratings = counted
    return "rebuilt" if rebuild else "refreshed"


def agreement_interval_enqueue(*, project_id: int, create: bool = False) -> None:
    """Queue a refresh of the project's live interval after commit, unless one is queued; with
    ``create``, start keeping one (a reader asked for a large project's report).

    The queued mark is a cache key, not a column: the refresh's REPEATABLE READ transaction
    writes the interval row, and a request marking that row meanwhile would make it fail."""
    if create:
        AgreementInterval.objects.get_or_create(project_id=project_id)
    elif not AgreementInterval.objects.filter(project_id=project_id).exists():
        return
    now = timezone.now()
    if cache.add(_queued_key(project_id), now.isoformat(), timeout=LOST_AFTER.total_seconds()):
        transaction.on_commit(lambda: _publish(project_id), robust=True)


def _queued_key(project_id: int) -> str:
    return f"accord:interval-queued:{project_id}"


def _publish(project_id: int) -> None:
    try:
        dispatch.agreement_interval_refresh_later(project_id=project_id, countdown=REFRESH_DELAY_SECONDS)
    except Exception:
        cache.delete(_queued_key(project_id))  # the broker is unreachable: the next change tries again
        raise


def _units_insert(*, interval: AgreementInterval, units: Values) -> None:
    """New unit rows: COPY on PostgreSQL (a rebuild writes one per rated item), else bulk_create."""
    if connection.vendor != "postgresql":
        rows = [AgreementIntervalUnit(interval=interval, item_id=i, values=v) for i, v in units.items()]
        AgreementIntervalUnit.objects.bulk_create(rows, batch_size=5_000)
        return
    table, values_column = (connection.ops.quote_name(n) for n in (AgreementIntervalUnit._meta.db_table, "values"))
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} (interval_id, item_id, {values_column}) FROM STDIN") as copy,
    ):
        batch = []
        for item_id, values in units.items():
            # Keys are criterion keys and values numbers: JSON with nothing COPY must escape.
            batch.append(f"{interval.pk}\t{item_id}\t{json.dumps(values)}\n")
            if len(batch) == 5_000:
                copy.write("".join(batch))
                batch.clear()
        copy.write("".join(batch))
