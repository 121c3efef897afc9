"""What the approval rule reads for a chunk of items (quality/services/approval.py): the items
(locked, when deciding), the policy, their gold, standing review requests, ratings and judge trust.

Why a module of its own: the gate runs inside every rating's transaction, and on a busy host each
round trip costs more than its query. On PostgreSQL everything is read in one round trip
(config/round_trips.py); the statements still run in order, each with its own snapshot, so the
policy and the rest are read after the items' lock, as if sent one by one. SQLite reads the same
rows through the ORM. Deciding (``items_decide``) and the policy preview both read through here.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from annotation.models import Gold, Item, Project, Rater, Rating
from config.round_trips import Statement, columns, instance, statements_run
from quality.models import ApprovalPolicy, RaterTrust, ReviewRequest
from quality.selectors.policy import policy_for
from quality.services.agreement_reports import REPORTS_SQL

JUDGE_FIRST = "judge_first"

# (item_id, rater_id, rater kind, values, confidence, distribution), in the ratings' id order.
RatingRow = tuple[int, int, str, Any, float | None, Any]


@dataclass(frozen=True)
class ChunkRead:
    items: list[Item]  # in id order, each with ``project`` set to the caller's instance
    policy: ApprovalPolicy
    golds: dict[int, Gold]
    requests: dict[int, str]  # item id -> the review request's reason
    ratings: list[RatingRow]  # under the project's current rubric version
    trust: list[tuple[int, str]]  # (rater, criterion key) trusted under that version; [] if not needed
    reports: list[tuple[int, int]] | None = None  # when locked on PostgreSQL: the default agreement report


def trust_needed(policy: ApprovalPolicy) -> bool:
    """Whether the rule consults judge trust under ``policy``."""
    return policy.judge_may_approve or (policy.routing == JUDGE_FIRST and policy.routing_rater_id is not None)


def chunk_read(
    *, project: Project, item_ids: Sequence[int], lock: bool, policy: ApprovalPolicy | None = None
) -> ChunkRead:
    """The items ``item_ids`` of ``project`` and what decides them. ``lock``: take each item's row
    lock first (NO KEY UPDATE: new ratings, whose foreign key takes KEY SHARE, need not wait).
    ``policy``: use this one (a preview's proposal) instead of the stored policy."""
    if connection.vendor == "postgresql" and item_ids:
        return _read_postgresql(project, list(item_ids), lock, policy)
    return _read_orm(project, item_ids, lock, policy)


def _read_orm(project: Project, item_ids: Sequence[int], lock: bool, policy: ApprovalPolicy | None) -> ChunkRead:
    items_qs = project.items.filter(id__in=item_ids).order_by("id")
    # Through the project's manager, so item.project is this instance (no query per item).
    items = list(items_qs.select_for_update(no_key=True) if lock else items_qs)
    policy = policy or policy_for(project=project)
    version_id = project.rubric_version_id
    golds = {g.item_id: g for g in Gold.objects.filter(item_id__in=item_ids, rubric_version_id=version_id)}
    requests = dict(ReviewRequest.objects.filter(item_id__in=item_ids).values_list("item_id", "reason"))
    ratings = list(
        Rating.objects.filter(item_id__in=item_ids, rubric_version_id=version_id)
        .values_list("item_id", "rater_id", "rater__kind", "values", "confidence", "distribution")
        .order_by("id")
    )
    trust = []
    if trust_needed(policy):
        trusted = RaterTrust.objects.filter(project=project, rubric_version_id=version_id, trusted=True)
        trust = list(trusted.values_list("rater_id", "criterion_key"))
    return ChunkRead(items, policy, golds, requests, ratings, trust)


def _read_postgresql(project: Project, item_ids: list[int], lock: bool, policy: ApprovalPolicy | None) -> ChunkRead:
    quote = connection.ops.quote_name
    ids = ", ".join(["%s"] * len(item_ids))
    version_id = project.rubric_version_id
    statements: list[Statement] = [
        (
            f"SELECT {columns(Item, 'i')} FROM {Item._meta.db_table} i WHERE i.project_id = %s AND i.id IN ({ids}) "
            f"ORDER BY i.id{' FOR NO KEY UPDATE' if lock else ''}",
            [project.pk, *item_ids],
        ),
        (
            f"SELECT {columns(ApprovalPolicy, 'a')} FROM {ApprovalPolicy._meta.db_table} a WHERE a.project_id = %s",
            [project.pk],
        ),
        (
            f"SELECT {columns(Gold, 'g')} FROM {Gold._meta.db_table} g "
            f"WHERE g.item_id IN ({ids}) AND g.rubric_version_id = %s",
            [*item_ids, version_id],
        ),
        (f"SELECT item_id, reason FROM {ReviewRequest._meta.db_table} WHERE item_id IN ({ids})", item_ids),
        (
            f"SELECT r.item_id, r.rater_id, a.kind, r.{quote('values')}, r.confidence, r.distribution "
            f"FROM {Rating._meta.db_table} r JOIN {Rater._meta.db_table} a ON a.id = r.rater_id "
            f"WHERE r.item_id IN ({ids}) AND r.rubric_version_id = %s ORDER BY r.id",
            [*item_ids, version_id],
        ),
        # Trust is one small indexed read: in the same round trip it costs less than asking first
        # whether the policy needs it.
        (
            f"SELECT rater_id, criterion_key FROM {RaterTrust._meta.db_table} "
            f"WHERE project_id = %s AND rubric_version_id = %s AND trusted",
            [project.pk, version_id],
        ),
    ]
    if lock:  # deciding: what agreement_reports_refresh_after_change would read after commit
        statements.append((REPORTS_SQL, [project.pk]))
    item_rows, policy_rows, gold_rows, request_rows, rating_rows, trust_rows, *reports = statements_run(statements)
    items = [instance(Item, row) for row in item_rows]
    for item in items:
        item.project = project
    if policy is None:
        # A project that never changed its policy has no row yet: policy_for stores the defaults.
        policy = instance(ApprovalPolicy, policy_rows[0]) if policy_rows else policy_for(project=project)
    golds = {gold.item_id: gold for gold in (instance(Gold, row) for row in gold_rows)}
    json_field = Rating._meta.get_field("values")
    ratings: list[RatingRow] = [
        (item_id, rater_id, kind, _json(json_field, values), confidence, _json(json_field, distribution))
        for item_id, rater_id, kind, values, confidence, distribution in rating_rows
    ]
    trust = list(trust_rows) if trust_needed(policy) else []
    return ChunkRead(items, policy, golds, dict(request_rows), ratings, trust, list(reports[0]) if reports else None)


def _json(field, value):
    """A JSON column's value as the ORM would give it (Django's psycopg setup may leave it text)."""
    if value is None or not hasattr(field, "from_db_value"):
        return value
    return field.from_db_value(value, None, connection)
