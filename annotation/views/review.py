"""The review page: items that need a reviewer, every rater side by side (judges marked as
machine), and the reviewer's gold."""

from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from annotation.models import Gold, Item, Project, RaterKind, Rating
from annotation.selectors import REVIEW, items_for_review, ratings_for_review, ratings_visible
from annotation.services.review import gold_set
from annotation.views.forms import criteria_of, project_get, rating_from_post
from config.errors import validation_errors
from rubrics.scales import ScaleKind

REVIEW_PAGE_SIZE = 10


def _majority(ratings: list[Rating], criteria: list) -> dict:
    """Per criterion, the value more than half of the raters gave: a starting point for the
    reviewer. Where there is no such value the control starts empty, so a tie is never settled
    by accident."""
    out = {}
    for criterion in criteria:
        if criterion.kind == ScaleKind.TEXT:
            continue
        seen = [r.values[criterion.key] for r in ratings if r.values.get(criterion.key) is not None]
        counts = Counter(map(repr, seen))
        for value in seen:
            if counts[repr(value)] * 2 > len(seen):
                out[criterion.key] = value
                break
    return out


def _review_card(*, user, item: Item, criteria: list, gold: Gold | None, posted: dict | None = None) -> dict:
    ratings = getattr(item, "review_ratings", None)
    if ratings is None:  # an item re-shown after a refused form, no longer in the review list
        version_id = item.project.rubric_version_id
        ratings = [r for r in ratings_visible(user=user, item=item) if r.rubric_version_id == version_id]
    ratings = list(ratings)
    ratings.sort(key=lambda r: (r.rater.kind != RaterKind.HUMAN, r.rater.name.lower()))
    rows = [
        {
            "criterion": c,
            "cells": [{"value": r.values.get(c.key), "rationale": r.rationales.get(c.key, "")} for r in ratings],
            "disagree": c.kind != ScaleKind.TEXT and len({repr(r.values.get(c.key)) for r in ratings}) > 1,
        }
        for c in criteria
    ]
    if posted is not None:
        values, rationales, note, source = posted["values"], posted["rationales"], posted["note"], "posted"
    elif gold is not None:
        values, rationales, note, source = gold.values, gold.rationales, gold.note, "gold"
    else:
        values, rationales, note, source = _majority(ratings, criteria), {}, "", "majority"
    return {
        "item": item,
        "raters": [r.rater for r in ratings],
        "judges": sum(1 for r in ratings if r.rater.kind == RaterKind.JUDGE),
        "rows": rows,
        "gold": gold,
        "values": values,
        "rationales": rationales,
        "note": note,
        "source": source,
        "errors": (posted or {}).get("errors", {}),
    }


def _review_render(
    request: HttpRequest, project: Project, *, page_number: Any, posted_for: int | None = None, posted=None
) -> HttpResponse:
    criteria = criteria_of(project)
    items_qs = items_for_review(project=project).prefetch_related(ratings_for_review(project=project))
    page = Paginator(items_qs, REVIEW_PAGE_SIZE).get_page(page_number)
    items = list(page.object_list)
    if posted_for is not None and all(i.pk != posted_for for i in items):
        items.insert(0, get_object_or_404(Item.objects.select_related("project"), pk=posted_for, project=project))
    golds = {g.item_id: g for g in Gold.objects.filter(item__in=items)}
    cards = [
        _review_card(
            user=request.user,
            item=item,
            criteria=criteria,
            gold=golds.get(item.pk),
            posted=posted if item.pk == posted_for else None,
        )
        for item in items
    ]
    context = {"project": project, "criteria": criteria, "page": page, "cards": cards}
    return render(request, "annotation/review.html", context, status=400 if posted_for else 200)


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """Items that need a reviewer, every rater side by side (judges marked as machine)."""
    project, _ = project_get(request, project_id, REVIEW)
    return _review_render(request, project, page_number=request.GET.get("page"))


@login_required
@require_http_methods(["GET", "POST"])
def review_gold(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect(f"{reverse('review', kwargs={'project_id': project_id})}#item-{item_id}")
    project, _ = project_get(request, project_id, REVIEW)
    item = get_object_or_404(Item.objects.select_related("project"), pk=item_id, project=project)
    entered = rating_from_post(criteria_of(project), request.POST)
    values, rationales = entered.values, entered.rationales
    note = request.POST.get("note", "").strip()
    page_number = request.POST.get("page") or 1
    try:
        gold_set(item=item, reviewer=request.user, values=values, rationales=rationales, note=note)
    except ValidationError as exc:
        posted = {"values": values, "rationales": rationales, "note": note, "errors": validation_errors(exc)}
        return _review_render(request, project, page_number=page_number, posted_for=item.pk, posted=posted)
    messages.success(request, f"Saved the adjudicated values for {item.external_id}.")
    return redirect(f"{reverse('review', kwargs={'project_id': project.pk})}?page={page_number}")
