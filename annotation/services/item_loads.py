"""``Item.load`` recounted exactly, for writes that bypass the queue (services/queue.py)."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from annotation.models import Assignment, Item, Project, RaterKind, Rating


def item_load_recount(*, item_ids: Iterable[int] | None = None, project: Project | None = None) -> None:
    """Recompute ``Item.load`` exactly for writes that bypass the queue: a bulk rating import,
    a rubric version upgrade (old ratings stop counting), ratings deleted in the admin.

    Locks the items (in id order) first, so the counts include every committed lease.
    """
    if (item_ids is None) == (project is None):
        raise ValueError("pass item_ids or project")
    with transaction.atomic():
        if not connection.features.has_select_for_update:
            Item.objects.filter(pk=0).update(load=0)  # SQLite: take the write lock before reading
        items = Item.objects.filter(project=project) if project is not None else Item.objects.filter(pk__in=item_ids)
        ids = list(items.order_by("id").select_for_update().values_list("id", flat=True))
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            human = (
                Rating.objects.filter(
                    item=OuterRef("pk"),
                    rater__kind=RaterKind.HUMAN,
                    rubric_version_id=OuterRef("project__rubric_version_id"),
                )
                .order_by()
                .values("item")
                .annotate(n=Count("id"))
                .values("n")
            )
            leases = Assignment.objects.filter(item=OuterRef("pk")).order_by().values("item").annotate(n=Count("id"))
            exact = dict(
                Item.objects.filter(pk__in=chunk)
                .annotate(exact=Coalesce(Subquery(human), Value(0)) + Coalesce(Subquery(leases.values("n")), Value(0)))
                .values_list("id", "exact")
            )
            by_load: dict[int, list[int]] = defaultdict(list)
            for item_id, load in exact.items():
                by_load[load].append(item_id)
            for load, same in by_load.items():
                Item.objects.filter(pk__in=same).exclude(load=load).update(load=load)
