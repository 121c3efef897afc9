"""The annotate page: the next item for this annotator, rated by keyboard, drafts autosaved; and
one item of theirs by id (/annotate/<item>/), to change a rating, or to take back a skip.

Forms post back to the page's own URL. When a service refuses one, the page answers there with
status 400, the typed values and per-criterion errors (nothing typed is lost, and the page's
script turns the entry into a plain GET so a reload never posts again); a rating that is stored
answers with a redirect (Post/Redirect/Get), so a reload never posts it twice.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Draft, Item, Project, Rating, RatingSource, SendBack, Skip
from annotation.selectors import (
    RATE,
    done_on,
    queue_left,
    rated_today,
    rater_for_user,
    rating_closed_why,
    rating_history,
    recent_done,
)
from annotation.services.drafts import draft_get
from annotation.services.queue import assignment_skip, assignment_unskip
from annotation.services.queue_wait import QueueWait, assignment_claim_or_wait
from annotation.services.ratings import rating_change, rating_submit
from annotation.views.forms import Entered, criteria_of, project_get, rating_from_post
from config.errors import Conflict, validation_errors

_MAX_SKIP_REASON = 500


def _annotate_render(
    request: HttpRequest,
    *,
    project: Project,
    item: Item,
    entered: Entered | Draft | Rating,
    mode: str = "new",
    expires_at=None,
    errors: dict | None = None,
    draft_updated_at=None,
    status: int = 200,
    **extra,
) -> HttpResponse:
    """The page for ``item``. ``mode``: "new" (a rating to make, drafts autosaved), "edit" (a
    rating of theirs to change), "closed" (a rating that can no longer change), "skipped"."""
    criteria = criteria_of(project)
    user = request.user
    here = done_on(project=project, user=user, item=item) if mode != "new" else None
    previous = recent_done(project=project, user=user, before=here, limit=1)
    config = {
        "itemId": item.pk,
        "projectId": project.pk,
        "mode": mode,
        # Only a rating still to make has a draft: a rating or a skip is stored already.
        "draftUrl": f"/api/v1/items/{item.pk}/draft/" if mode == "new" else None,
        "criteria": [{"key": c.key, "kind": c.kind} for c in criteria],
        "secondsSpent": entered.seconds_spent or 0,
        "draftUpdatedAt": draft_updated_at.isoformat() if draft_updated_at else None,
        # After a refused submit the page already shows what was typed: don't overwrite it.
        "restoreLocal": not errors and mode == "new",
        "refused": bool(errors),
        "previousUrl": reverse("annotate-item", args=[project.pk, previous[0].item_id]) if previous else None,
        "queueUrl": reverse("annotate", args=[project.pk]),
    }
    context = {
        "project": project,
        "item": item,
        "mode": mode,
        "expires_at": expires_at,
        "criteria": criteria,
        "values": entered.values,
        "rationales": entered.rationales,
        "errors": errors or {},
        "general_errors": (errors or {}).get("values", []) + (errors or {}).get("non_field_errors", []),
        "config": config,
        "left": queue_left(project=project, user=user),
        "today": rated_today(project=project, user=user),
        "recent": recent_done(project=project, user=user),
        "action": request.path,
        **extra,
    }
    return render(request, "annotation/annotate.html", context, status=status)


def _store(request: HttpRequest, project: Project, item: Item) -> HttpResponse | None:
    """Store the posted rating of ``item`` (a new one, or a change of theirs). None when stored;
    else the page again with the errors (400), or a redirect with the refusal (409's message)."""
    entered = rating_from_post(criteria_of(project), request.POST)
    rater = rater_for_user(user=request.user)
    mine = Rating.objects.filter(item=item, rater=rater, rubric_version_id=project.rubric_version_id).first()
    fields = {"values": entered.values, "rationales": entered.rationales, "seconds_spent": entered.seconds_spent}
    try:
        if mine is None:
            rating_submit(item=item, rater=rater, source=RatingSource.UI, **fields)
        else:
            rating_change(item=item, rater=rater, actor=request.user, source=RatingSource.UI, **fields)
    except ValidationError as exc:
        mode = "new" if mine is None else "edit"
        extra = {"history": list(rating_history(rating=mine))} if mine else {}
        return _annotate_render(
            request,
            project=project,
            item=item,
            entered=entered,
            mode=mode,
            errors=validation_errors(exc),
            status=400,
            **extra,
        )
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect(request.path)
    verb = "Saved" if mine is None else "Changed"
    messages.success(request, f"{verb} your rating of {item.external_id}.")
    return None


@login_required
@require_http_methods(["GET", "POST"])
def annotate(request: HttpRequest, project_id: int) -> HttpResponse:
    """The next item for this annotator: their live lease if they hold one, else a new claim.
    POST: the rating of the item the page showed (its id in ``item``), then the next one."""
    project, _ = project_get(request, project_id, RATE)
    if request.method == "POST":
        item = get_object_or_404(Item, pk=request.POST.get("item") or 0, project=project)
        return _store(request, project, item) or redirect("annotate", project_id=project.pk)
    assignment = assignment_claim_or_wait(project=project, user=request.user)
    if assignment is None or isinstance(assignment, QueueWait):
        # Nothing to rate now. Waiting (items others hold may come back): the page asks again
        # after retry_after seconds; nothing left: it says so and stays.
        recent = recent_done(project=project, user=request.user)
        previous = reverse("annotate-item", args=[project.pk, recent[0].item_id]) if recent else None
        config = {"mode": "empty", "previousUrl": previous}
        if assignment is not None:
            queue_url = reverse("annotate", args=[project.pk])
            config |= {"mode": "waiting", "retryAfter": assignment.retry_after, "queueUrl": queue_url}
        context = {"project": project, "recent": recent, "config": config, "wait": assignment}
        return render(request, "annotation/queue_empty.html", context)
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
def annotate_item(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """One item of this annotator's: their rating to change (with its history), or their skip to
    take back; an item they never touched can be rated here too, while it has room."""
    project, _ = project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    if request.method == "POST":
        return _store(request, project, item) or redirect("annotate", project_id=project.pk)
    rating = Rating.objects.filter(
        item=item, rater__user=request.user, rubric_version_id=project.rubric_version_id
    ).first()
    if rating is not None:
        history = list(rating_history(rating=rating))
        closed = rating_closed_why(item_id=item.pk, rubric_version_id=project.rubric_version_id)
        mode = "closed" if closed else "edit"
        return _annotate_render(
            request,
            project=project,
            item=item,
            entered=rating,
            mode=mode,
            history=history,
            closed=closed,
            rating=rating,
            send_back=SendBack.objects.filter(item=item).first(),
        )
    skip = Skip.objects.filter(item=item, user=request.user).first()
    if skip is not None:
        return _annotate_render(request, project=project, item=item, entered=Entered(), mode="skipped", skip=skip)
    draft = draft_get(item=item, user=request.user)
    return _annotate_render(
        request,
        project=project,
        item=item,
        entered=draft or Entered(),
        draft_updated_at=getattr(draft, "updated_at", None),
    )


@login_required
@require_http_methods(["GET", "POST"])
def annotate_skip(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("annotate", project_id=project_id)
    project, _ = project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    reason = request.POST.get("reason", "").strip()[:_MAX_SKIP_REASON]
    assignment_skip(project=project, user=request.user, item=item, reason=reason)
    messages.info(request, f"Skipped {item.external_id}. Press ← to go back to it.")
    return redirect("annotate", project_id=project.pk)


@login_required
@require_POST
def annotate_unskip(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """Take back a skip: the item is the annotator's to rate again, on its page."""
    project, _ = project_get(request, project_id, RATE)
    item = get_object_or_404(Item, pk=item_id, project=project)
    assignment_unskip(project=project, user=request.user, item=item)
    messages.info(request, f"{item.external_id} is back in your queue; rate it here.")
    return redirect("annotate-item", project_id=project.pk, item_id=item.pk)
