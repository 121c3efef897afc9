"""Choosing few-shot examples for a judge: items whose answer the project trusts.

Candidates are items with gold (a reviewer's adjudication) under the project's rubric version,
then items where two or more people gave identical values on every criterion. From those we pick
so the examples cover the scale: candidates are grouped by their value on the first scored
criterion and taken round-robin across the groups, in scale order. The pool holds k + 1 examples,
so that when the judged item is itself in the pool it is left out and k examples remain: a judge
never sees the item it is rating among its examples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from annotation.models import Gold, Item, Project, RaterKind, Rating
from rubrics.scales import ScaleKind, values_clean

MAX_CANDIDATES = 5_000


def _order_key(criterion: Any, value: Any) -> tuple:
    if criterion.kind == ScaleKind.CATEGORICAL and value in criterion.scale["choices"]:
        return (0, criterion.scale["choices"].index(value))
    if isinstance(value, bool):
        return (0, int(not value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))


def fewshot_pool(*, project: Project, k: int) -> list[dict]:
    """Up to k + 1 examples ``{item_id, data, values, rationales, source}``, spread over the scale."""
    if k <= 0:
        return []
    version = project.rubric_version
    criteria = list(version.criteria.all())
    candidates: list[dict] = []
    seen: set[int] = set()
    for gold in Gold.objects.filter(item__project=project, rubric_version=version).order_by("item_id")[:MAX_CANDIDATES]:
        candidates.append(
            {"item_id": gold.item_id, "values": gold.values, "rationales": gold.rationales, "source": "gold"}
        )
        seen.add(gold.item_id)

    by_item: dict[int, list[tuple[dict, dict]]] = defaultdict(list)
    human = (
        Rating.objects.filter(item__project=project, rubric_version=version, rater__kind=RaterKind.HUMAN)
        .order_by("item_id", "id")
        .values_list("item_id", "values", "rationales")
    )
    for item_id, values, rationales in human[: MAX_CANDIDATES * 5]:
        if item_id not in seen:
            by_item[item_id].append((values, rationales))
    for item_id, ratings in by_item.items():
        if len(ratings) >= 2 and all(v == ratings[0][0] for v, _ in ratings):
            rationales = next((r for _, r in ratings if r), {})
            candidates.append(
                {"item_id": item_id, "values": ratings[0][0], "rationales": rationales, "source": "unanimous"}
            )

    valid = []
    for candidate in candidates:
        try:
            candidate["values"], candidate["rationales"] = values_clean(
                criteria=criteria, values=candidate["values"], rationales=candidate["rationales"]
            )
        except ValidationError:
            continue  # stale or partial: not an example we can vouch for
        valid.append(candidate)
    chosen = spread_pick(valid, criteria=criteria, count=k + 1)
    data = dict(Item.objects.filter(id__in=[c["item_id"] for c in chosen]).values_list("id", "data"))
    for candidate in chosen:
        candidate["data"] = data.get(candidate["item_id"])
    return chosen


def spread_pick(candidates: Sequence[dict], *, criteria: Sequence[Any], count: int) -> list[dict]:
    """Round-robin over the values of the first scored criterion, gold before unanimous."""
    primary = next((c for c in criteria if c.kind != ScaleKind.TEXT), None)
    ordered = sorted(candidates, key=lambda c: (c["source"] != "gold", c["item_id"]))
    if primary is None:
        return list(ordered[:count])
    groups: dict[Any, list[dict]] = defaultdict(list)
    for candidate in ordered:
        value = candidate["values"].get(primary.key)
        groups[(_order_key(primary, value), repr(value))].append(candidate)
    columns = [groups[key] for key in sorted(groups)]
    picked: list[dict] = []
    depth = 0
    while len(picked) < count and any(depth < len(col) for col in columns):
        for col in columns:
            if depth < len(col) and len(picked) < count:
                picked.append(col[depth])
        depth += 1
    return picked


def examples_for(*, item_id: int, pool: Sequence[dict], k: int) -> list[dict]:
    """The k examples for one item: the pool without the item itself."""
    return [e for e in pool if e["item_id"] != item_id][:k]
