"""The annotate page: the next item for this annotator, rated by keyboard, drafts autosaved.

Forms post back here; when a service refuses them the page is rebuilt with the typed values and
per-criterion errors, so nothing typed is lost.
"""


from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation.models import Draft, Item, Project, RatingSource
from annotation.selectors import RATE, rater_for_user
from annotation.services.drafts import draft_get
from annotation.services.queue import assignment_claim_next, assignment_skip
from annotation.services.ratings import rating_submit
from annotation.views.forms import Entered, criteria_of, project_get, rating_from_post
from config.errors import Conflict, validation_errors

_MAX_SKIP_REASON = 500


def _annotate_render(
    request: HttpRequest,
    *,
    project: Project,
    item: Item,
    entered: Entered | Draft,
    expires_at=None,
    errors: dict | None = None,
    draft_updated_at=None,
    status: int = 200,
) -> HttpResponse:
    criteria = criteria_of(project)
    config = {
        "itemId": item.pk,
        "projectId": project.pk,
        "draftUrl": f"/api/v1/items/{item.pk}/draft/",
        "criteria": [{"key": c.key, "kind": c.kind} for c in criteria],
        "secondsSpent": entered.seconds_spent or 0,
        "draftUpdatedAt": draft_updated_at.isoformat() if draft_updated_at else None,
        # After a refused submit the page already shows what was typed: don't overwrite it.
        "restoreLocal": not errors,
    }
    context = {
        "project": project,
        "item": item,
        "expires_at": expires_at,
        "criteria": criteria,
        "values": entered.values,
        "rationales": entered.rationales,
        "errors": errors or {},
        "general_errors": (errors or {}).get("values", []) + (errors or {}).get("non_field_errors", []),
        "config": config,
    }
    return render(request, "annotation/annotate.html", context, status=status)


@login_required
@require_GET
def annotate(request: HttpRequest, project_id: int) -> HttpResponse:
    """The next item for this annotator: their live lease if they hold one, else a new claim."""
    project, _ = project_get(request, project_id, RATE)
    assignment = assignment_claim_next(project=project, user=request.user)
    if assignment is None:
        return render(request, "annotation/queue_empty.html", {"project": project})
    draft = draft_get(item=assignment.item, user=request.user)
    return _annotate_render(
        request,
        project=project,
        item=assignment.item,
        expires_at=assignment.expires_at,
        entered=draft or Entered(),
        draft_updated_at=getattr(draft, "updated_at", None),
    )


@login_required
@require_http_methods(["GET", "POST"])
def annotate_submit(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":  # the login page's ?next= after a session expired mid-item
        return redirect("annotate", project_id=project_id)
    project, _ = project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    entered = rating_from_post(criteria_of(project), request.POST)
    try:
        rating_submit(
            item=item,
            rater=rater_for_user(user=request.user),
            values=entered.values,
            rationales=entered.rationales,
            seconds_spent=entered.seconds_spent,
            source=RatingSource.UI,
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
        return _annotate_render(request, project=project, item=item, entered=entered, errors=errors, status=400)
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
    project, _ = project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    reason = request.POST.get("reason", "").strip()[:_MAX_SKIP_REASON]
    assignment_skip(project=project, user=request.user, item=item, reason=reason)
    messages.info(request, f"Skipped {item.external_id}.")
    return redirect("annotate", project_id=project.pk)
