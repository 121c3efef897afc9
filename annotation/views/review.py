"""The review page, built for speed: one item at a time, every rater side by side (judges marked
as machine), the disagreement highlighted, and one key per decision: accept the majority (A),
take one rater's answer (1-9), edit the values (E), send the item back to its raters (B), or
move on (N). A decision stores the reviewer's gold and shows the next item. ``?audit=1`` keeps
to the audit sample's items (the dashboard's link), on every page of the round.

Forms post to the item's own page; a refused one answers there with status 400 and what was
typed, a stored one redirects to the next item (Post/Redirect/Get).
"""

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.models import Gold, Item, Project, RaterKind, Rating
from annotation.selectors import REVIEW, review_left, review_next, without_jit
from annotation.services.review import gold_set, item_send_back
from annotation.views.forms import criteria_of, project_get, rating_from_post
from config.errors import Conflict, validation_errors
from rubrics.scales import ScaleKind


def _majority(ratings: list[Rating], criteria: list) -> dict:
    """Per criterion, the value more than half of the people gave (judges are shown, not
    counted). Where there is no such value there is none: a tie is never settled by accident."""
    people = [r for r in ratings if r.rater.kind == RaterKind.HUMAN] or ratings
    out = {}
    for criterion in criteria:
        if criterion.kind == ScaleKind.TEXT:
            continue
        seen = [r.values[criterion.key] for r in people if r.values.get(criterion.key) is not None]
        counts = Counter(map(repr, seen))
        for value in seen:
            if counts[repr(value)] * 2 > len(seen):
                out[criterion.key] = value
                break
    return out


def _no_majority(majority: dict, criteria: list) -> list[str]:
    """The required scored criteria the majority leaves open."""
    return [c.title for c in criteria if c.kind != ScaleKind.TEXT and c.required and c.key not in majority]


def _ratings_of(item: Item) -> list[Rating]:
    ratings = list(
        Rating.objects.filter(item=item, rubric_version_id=item.project.rubric_version_id).select_related("rater")
    )
    ratings.sort(key=lambda r: (r.rater.kind != RaterKind.HUMAN, r.rater.name.lower(), r.pk))
    return ratings


def _review_render(
    request: HttpRequest, project: Project, item: Item, *, posted: dict | None = None, wrapped: bool = False
) -> HttpResponse:
    criteria = criteria_of(project)
    ratings = _ratings_of(item)
    majority = _majority(ratings, criteria)
    rows = []
    for c in criteria:
        values = [r.values.get(c.key) for r in ratings]
        disagree = c.kind != ScaleKind.TEXT and len({repr(v) for v in values}) > 1
        cells = [
            # "off": a value the reviewer should look at, where the raters disagree and it is not the majority.
            {"value": v, "rationale": r.rationales.get(c.key, ""), "off": disagree and v != majority.get(c.key)}
            for v, r in zip(values, ratings, strict=True)
        ]
        rows.append({"criterion": c, "majority": majority.get(c.key), "disagree": disagree, "cells": cells})
    gold = Gold.objects.filter(item=item).first()
    if posted is not None:
        values, rationales, note, source = posted["values"], posted["rationales"], posted["note"], "posted"
    elif gold is not None:
        values, rationales, note, source = gold.values, gold.rationales, gold.note, "gold"
    else:
        values, rationales, note, source = majority, {}, "", "majority"
    errors = (posted or {}).get("errors", {})
    context = {
        "project": project,
        "item": item,
        "criteria": criteria,
        "ratings": ratings[:9],
        "more_raters": len(ratings) - 9 if len(ratings) > 9 else 0,
        "judges": sum(1 for r in ratings if r.rater.kind == RaterKind.JUDGE),
        "rows": rows,
        "no_majority": _no_majority(majority, criteria),
        "gold": gold,
        "values": values,
        "rationales": rationales,
        "note": note,
        "source": source,
        "errors": errors,
        "general_errors": errors.get("values", []) + errors.get("non_field_errors", []),
        "left": _left(project, _audit_only(request)),
        "wrapped": wrapped,
        "audit_only": _audit_only(request),
        "filter_query": "?audit=1" if _audit_only(request) else "",
        "config": {"refused": posted is not None, "nextUrl": _next_url(project, item, _audit_only(request))},
    }
    return render(request, "annotation/review.html", context, status=400 if posted is not None else 200)


