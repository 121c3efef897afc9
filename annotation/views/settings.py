"""A project's settings hub: one page listing every page a manager configures the project on."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotation.models import Project
from annotation.selectors import MANAGE, project_require


@login_required
@require_GET
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    return render(request, "annotation/settings.html", {"project": project})
