"""Pin a project to a rubric version, after a confirmation that says what happens to the ratings
already made. Same rules as ``PATCH /api/v1/projects/{id}/`` with ``rubric_version``: managers,
only a rubric they can see; ``project_update`` re-decides every item."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import Rating
from annotation.selectors import MANAGE
from annotation.services.projects import project_update
from annotation.views.forms import project_get
from config.errors import validation_errors
from rubrics.models import RubricVersion
from rubrics.selectors import rubrics_for_user


@login_required
@require_http_methods(["GET", "POST"])
def project_rubric(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_get(request, project_id, MANAGE)
    versions = list(
        RubricVersion.objects.filter(rubric__in=rubrics_for_user(user=request.user))
        .select_related("rubric")
        .order_by("rubric__name", "rubric_id", "-number")
    )
    wanted = request.POST.get("version") or request.GET.get("version", "")
    target = next((v for v in versions if str(v.pk) == wanted), None)
    errors: dict = {}
    if request.method == "POST" and target is None:
        errors["version"] = ["choose a rubric version that you can use."]
    elif request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            project_update(project=project, rubric=target)
        except ValidationError as exc:
            errors = validation_errors(exc)
        else:
            messages.success(request, f"{project.name} now uses {target}; every item was decided again under it.")
            return redirect("project-rubric", project_id=project.pk)
    current = project.rubric_version
    context = {
        "project": project,
        "versions": versions,
        "current": current,
        "target": target if target is not None and target.pk != current.pk else None,
        "errors": errors,
        "ratings_now": Rating.objects.filter(item__project=project, rubric_version=current).count(),
        "ratings_target": Rating.objects.filter(item__project=project, rubric_version=target).count() if target else 0,
        "items": project.items.count(),
    }
    return render(request, "annotation/rubric_pin.html", context, status=400 if errors else 200)
