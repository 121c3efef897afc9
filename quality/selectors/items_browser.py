"""The items browser's read: a project's items under one or more filters, sorted, a page at a
time by a keyset cursor (no OFFSET, so page 2,000 costs what page 1 does).

Every filter is one condition on the item row or one EXISTS probe on an index, so that with
100,000 items a page stays under 300 ms with any one filter (benchmarks/items_browser.py).
"""

import base64
import binascii
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, FloatField, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast

from annotation.models import Item, ItemStatus, Project, Rater, RaterKind, Rating
from quality.selectors.acceptance import BUCKETS, acceptance_of, bucket_filter
from rubrics.gates import gates_of
from rubrics.scales import ScaleKind

SORTS = {
    "id": "oldest first",
    "-id": "newest first",
    "external_id": "external id (A to Z)",
    "-updated_at": "recently changed",
}
# Rater disagreement: the largest of an item's per-criterion scores (0 = all agree, 1 = maximal).
DISAGREEMENT = {"any": 0.0, "high": 0.5}
PAGE_SIZE = 50
_NUMERIC = (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO)


@dataclass(frozen=True)
class ItemFilters:
    status: str = ""
    bucket: str = ""
    disagreement: str = ""
    judge_disagrees: bool = False
    rater: int | None = None
    q: str = ""
    sort: str = "id"

    def query(self) -> dict[str, str]:
        """The filters as query-string parameters (empty ones left out), for links to this list."""
        raw = {
            "status": self.status,
            "bucket": self.bucket,
            "disagreement": self.disagreement,
            "judge": "disagrees" if self.judge_disagrees else "",
            "rater": str(self.rater or ""),
            "q": self.q,
            "sort": "" if self.sort == "id" else self.sort,
        }
        return {k: v for k, v in raw.items() if v}


def item_filters_parse(params, *, has_gates: bool) -> ItemFilters:
    """Read the filters from a query string; ValidationError names each bad one."""
    errors: dict[str, list[str]] = {}
    status = params.get("status", "")
    if status and status not in ItemStatus.values:
        errors["status"] = [f"must be one of {', '.join(ItemStatus.values)}."]
    bucket = params.get("bucket", "")
    if bucket and (bucket not in BUCKETS or not has_gates):
        errors["bucket"] = ["this project's rubric has no acceptance gates." if not has_gates else "unknown bucket."]
    disagreement = params.get("disagreement", "")
    if disagreement and disagreement not in DISAGREEMENT:
        errors["disagreement"] = ["must be any or high."]
    judge = params.get("judge", "")
    if judge not in ("", "disagrees"):
        errors["judge"] = ["must be disagrees."]
    rater = params.get("rater", "")
    if rater and not (rater.isascii() and rater.isdigit() and len(rater) < 12):
        errors["rater"] = ["must be a rater id."]
    sort = params.get("sort", "") or "id"
    if sort not in SORTS:
        errors["sort"] = [f"must be one of {', '.join(SORTS)}."]
    q = params.get("q", "").strip()[:255]
    if errors:
        raise ValidationError(errors)
    return ItemFilters(status, bucket, disagreement, judge == "disagrees", int(rater) if rater else None, q, sort)


def _judge_disagrees(project: Project) -> Exists:
    """Some judge's value differs from the item's consensus on some scored criterion. Numbers are
    compared as numbers (a consensus median of 4.0 agrees with a judge's 4), the rest as text."""
    differs = []
    for criterion in project.rubric_version.criteria.all():
        if criterion.agreement_level is None:
            continue
        mine = KeyTextTransform(criterion.key, "values")
        theirs = KeyTextTransform(criterion.key, OuterRef("consensus"))
        if criterion.kind in _NUMERIC:
            mine, theirs = Cast(mine, FloatField()), Cast(theirs, FloatField())
        differs.append((mine, theirs))
    ratings = Rating.objects.filter(
        item=OuterRef("pk"), rater__kind=RaterKind.JUDGE, rubric_version_id=project.rubric_version_id
    )
    if not differs:
        return Exists(ratings.none())
    names = {f"_j{i}": mine for i, (mine, _) in enumerate(differs)}
    condition = reduce(or_, (~Q(**{f"_j{i}": theirs}) for i, (_, theirs) in enumerate(differs)))
    return Exists(ratings.alias(**names).filter(condition))


def _disagreement(project: Project, level: str) -> tuple[Q, dict]:
    """Some criterion's stored disagreement score (set when the item was decided) is above the level."""
    keys = [c.key for c in project.rubric_version.criteria.all() if c.agreement_level is not None]
    if not keys:
        return Q(pk__in=[]), {}
    names = {f"_d{i}": Cast(KT(f"disagreement__{key}"), FloatField()) for i, key in enumerate(keys)}
    return reduce(or_, (Q(**{f"{name}__gt": DISAGREEMENT[level]}) for name in names)), names


