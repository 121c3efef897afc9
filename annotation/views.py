"""Server-rendered pages: home, annotate, review. Each view checks the role, calls a service or a
selector, and renders; forms post back here and the page is rebuilt with the typed values and
per-criterion errors when a service refuses them, so nothing typed is lost."""

import math
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

from annotation.acceptance import REASON_KEY
from annotation.models import Gold, Item, ItemStatus, Project, RaterKind, Rating, RatingSource
from annotation.selectors import (
    RATE,
    REVIEW,
    items_for_review,
    project_require,
    projects_with_progress,
    rater_for_user,
    ratings_for_review,
    ratings_visible,
)
from annotation.services.drafts import draft_get
from annotation.services.queue import assignment_claim_next, assignment_skip
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from config.errors import Conflict, validation_errors
from rubrics.models import Criterion
from rubrics.scales import ScaleKind

REVIEW_PAGE_SIZE = 10
# Statuses an item reaches once it has all the human ratings it needs.
_DONE = (ItemStatus.ANNOTATED, ItemStatus.NEEDS_REVIEW, ItemStatus.APPROVED, ItemStatus.REJECTED)
_MAX_SKIP_REASON = 500


def _project_get(request: HttpRequest, project_id: int, roles: frozenset[str]) -> tuple[Project, str]:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    role = project_require(user=request.user, project=project, roles=roles)
    return project, role


def _percent(part: int, whole: int) -> int:
    return math.floor(100 * part / whole) if whole else 0


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    projects = list(projects_with_progress(user=user, done_statuses=_DONE))
    # The tasks page is for acceptance rubrics (binary gates plus a rejection reason): one query.
    acceptance_versions = set(
        Criterion.objects.filter(version_id__in={p.rubric_version_id for p in projects}, key=REASON_KEY).values_list(
            "version_id", flat=True
        )
    )
    rows = []
    for project in projects:
        role_name = "manager" if user.is_staff else project.my_role
        mine_count = project.mine_count or 0
        rows.append(
            {
                "project": project,
                "role": role_name,
                "can_review": role_name in REVIEW,
                "task_buckets": role_name in REVIEW and project.rubric_version_id in acceptance_versions,
                "items": project.item_count,
                "mine": mine_count,
                "mine_percent": _percent(mine_count, project.item_count),
                "done": project.done_count,
                "done_percent": _percent(project.done_count, project.item_count),
            }
        )
    return render(request, "annotation/home.html", {"rows": rows})


def _criteria(project: Project) -> list:
    return list(project.rubric_version.criteria.all())


def _form_value(kind: str, raw: str) -> Any:
    """A posted string as the scale's value; unparseable text goes through unchanged so that
    ``values_clean`` words the error, exactly as the API would."""
    if kind == ScaleKind.TEXT:
        return raw
    raw = raw.strip()
    if raw == "":
        return None
    if kind == ScaleKind.BINARY:
        return {"true": True, "false": False}.get(raw, raw)
    if kind == ScaleKind.CATEGORICAL:
        return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    if kind == ScaleKind.ORDINAL or number.is_integer():
        return int(number) if number.is_integer() else number
    return number


def _rating_from_post(criteria: list, post) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    rationales: dict[str, str] = {}
    for criterion in criteria:
        value = _form_value(criterion.kind, post.get(f"value-{criterion.key}", ""))
        if value is not None and value != "":
            values[criterion.key] = value
        rationale = post.get(f"rationale-{criterion.key}", "").strip()
        if rationale:
            rationales[criterion.key] = rationale
    return values, rationales


def _seconds_from_post(post) -> float | None:
    try:
        seconds = float(post.get("seconds_spent", ""))
    except ValueError:
        return None
    return round(seconds, 1) if math.isfinite(seconds) and seconds >= 0 else None


