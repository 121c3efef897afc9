"""The queue's hot-path statements, hand-written: through the ORM they cost more Python than
their run. Used by annotation/services/queue.py, which documents the locking they take part in.
"""

from collections.abc import Sequence

from django.db import connection

from annotation.models import Assignment, Item, ItemStatus, Project, Rater, Rating, Skip
from config.round_trips import columns

QUEUE_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_PROGRESS)

ITEM, RATING, RATER = Item._meta.db_table, Rating._meta.db_table, Rater._meta.db_table
LEASE, SKIP = Assignment._meta.db_table, Skip._meta.db_table

RATER_LOCK_SQL = f"SELECT id, kind, name FROM {RATER} WHERE user_id = %s FOR UPDATE"
# The project's leases, one look: this person's live one, else whether any have expired.
LEASE_FIRST_SQL = (
    f"SELECT id, expires_at FROM {LEASE} WHERE project_id = %s "
    f"AND ((user_id = %s AND expires_at > %s) OR expires_at <= %s) ORDER BY expires_at DESC LIMIT 1"
)

# Open items of the project with a free slot that this person has not rated, skipped or leased:
# fullest first, then oldest; walks the partial index item_queue_order. The audit pass (a project
# with an audit sample) first looks among audited items, in draw order (index item_audit_queue).
# "Not rated by me" probes the item, whatever the statistics (on a new version's, PostgreSQL read
# its every rating per claim): OFFSET 0 keeps it a probe, "+ 0" off the rater/version indexes.
CANDIDATE_SQL = f"""
    SELECT {{columns}} FROM {ITEM} i
    WHERE i.project_id = %s AND i.status IN (%s, %s) AND i.load < %s AND i.load < COALESCE(i.overlap_target, %s)
      AND NOT EXISTS (SELECT 1 FROM {RATING} r
                      WHERE r.item_id = i.id AND r.rater_id + 0 = {{rater}} AND r.rubric_version_id + 0 = %s
                      LIMIT 1 OFFSET 0)
      AND NOT EXISTS (SELECT 1 FROM {SKIP} s WHERE s.item_id = i.id AND s.user_id = %s)
      AND NOT EXISTS (SELECT 1 FROM {LEASE} a WHERE a.item_id = i.id AND a.user_id = %s)
      {{audit}} {{passed}}
    ORDER BY {{order}}
    LIMIT 1
"""
PASSES = (
    {"audit": "AND i.audit_rank IS NOT NULL", "order": "i.audit_rank"},
    {"audit": "", "order": "i.load DESC, i.id"},
)
# The walk sent with the rater lock and the lease look (LEASE_FIRST_SQL), in their round trip: it
# names the rater by its user (its id is not known yet), and walks only when the look finds
# nothing (no lease of this person, no expired lease), so it never holds an item that the claim
# then does not use while it waits for other items' locks (expiring the project's leases).
RATER_BY_USER = f"(SELECT id FROM {RATER} WHERE user_id = %s)"
WALK_GUARD = (
    f"AND NOT EXISTS (SELECT 1 FROM {LEASE} a WHERE a.project_id = %s "
    f"AND ((a.user_id = %s AND a.expires_at > %s) OR a.expires_at <= %s))"
)
# Judge-first routing (Project.queue_by_confidence): the least confident verdicts first, items
# without one last. No index serves this order: such projects sort their open items per claim.
BY_CONFIDENCE = {"audit": "", "order": "COALESCE(i.queue_confidence, 1.0), i.load DESC, i.id"}

# One item's lease rows, live leases, human ratings, and whether this person rated or skipped it.
COUNTS_SQL = f"""
    SELECT
      (SELECT count(*) FROM {LEASE} a WHERE a.item_id = %(item)s) AS lease_rows,
      (SELECT count(*) FROM {LEASE} a WHERE a.item_id = %(item)s AND a.expires_at > %(now)s) AS leases,
      (SELECT count(*) FROM {RATING} r JOIN {RATER} ra ON ra.id = r.rater_id
        WHERE r.item_id = %(item)s AND r.rubric_version_id = %(version)s AND ra.kind = %(human)s) AS ratings,
      (SELECT count(*) FROM {RATING} r
        WHERE r.item_id = %(item)s AND r.rater_id = %(rater)s AND r.rubric_version_id = %(version)s) AS mine,
      (SELECT count(*) FROM {SKIP} s WHERE s.item_id = %(item)s AND s.user_id = %(user)s) AS skipped
"""

# PostgreSQL: the counts and, when they leave the common case nothing to clean up (no expired
# lease on the item) and a free slot, the lease and the item's new load, in one statement and so
# one round trip. Its snapshot is taken after the walk's lock, as the counts' own must be.
GRANT_SQL = f"""
    WITH c AS ({COUNTS_SQL}),
    ins AS (
      INSERT INTO {LEASE} (project_id, item_id, user_id, expires_at, created_at)
      SELECT %(project)s, %(item)s, %(user)s, %(expires_at)s, %(created_at)s FROM c
      WHERE c.lease_rows = c.leases AND c.mine = 0 AND c.skipped = 0 AND c.ratings + c.leases < %(target)s
      RETURNING id
    ),
    upd AS (
      UPDATE {ITEM} SET load = (SELECT ratings + leases + 1 FROM c)
      WHERE id = %(item)s AND EXISTS (SELECT 1 FROM ins)
    )
    SELECT c.lease_rows, c.leases, c.ratings, c.mine, c.skipped, (SELECT id FROM ins) FROM c
"""

LEASE_INSERT_SQL = (
    f"INSERT INTO {LEASE} (project_id, item_id, user_id, expires_at, created_at) VALUES (%s, %s, %s, %s, %s) "
    f"RETURNING id"
)


def walk_passes(project: Project) -> list[dict]:
    """The walk's passes, in order: the audit sample first where the project has one."""
    return ([PASSES[0]] if project.audit_size else []) + [BY_CONFIDENCE if project.queue_by_confidence else PASSES[1]]


def walk_statement(
    *,
    project: Project,
    user,
    rater: tuple[str, int],
    pass_: dict,
    passed: Sequence[int] = (),
    lock: bool = True,
    guard: tuple[str, list] = ("", []),
) -> tuple[str, list]:
    """One pass of the candidate walk, and its parameters. ``rater``: how the SQL names the
    person's rater, and its parameter; ``passed``: items already found full; ``lock``: lock the
    item found (skipping locked ones), as a claim does; ``guard``: one more condition and its
    parameters (:data:`WALK_GUARD`)."""
    skip_locked = lock and connection.features.has_select_for_update_skip_locked
    not_passed = f"AND i.id NOT IN ({', '.join(['%s'] * len(passed))})" if passed else ""
    sql = CANDIDATE_SQL.format(columns=columns(Item, "i"), rater=rater[0], passed=f"{not_passed} {guard[0]}", **pass_)
    # The maximum bounds the index walk (item_queue_order); the item's own target filters it.
    targets = [project.annotations_per_item, project.base_target]
    params = [project.pk, *QUEUE_STATUSES, *targets, rater[1], project.rubric_version_id, user.pk, user.pk]
    return sql + (" FOR UPDATE SKIP LOCKED" if skip_locked else ""), [*params, *passed, *guard[1]]