def items_filtered(*, project: Project, filters: ItemFilters) -> QuerySet[Item]:
    items = Item.objects.filter(project=project)
    if filters.status:
        items = items.filter(status=filters.status)
    if filters.bucket:
        items = items.filter(bucket_filter(gates=gates_of(project.rubric_version), bucket=filters.bucket))
    if filters.disagreement:
        condition, names = _disagreement(project, filters.disagreement)
        items = items.alias(**names).filter(condition)
    if filters.judge_disagrees:
        items = items.filter(_judge_disagrees(project))
    if filters.rater:
        items = items.filter(
            Exists(
                Rating.objects.filter(
                    item=OuterRef("pk"), rater_id=filters.rater, rubric_version_id=project.rubric_version_id
                )
            )
        )
    if filters.q:
        items = items.filter(external_id__icontains=filters.q)
    return items


def _cursor_encode(sort: str, item: Item) -> str:
    field = sort.lstrip("-")
    value = getattr(item, field)
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(json.dumps([value, item.pk]).encode()).decode()


def _cursor_decode(sort: str, cursor: str) -> tuple[Any, int]:
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(pk, int):
            raise ValueError
        if sort.lstrip("-") == "updated_at":
            value = datetime.fromisoformat(value)
        elif sort.lstrip("-") == "id":
            value = int(value)
        elif not isinstance(value, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": ["invalid cursor: follow the page's own links."]}) from None
    return value, pk


@dataclass(frozen=True)
class ItemsPage:
    rows: list[dict]
    next_cursor: str | None


def items_page(*, project: Project, filters: ItemFilters, cursor: str = "", size: int = PAGE_SIZE) -> ItemsPage:
    """One page of the filtered items in ``filters.sort`` order, each row with its counts of
    human and judge ratings, its largest rater disagreement and its acceptance bucket."""
    items = items_filtered(project=project, filters=filters)
    field = filters.sort.lstrip("-")
    descending = filters.sort.startswith("-")
    if cursor:
        value, pk = _cursor_decode(filters.sort, cursor)
        after = "lt" if descending else "gt"
        if field == "id":
            items = items.filter(**{f"id__{after}": pk})
        else:
            items = items.filter(Q(**{f"{field}__{after}": value}) | Q(**{field: value, f"id__{after}": pk}))
    order = [filters.sort, "-id" if descending else "id"] if field != "id" else [filters.sort]
    page = list(
        items.order_by(*order).only(
            "id", "external_id", "status", "approved_by", "disagreement", "consensus", "data", "updated_at"
        )[: size + 1]
    )
    more = len(page) > size
    page = page[:size]
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {RaterKind.HUMAN: 0, RaterKind.JUDGE: 0})
    for item_id, kind in Rating.objects.filter(
        item_id__in=[i.pk for i in page], rubric_version_id=project.rubric_version_id
    ).values_list("item_id", "rater__kind"):
        counts[item_id][kind] += 1
    gates = gates_of(project.rubric_version)
    rows = [
        {
            "item": item,
            "summary": item_summary(item.data),
            "humans": counts[item.pk][RaterKind.HUMAN],
            "judges": counts[item.pk][RaterKind.JUDGE],
            "disagreement": max(item.disagreement.values(), default=None) if item.disagreement else None,
            "acceptance": acceptance_of(gates=gates, status=item.status, consensus=item.consensus),
        }
        for item in page
    ]
    return ItemsPage(rows, _cursor_encode(filters.sort, page[-1]) if more else None)


def item_summary(data: Any, limit: int = 90) -> str:
    """A line of the item to recognise it by: its first text field, shortened (escaped by the page)."""
    if isinstance(data, dict):
        for key in ("prompt", "instruction", "question", "text", "response", *data):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                text = " ".join(value.split())
                return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def raters_of(*, project: Project) -> list[Rater]:
    """The raters the browser can filter by: the project's members who have a rater, its external
    raters (imported ratings of people without an account here), and the judges that rated its
    items (few, so their EXISTS probes stay cheap)."""
    humans = Rater.objects.filter(Q(user__memberships__project=project) | Q(project=project))
    judges = Rater.objects.filter(kind=RaterKind.JUDGE).filter(
        Exists(Rating.objects.filter(rater=OuterRef("pk"), item__project=project))
    )
    return sorted({*humans, *judges}, key=lambda r: (r.kind != RaterKind.HUMAN, r.name.lower()))
