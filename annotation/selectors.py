"""Reads, and who may do what. Every API queryset starts from one of these."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import (
    Assignment,
    Gold,
    Item,
    ItemStatus,
    Membership,
    Project,
    Rater,
    RaterKind,
    Rating,
    RatingChange,
    Role,
    SendBack,
    Skip,
)
from config.round_trips import BIGINT_MAX, BIGINT_MIN, columns, instance, width
from rubrics.models import RubricVersion
from rubrics.scales import ScaleKind

# What each role may do; staff may do everything.
MANAGE = frozenset({Role.MANAGER})
REVIEW = frozenset({Role.MANAGER, Role.REVIEWER})
RATE = frozenset({Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR})


def projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    projects = Project.objects.select_related("rubric_version__rubric").order_by("id")
    if user.is_staff:
        return projects
    return projects.filter(memberships__user=user)


def project_role(*, user: AbstractBaseUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.MANAGER
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def membership_role(*, user: AbstractBaseUser, project_ref: str = "pk") -> Subquery:
    """``user``'s role in the project whose id is ``project_ref`` of the outer query (None if not a
    member): annotate a query with it, and pass it to project_require to save it a query."""
    mine = Membership.objects.filter(project_id=OuterRef(project_ref), user_id=user.pk).order_by("id")
    return Subquery(mine.values("role")[:1])


_UNREAD = object()


def project_require(*, user: AbstractBaseUser, project: Project, roles: frozenset[str], role=_UNREAD) -> str:
    """Return the user's role in the project, or raise PermissionDenied if it is not among ``roles``.
    ``role``: their membership's role read already (``membership_role``), None for none."""
    if role is _UNREAD or not user.is_authenticated or user.is_staff:
        role = project_role(user=user, project=project)
    if role is None:
        raise PermissionDenied("You are not a member of this project.")
    if role not in roles:
        raise PermissionDenied(f"This needs the {' or '.join(sorted(roles))} role in this project.")
    return role


def rater_for_user(*, user: AbstractBaseUser) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"kind": RaterKind.HUMAN, "name": user.get_username()})
    return rater


def item_to_rate(*, user: AbstractBaseUser, item_id: int, roles: frozenset[str]) -> tuple[Item, Rater | None] | None:
    """The item (with its project and rubric version) and ``user``'s rater, once they are known to
    hold one of ``roles`` in its project (else PermissionDenied); None for no such item. One
    query, the hot path of every submission. The rater is None before someone's very first
    rating: the caller makes it (``rater_for_user``) once the request is known to be valid, so a
    refused request writes nothing."""
    if connection.vendor == "postgresql":
        item = _item_to_rate_sql(user=user, item_id=item_id) if BIGINT_MIN <= item_id <= BIGINT_MAX else None
    else:
        rater = Rater.objects.filter(user_id=user.pk).order_by()
        item = (
            Item.objects.select_related("project__rubric_version")
            .annotate(
                role=membership_role(user=user, project_ref="project_id"),
                rater_pk=Subquery(rater.values("pk")[:1]),
                rater_name=Subquery(rater.values("name")[:1]),
            )
            .filter(pk=item_id)
            .first()
        )
    if item is None:
        return None
    project_require(user=user, project=item.project, roles=roles, role=item.role)
    if item.rater_pk is None:
        return item, None
    return item, Rater(pk=item.rater_pk, kind=RaterKind.HUMAN, user=user, name=item.rater_name)