def _left(project: Project, audit_only: bool) -> int:
    with without_jit():
        return review_left(project=project, audit_only=audit_only)


def _audit_only(request: HttpRequest) -> bool:
    return request.GET.get("audit") == "1"


def _next_url(project: Project, item: Item, audit_only: bool = False) -> str:
    return f"{reverse('review', kwargs={'project_id': project.pk})}?after={item.pk}" + (
        "&audit=1" if audit_only else ""
    )


def _after(request: HttpRequest) -> int | None:
    raw = request.GET.get("after", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """The next item waiting for a reviewer: the oldest, or the first after ``?after=<id>`` (the
    next-item key), starting again from the oldest at the end of the list."""
    project, _ = project_get(request, project_id, REVIEW)
    # The criteria once for the whole page (the review list's conditions read them too).
    prefetch_related_objects([project.rubric_version], "criteria")
    after, audit_only = _after(request), _audit_only(request)
    with without_jit():
        item = review_next(project=project, after=after, audit_only=audit_only) if after is not None else None
        wrapped = after is not None and item is None
        if item is None:
            item = review_next(project=project, audit_only=audit_only)
    if item is None:
        return render(request, "annotation/review_empty.html", {"project": project, "audit_only": audit_only})
    item.project = project
    return _review_render(request, project, item, wrapped=wrapped)


@login_required
@require_http_methods(["GET", "POST"])
def review_gold(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """One item to review. POST ``decision``: ``majority`` (the people's majority value of every
    criterion), ``rater`` (``rater``: that rater's values and rationales) or the edited values."""
    project, _ = project_get(request, project_id, REVIEW)
    prefetch_related_objects([project.rubric_version], "criteria")
    item = get_object_or_404(Item.objects.select_related("project"), pk=item_id, project=project)
    if request.method == "GET":
        return _review_render(request, project, item)
    criteria = criteria_of(project)
    decision = request.POST.get("decision", "edit")
    entered = rating_from_post(criteria, request.POST)
    values, rationales = entered.values, entered.rationales
    note = request.POST.get("note", "").strip()
    if decision in ("majority", "rater"):
        ratings = _ratings_of(item)
        if decision == "majority":
            values, rationales, note = _majority(ratings, criteria), {}, note or "Accepted the majority."
            missing = _no_majority(values, criteria)
        else:
            chosen = next((r for r in ratings if str(r.rater_id) == request.POST.get("rater")), None)
            missing = [] if chosen else ["the chosen rater"]
            if chosen:
                values, rationales = chosen.values, chosen.rationales
                note = note or f"Took {chosen.rater.name}'s answer."
        if missing:
            error = {"non_field_errors": [f"No majority on {', '.join(missing)}: take a rater's answer or edit."]}
            posted = {"values": values, "rationales": rationales, "note": note, "errors": error}
            return _review_render(request, project, item, posted=posted)
    try:
        gold_set(item=item, reviewer=request.user, values=values, rationales=rationales, note=note)
    except ValidationError as exc:
        posted = {"values": values, "rationales": rationales, "note": note, "errors": validation_errors(exc)}
        return _review_render(request, project, item, posted=posted)
    messages.success(request, f"Saved the adjudicated values for {item.external_id}.")
    return redirect(_next_url(project, item, _audit_only(request)))


@login_required
@require_POST
def review_send_back(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """Send the item back to its raters with a note, and go on to the next one."""
    project, _ = project_get(request, project_id, REVIEW)
    item = get_object_or_404(Item.objects.select_related("project"), pk=item_id, project=project)
    try:
        item_send_back(item=item, reviewer=request.user, note=request.POST.get("note", "")[:20_000])
    except Conflict as exc:
        messages.warning(request, exc.message)
        back = reverse("review-gold", kwargs={"project_id": project.pk, "item_id": item.pk})
        return redirect(back + ("?audit=1" if _audit_only(request) else ""))
    messages.info(request, f"Sent {item.external_id} back to its raters.")
    return redirect(_next_url(project, item, _audit_only(request)))
