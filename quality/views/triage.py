"""The dashboard's triage actions for managers: draw (or resize) the audit sample, and choose the
judge-first threshold on gold. Plain form posts that call the same services as the API, then go
back to the dashboard with a message."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, project_require
from quality.services.audit import audit_sample_draw
from quality.services.routing import routing_threshold_choose


def _managed(request: HttpRequest, project_id: int) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version"), pk=project_id)
    try:
        project_require(user=request.user, project=project, roles=MANAGE)
    except PermissionDenied:
        raise PermissionDenied("Only the project's managers draw the audit and choose the threshold.") from None
    return project


def _back(project: Project) -> HttpResponse:
    return redirect("dashboard", project_id=project.pk)


@login_required
@require_POST
def audit_draw(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed(request, project_id)
    raw = request.POST.get("size", "").strip()
    try:
        draw = audit_sample_draw(project=project, size=int(raw) if raw.isdigit() else -1, actor=request.user)
    except ValidationError as exc:
        messages.warning(request, "Audit not drawn: " + " ".join(exc.messages))
        return _back(project)
    messages.success(
        request, f"The audit sample is now {draw.size} items ({draw.added} added, {draw.removed} removed)."
    )
    return _back(project)


@login_required
@require_POST
def routing_threshold(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed(request, project_id)
    policy, tradeoff, _ = routing_threshold_choose(project=project)
    if policy.routing_threshold is None:
        messages.warning(
            request, "No threshold: " + (tradeoff["reason"] or "the judge keeps nothing at any threshold.")
        )
    else:
        messages.success(
            request, f"Threshold {policy.routing_threshold:.3f} chosen on {tradeoff['gold_items']} gold items."
        )
    return _back(project)