def _item_to_rate_sql(*, user: AbstractBaseUser, item_id: int) -> Item | None:
    """:func:`item_to_rate`'s query written out (PostgreSQL): through the ORM, with its three
    subqueries, it cost several milliseconds of Python, more than the database spends on it."""
    sql = (
        f"SELECT {columns(Item, 'i')}, {columns(Project, 'p')}, {columns(RubricVersion, 'v')}, "
        f"(SELECT m.role FROM {Membership._meta.db_table} m WHERE m.project_id = i.project_id AND m.user_id = %s "
        f"ORDER BY m.id LIMIT 1), r.id, r.name "
        f"FROM {Item._meta.db_table} i JOIN {Project._meta.db_table} p ON p.id = i.project_id "
        f"JOIN {RubricVersion._meta.db_table} v ON v.id = p.rubric_version_id "
        f"LEFT JOIN {Rater._meta.db_table} r ON r.user_id = %s WHERE i.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, item_id])
        row = cursor.fetchone()
    if row is None:
        return None
    at = [0, width(Item), width(Item) + width(Project), width(Item) + width(Project) + width(RubricVersion)]
    item = instance(Item, row[at[0] : at[1]])
    item.project = instance(Project, row[at[1] : at[2]])
    item.project.rubric_version = instance(RubricVersion, row[at[2] : at[3]])
    item.role, item.rater_pk, item.rater_name = row[at[3] :]
    return item


def items_for_project(*, project: Project, status: str | None = None) -> QuerySet[Item]:
    items = Item.objects.filter(project=project)
    if status:
        items = items.filter(status=status)
    return items


def ratings_visible(*, user: AbstractBaseUser, item: Item) -> QuerySet[Rating]:
    """Blind by default: annotators see only their own ratings; reviewers and managers see all."""
    ratings = Rating.objects.filter(item=item).select_related("rater", "rubric_version").order_by("id")
    role = project_role(user=user, project=item.project)
    if role in REVIEW:
        return ratings
    return ratings.filter(rater__user=user)


def rating_closed_why(*, item_id: int, rubric_version_id: int) -> str:
    """Why the ratings of an item can no longer change ("" while they can): it is decided. The
    rule of ``rating_change`` (which asks it under the item lock), and of the page that offers it."""
    status = Item.objects.filter(pk=item_id).values_list("status", flat=True).get()
    if Gold.objects.filter(item_id=item_id, rubric_version_id=rubric_version_id).exists():
        return "a reviewer has adjudicated it"
    if status == ItemStatus.APPROVED:
        return "it has been approved"
    if status == ItemStatus.REJECTED:
        return "it has been rejected"
    return ""


def rating_history(*, rating: Rating) -> QuerySet[RatingChange]:
    """The corrections of one rating, oldest first (who, when, values before and after)."""
    return RatingChange.objects.filter(rating=rating).select_related("changed_by").order_by("id")


def _review_parts(*, project: Project, audit_only: bool = False) -> tuple[QuerySet[Item], Q, Q | None]:
    """The items a reviewer may still decide, and the two conditions that put one in the review
    list: sent to review by the approval gate; or open, rated by two or more people who disagree
    on some non-text criterion (None when every criterion is free text). Two conditions rather
    than one OR, so each can walk its own index (benchmarks/review_page.py)."""
    keys = [c.key for c in project.rubric_version.criteria.all() if c.scale.get("kind") != ScaleKind.TEXT]
    # An item with gold is decided; one sent back to its raters waits for them, not for a reviewer.
    # NOT EXISTS rather than gold__isnull (a LEFT JOIN): the planner then knows how many rows are
    # left and walks the (project, status, id) index in id order instead of sorting them all.
    items = Item.objects.filter(project=project).exclude(Exists(Gold.objects.filter(item=OuterRef("pk"))))
    items = items.exclude(Exists(SendBack.objects.filter(item=OuterRef("pk"))))
    if audit_only:
        items = items.filter(audit_rank__isnull=False)  # the audit sample's items (quality/services/audit.py)
    sent = Q(status=ItemStatus.NEEDS_REVIEW)
    if not keys:
        return items, sent, None
    human = Rating.objects.filter(
        item=OuterRef("pk"), rater__kind=RaterKind.HUMAN, rubric_version_id=project.rubric_version_id
    ).order_by()

    def per_item(ratings: QuerySet[Rating], count: Count) -> Coalesce:
        return Coalesce(Subquery(ratings.values("item").annotate(n=count).values("n")), Value(0))

    # How many distinct values people gave each criterion: more than one is a disagreement.
    # alias(), not annotate(): the subqueries run in the WHERE clause only, and only on the open
    # items with two or more ratings, since the cheap conditions come first (PostgreSQL evaluates
    # an AND in order). ``load`` counts an item's human ratings plus its leases
    # (services/queue.py), so under 2 it cannot hold two people's ratings.
    spread = {
        f"spread_{i}": per_item(human.annotate(v=KT(f"values__{key}")), Count("v", distinct=True))
        for i, key in enumerate(keys)
    }
    items = items.alias(human_ratings=per_item(human, Count("id")), **spread)
    open_statuses = (ItemStatus.PENDING, ItemStatus.IN_PROGRESS, ItemStatus.ANNOTATED)
    disagree = reduce(or_, (Q(**{f"{name}__gt": 1}) for name in spread))
    return items, sent, Q(status__in=open_statuses) & Q(load__gte=2) & Q(human_ratings__gte=2) & disagree


def items_for_review(*, project: Project, audit_only: bool = False) -> QuerySet[Item]:
    """Items a reviewer should adjudicate, oldest first: those sent to review, and undecided
    items where two or more people rated and disagree on some non-text criterion. Items that
    already have gold are done; items sent back to their raters wait for them. Reviewers and
    managers only (the caller checks). ``audit_only``: only the audit sample's items."""
    items, sent, disagreeing = _review_parts(project=project, audit_only=audit_only)
    return items.filter(sent | disagreeing if disagreeing is not None else sent).order_by("id")


def review_next(*, project: Project, after: int | None = None, audit_only: bool = False) -> Item | None:
    """The first item of ``items_for_review`` (after the item ``after``), in two index walks."""
    items, sent, disagreeing = _review_parts(project=project, audit_only=audit_only)
    if after is not None:
        items = items.filter(id__gt=after)
    found = [items.filter(condition).order_by("id").first() for condition in (sent, disagreeing) if condition]
    return min((item for item in found if item is not None), key=lambda item: item.pk, default=None)


def review_left(*, project: Project, audit_only: bool = False) -> int:
    """How many items wait for a reviewer (``items_for_review``): two counts, one per condition."""
    items, sent, disagreeing = _review_parts(project=project, audit_only=audit_only)
    return items.filter(sent).count() + (items.filter(disagreeing).count() if disagreeing is not None else 0)


@contextmanager
def without_jit() -> Iterator[None]:
    """Run the reads inside without PostgreSQL's JIT compiler (in a transaction of their own).

    ``items_for_review`` has per-item subqueries that the planner prices high, so on a project
    with thousands of items waiting, PostgreSQL JIT-compiles the statement: 1.5 s of compilation
    for a query that then runs in 20 ms (benchmarks/review_page.py). Other databases: a no-op.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def ratings_for_review(*, project: Project) -> Prefetch:
    """Every rating on an item under the project's rubric version, people and judges, for
    ``items_for_review(...).prefetch_related(...)``. Never show this to annotators."""
    ratings = (
        Rating.objects.filter(rubric_version_id=project.rubric_version_id)
        .select_related("rater")
        .order_by("rater__kind", "id")
    )
    return Prefetch("ratings", queryset=ratings, to_attr="review_ratings")


def projects_with_progress(*, user: AbstractBaseUser, done_statuses: Iterable[str]) -> QuerySet[Project]:
    """The user's projects, each annotated with ``item_count``, ``done_count`` (items in
    ``done_statuses``), ``mine_count`` (items the user rated under the current rubric version)
    and ``my_role``, in one query."""
    mine = (
        Rating.objects.filter(item__project=OuterRef("pk"), rater__user=user, rubric_version=OuterRef("rubric_version"))
        .order_by()
        .values("item__project")
        .annotate(n=Count("item", distinct=True))
        .values("n")
    )
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return projects_for_user(user=user).annotate(
        item_count=Count("items", distinct=True),
        done_count=Count("items", filter=Q(items__status__in=list(done_statuses)), distinct=True),
        mine_count=Subquery(mine, output_field=IntegerField()),
        my_role=Subquery(role),
    )


# ---- where an annotator is: what is left, what they did today, what they did last ----


def _rater_id(user: AbstractBaseUser) -> int:
    """The user's rater id (0 if they have none yet), looked up first so that the queries below
    filter on a known ``rater_id`` and the planner can use the rating indexes that start with it."""
    return Rater.objects.filter(user=user).values_list("id", flat=True).first() or 0


def queue_left(*, project: Project, user: AbstractBaseUser) -> int:
    """Items the queue could still give ``user`` in ``project``: open, not rated (under the current
    rubric version) nor skipped by them, with a free slot, plus the one they hold if their lease
    filled it. Two small queries; the first walks the queue's partial index (``item_queue_order``)."""
    mine = Rating.objects.filter(
        item=OuterRef("pk"), rater_id=_rater_id(user), rubric_version_id=project.rubric_version_id
    )
    skipped = Skip.objects.filter(item=OuterRef("pk"), user=user)
    free = (
        Item.objects.filter(
            project=project,
            status__in=(ItemStatus.PENDING, ItemStatus.IN_PROGRESS),
            load__lt=project.annotations_per_item,
        )
        .exclude(Exists(mine))
        .exclude(Exists(skipped))
        .count()
    )
    held = Assignment.objects.filter(
        project=project, user=user, expires_at__gt=timezone.now(), item__load__gte=project.annotations_per_item
    ).exists()
    return free + int(held)