def _annotate_render(
    request: HttpRequest,
    *,
    project: Project,
    item: Item,
    expires_at=None,
    values: dict,
    rationales: dict,
    errors: dict | None = None,
    seconds_spent: float | None = None,
    draft_updated_at=None,
    status: int = 200,
) -> HttpResponse:
    criteria = _criteria(project)
    config = {
        "itemId": item.pk,
        "projectId": project.pk,
        "draftUrl": f"/api/v1/items/{item.pk}/draft/",
        "criteria": [{"key": c.key, "kind": c.kind} for c in criteria],
        "secondsSpent": seconds_spent or 0,
        "draftUpdatedAt": draft_updated_at.isoformat() if draft_updated_at else None,
        # After a refused submit the page already shows what was typed: don't overwrite it.
        "restoreLocal": not errors,
    }
    context = {
        "project": project,
        "item": item,
        "expires_at": expires_at,
        "criteria": criteria,
        "values": values,
        "rationales": rationales,
        "errors": errors or {},
        "general_errors": (errors or {}).get("values", []) + (errors or {}).get("non_field_errors", []),
        "config": config,
    }
    return render(request, "annotation/annotate.html", context, status=status)


@login_required
@require_GET
def annotate(request: HttpRequest, project_id: int) -> HttpResponse:
    """The next item for this annotator: their live lease if they hold one, else a new claim."""
    project, _ = _project_get(request, project_id, RATE)
    assignment = assignment_claim_next(project=project, user=request.user)
    if assignment is None:
        return render(request, "annotation/queue_empty.html", {"project": project})
    draft = draft_get(item=assignment.item, user=request.user)
    return _annotate_render(
        request,
        project=project,
        item=assignment.item,
        expires_at=assignment.expires_at,
        values=draft.values if draft else {},
        rationales=draft.rationales if draft else {},
        seconds_spent=draft.seconds_spent if draft else None,
        draft_updated_at=getattr(draft, "updated_at", None),
    )


@login_required
@require_http_methods(["GET", "POST"])
def annotate_submit(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":  # the login page's ?next= after a session expired mid-item
        return redirect("annotate", project_id=project_id)
    project, _ = _project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    values, rationales = _rating_from_post(_criteria(project), request.POST)
    seconds = _seconds_from_post(request.POST)
    try:
        rating_submit(
            item=item,
            rater=rater_for_user(user=request.user),
            values=values,
            rationales=rationales,
            seconds_spent=seconds,
            source=RatingSource.UI,
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
        return _annotate_render(
            request,
            project=project,
            item=item,
            values=values,
            rationales=rationales,
            errors=errors,
            seconds_spent=seconds,
            status=400,
        )
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("annotate", project_id=project.pk)
    messages.success(request, f"Saved your rating of {item.external_id}.")
    return redirect("annotate", project_id=project.pk)


@login_required
@require_http_methods(["GET", "POST"])
def annotate_skip(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("annotate", project_id=project_id)
    project, _ = _project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    reason = request.POST.get("reason", "").strip()[:_MAX_SKIP_REASON]
    assignment_skip(project=project, user=request.user, item=item, reason=reason)
    messages.info(request, f"Skipped {item.external_id}.")
    return redirect("annotate", project_id=project.pk)


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
    criteria = _criteria(project)
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
    project, _ = _project_get(request, project_id, REVIEW)
    return _review_render(request, project, page_number=request.GET.get("page"))


@login_required
@require_http_methods(["GET", "POST"])
def review_gold(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect(f"{reverse('review', kwargs={'project_id': project_id})}#item-{item_id}")
    project, _ = _project_get(request, project_id, REVIEW)
    item = get_object_or_404(Item.objects.select_related("project"), pk=item_id, project=project)
    values, rationales = _rating_from_post(_criteria(project), request.POST)
    note = request.POST.get("note", "").strip()
    page_number = request.POST.get("page") or 1
    try:
        gold_set(item=item, reviewer=request.user, values=values, rationales=rationales, note=note)
    except ValidationError as exc:
        posted = {"values": values, "rationales": rationales, "note": note, "errors": validation_errors(exc)}
        return _review_render(request, project, page_number=page_number, posted_for=item.pk, posted=posted)
    messages.success(request, f"Saved the adjudicated values for {item.external_id}.")
    return redirect(f"{reverse('review', kwargs={'project_id': project.pk})}?page={page_number}")
