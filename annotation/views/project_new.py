"""The new-project page: name, rubric version and overlap, for those the API lets create projects.

Same rules as ``POST /api/v1/projects/``: staff or the 'add project' permission; only a rubric the
user can see (else its criteria would reach the new project's members); ``project_create`` checks
the rest and its ValidationError is shown beside each field.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.services.projects import project_create
from config.errors import validation_errors
from rubrics.models import RubricVersion
from rubrics.selectors import rubrics_for_user


def project_create_allowed(user) -> bool:
    return user.is_staff or user.has_perm("annotation.add_project")


def _versions(user) -> list[RubricVersion]:
    return list(
        RubricVersion.objects.filter(rubric__in=rubrics_for_user(user=user))
        .select_related("rubric")
        .order_by("rubric__name", "rubric_id", "-number")
    )


def _int_or_raw(text: str):
    try:
        return int(text)
    except ValueError:
        return text  # the service words the error


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    if not project_create_allowed(request.user):
        raise PermissionDenied("Creating projects needs staff status or the 'add project' permission.")
    versions = _versions(request.user)
    errors: dict = {}
    posted = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        chosen = next((v for v in versions if str(v.pk) == posted.get("rubric_version", "")), None)
        if chosen is None:
            errors["rubric"] = ["choose a rubric version that you can use."]
        try:
            if not errors:
                project = project_create(
                    actor=request.user,
                    name=posted.get("name", ""),
                    rubric=chosen,
                    guidelines=posted.get("guidelines", ""),
                    annotations_per_item=_int_or_raw(posted.get("annotations_per_item", "")),
                    lease_minutes=_int_or_raw(posted.get("lease_minutes", "30")),
                )
                messages.success(request, f"Project {project.name} created. Next: invite people, then import items.")
                return redirect("project-members", project_id=project.pk)
        except ValidationError as exc:
            errors = validation_errors(exc)
    context = {
        "versions": versions,
        "posted": posted,
        "errors": errors,
        "chosen": posted.get("rubric_version") or request.GET.get("rubric_version", ""),
    }
    return render(request, "annotation/project_new.html", context, status=400 if errors else 200)
