"""The items browser and the item page, for reviewers and managers.

The browser reads through quality/selectors/items_browser.py; the item page's actions (send to
review, reject, reopen) call the services the REST API calls (quality/services/approval.py), so
the page and the API never disagree. A refused action answers the item page with status 400 and
the message beside its field; a done one redirects back (Post/Redirect/Get).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation.models import Gold, Item, ItemStatus, Project, RaterKind, Rating, RatingChange, SendBack
from annotation.selectors import REVIEW, project_require
from config.errors import Conflict
from quality.models import ReviewRequest
from quality.selectors.acceptance import BUCKETS, acceptance_of
from quality.selectors.items_browser import (
    DISAGREEMENT,
    SORTS,
    ItemFilters,
    item_filters_parse,
    items_page,
    raters_of,
)
from quality.services.approval import item_reject, item_reopen, item_send_to_review
from rubrics.gates import gates_of

ACTIONS = ("send_to_review", "reject", "reopen")


def _project(request: HttpRequest, project_id: int) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=REVIEW)
    return project


@login_required
@require_GET
def items_browser(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project(request, project_id)
    has_gates = bool(gates_of(project.rubric_version))
    errors: dict = {}
    try:
        filters = item_filters_parse(request.GET, has_gates=has_gates)
    except ValidationError as exc:
        errors, filters = exc.message_dict, ItemFilters()
    page = None
    if not errors:
        try:
            page = items_page(project=project, filters=filters, cursor=request.GET.get("cursor", ""))
        except ValidationError as exc:
            errors = exc.message_dict
    query = QueryDict(mutable=True)
    query.update(filters.query())
    next_query = None
    if page and page.next_cursor:
        next_query = query.copy()
        next_query["cursor"] = page.next_cursor
    context = {
        "project": project,
        "filters": filters,
        "page": page,
        "errors": errors,
        "statuses": ItemStatus.choices,
        "buckets": BUCKETS if has_gates else (),
        "disagreement_levels": list(DISAGREEMENT),
        "sorts": SORTS,
        "raters": raters_of(project=project),
        "first_query": query.urlencode(),
        "next_query": next_query.urlencode() if next_query else None,
        "paged": bool(request.GET.get("cursor")),
        "item_query": query.urlencode(),
    }
    return render(request, "quality/items.html", context, status=400 if errors else 200)


def _history(item: Item, ratings: list[Rating]) -> list[dict]:
    """What happened to the item, newest first: ratings and their corrections, gold, send-back,
    review request, and the current decision."""
    events = [
        {"at": r.created_at, "what": "rated", "who": r.rater.name, "machine": r.rater.kind == RaterKind.JUDGE}
        for r in ratings
    ]
    for change in RatingChange.objects.filter(rating__item=item).select_related("changed_by", "rating__rater"):
        events.append(
            {
                "at": change.created_at,
                "what": "rating corrected",
                "who": change.changed_by.get_username() if change.changed_by else change.rating.rater.name,
                "detail": {"before": change.values_before, "after": change.values_after},
            }
        )
    gold = Gold.objects.filter(item=item).select_related("reviewer").first()
    if gold:
        who = gold.reviewer.get_username() if gold.reviewer else "a reviewer"
        events.append({"at": gold.updated_at, "what": "adjudicated (gold)", "who": who, "note": gold.note})
    back = SendBack.objects.filter(item=item).select_related("reviewer").first()
    if back:
        who = back.reviewer.get_username() if back.reviewer else "a reviewer"
        events.append({"at": back.created_at, "what": "sent back to its raters", "who": who, "note": back.note})
    request = ReviewRequest.objects.filter(item=item).select_related("requested_by").first()
    if request:
        who = request.requested_by.get_username() if request.requested_by else ""
        events.append({"at": request.created_at, "what": "sent to review", "who": who, "note": request.reason})
    if item.decided_at:
        events.append(
            {
                "at": item.decided_at,
                "what": f"decided: {item.get_status_display()}",
                "who": item.get_approved_by_display() if item.approved_by else "",
                "note": item.decision_reason,
            }
        )
    return sorted(events, key=lambda e: e["at"], reverse=True)


def _item_render(request, project: Project, item: Item, *, errors: dict | None = None, posted=None, status=200):
    criteria = list(project.rubric_version.criteria.all())
    ratings = list(Rating.objects.filter(item=item).select_related("rater", "rubric_version").order_by("id"))
    ratings.sort(key=lambda r: (r.rubric_version_id != project.rubric_version_id, r.rater.kind != RaterKind.HUMAN))
    rows = [
        {
            "rating": r,
            "current": r.rubric_version_id == project.rubric_version_id,
            "cells": [
                {"value": r.values.get(c.key), "rationale": r.rationales.get(c.key, ""), "has": c.key in r.values}
                for c in criteria
            ],
        }
        for r in ratings
    ]
    requested = ReviewRequest.objects.filter(item=item).exists()
    gold = Gold.objects.filter(item=item, rubric_version_id=project.rubric_version_id).exists()
    rejected = item.status == ItemStatus.REJECTED and item.approved_by == ""
    context = {
        "project": project,
        "item": item,
        "criteria": criteria,
        "rows": rows,
        "consensus": [(c, item.consensus.get(c.key)) for c in criteria if c.key in item.consensus],
        "acceptance": acceptance_of(
            gates=gates_of(project.rubric_version), status=item.status, consensus=item.consensus
        ),
        "history": _history(item, ratings),
        "can_send": not rejected and not gold and not requested,
        "can_reject": not rejected,
        "can_reopen": rejected or requested,
        "errors": errors or {},
        "posted": posted or {},
        "back_query": request.GET.urlencode(),
        "crumb": item.external_id,
    }
    return render(request, "quality/item.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def item_page(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    project = _project(request, project_id)
    item = get_object_or_404(Item.objects.select_related("project"), pk=item_id, project=project)
    if request.method == "GET":
        return _item_render(request, project, item)
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "")
    try:
        if action == "send_to_review":
            item_send_to_review(item=item, actor=request.user, reason=reason)
            messages.success(request, "Sent to review: it waits for a reviewer's decision.")
        elif action == "reject":
            item_reject(item=item, actor=request.user, reason=reason)
            messages.success(request, "Rejected.")
        elif action == "reopen":
            item = item_reopen(item=item, actor=request.user)
            messages.success(request, f"Reopened: the policy now says {item.get_status_display()}.")
        else:
            raise ValidationError({"action": [f"must be one of {', '.join(ACTIONS)}."]})
    except ValidationError as exc:
        item.refresh_from_db()
        errors = {f"{action}_{k}": v for k, v in exc.message_dict.items()}
        return _item_render(request, project, item, errors=errors, posted={action: reason}, status=400)
    except Conflict as exc:
        item.refresh_from_db()
        return _item_render(request, project, item, errors={"conflict": [exc.message]}, status=409)
    return redirect("project-item-page", project_id=project.pk, item_id=item.pk)
