"""The triage actions for managers: draw (or resize) the audit sample and choose the judge-first
threshold on gold (from the dashboard), fit the posterior stopping rule (from the policy page).
Plain form posts that call the same services as the API, then go back to their page with a
message (Post/Redirect/Get)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, project_require
from quality.services.approval import Decided
from quality.services.audit import audit_sample_draw
from quality.services.posterior import posterior_fit_request
from quality.services.routing import routing_threshold_choose


def _managed(request: HttpRequest, project_id: int) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version"), pk=project_id)
    try:
        project_require(user=request.user, project=project, roles=MANAGE)
    except PermissionDenied:
        raise PermissionDenied("Only the project's managers draw the audit, choose the threshold and fit.") from None
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


@login_required
@require_POST
def posterior_fit(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed(request, project_id)
    try:
        fit = posterior_fit_request(project=project)
    except ValidationError as exc:
        messages.warning(request, "Not fitted: " + " ".join(exc.messages))
    else:
        if fit.queued:
            messages.success(request, f"Fitting on a worker ({fit.ratings:,} ratings): reload this page to see it.")
            return redirect("project-policy-page", project_id=project.pk)
        policy, decision = fit.policy, fit.decision
        model = policy.posterior_model
        then = "the items are being re-decided in the background" if decision.outcome == Decided.QUEUED else (
            f"{decision.changed} item(s) changed decision"
        )  # fmt: skip
        messages.success(
            request,
            f"Posterior rule fitted on {model.get('gold_items', 0)} gold item(s) and "
            f"{model.get('human_ratings', 0)} human rating(s); {then}.",
        )
    return redirect("project-policy-page", project_id=project.pk)