def rated_today(*, project: Project, user: AbstractBaseUser) -> int:
    """Ratings ``user`` made in ``project`` since midnight (the server's time zone)."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Rating.objects.filter(rater_id=_rater_id(user), item__project=project, created_at__gte=midnight).count()


@dataclass(frozen=True)
class Done:
    """One thing an annotator did to an item: rated it (``changed``: corrected since) or skipped it."""

    item_id: int
    external_id: str
    kind: str  # "rating" or "skip"
    at: datetime
    status: str
    changed: bool = False
    sent_back: str | None = None  # a reviewer's note when they sent the item back ("" without one)
    row_id: int = 0  # the Rating's or Skip's id: orders what happened at the same instant

    @property
    def status_label(self) -> str:
        return ItemStatus(self.status).label

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.at, self.row_id)


def recent_done(*, project: Project, user: AbstractBaseUser, before: Done | None = None, limit: int = 10) -> list[Done]:
    """What ``user`` rated or skipped last in ``project``, newest first (``before``: only what
    they did before that). Ratings under the current rubric version only: older ones cannot
    change. Ties in time (ratings written in one transaction share it) go by id."""
    ratings = Rating.objects.filter(
        rater_id=_rater_id(user), item__project=project, rubric_version_id=project.rubric_version_id
    ).annotate(
        changed=Exists(RatingChange.objects.filter(rating=OuterRef("pk"))),
        sent_back=Subquery(SendBack.objects.filter(item=OuterRef("item_id")).values("note")[:1]),
    )
    skips = Skip.objects.filter(user=user, project=project)
    if before is not None:
        earlier = Q(created_at__lt=before.at)
        same = Q(created_at=before.at, id__lt=before.row_id)
        ratings = ratings.filter(earlier | same if before.kind == "rating" else earlier)
        skips = skips.filter(earlier | same if before.kind == "skip" else earlier)
    fields = ("item_id", "item__external_id", "created_at", "item__status")
    done = [
        Done(item, ext, "rating", at, status, changed, back, pk)
        for item, ext, at, status, changed, back, pk in ratings.order_by("-created_at", "-id").values_list(
            *fields, "changed", "sent_back", "id"
        )[:limit]
    ] + [
        Done(item, ext, "skip", at, status, row_id=pk)
        for item, ext, at, status, pk in skips.order_by("-created_at", "-id").values_list(*fields, "id")[:limit]
    ]
    return sorted(done, key=lambda d: d.order, reverse=True)[:limit]


def done_on(*, project: Project, user: AbstractBaseUser, item: Item) -> Done | None:
    """What ``user`` did to ``item``: their rating (under the current version) or skip; None if neither."""
    fields = ("item_id", "item__external_id", "created_at", "item__status", "id")
    rated = Rating.objects.filter(item=item, rater__user=user, rubric_version_id=project.rubric_version_id)
    for kind, rows in (("rating", rated), ("skip", Skip.objects.filter(item=item, user=user))):
        row = rows.values_list(*fields).first()
        if row is not None:
            item_id, external_id, at, status, row_id = row
            return Done(item_id, external_id, kind, at, status, row_id=row_id)
    return None
