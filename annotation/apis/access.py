"""The project named in an API URL, for a user with one of the given roles (else 404 / 403)."""

from django.shortcuts import get_object_or_404

from annotation.models import Project
from annotation.selectors import project_require


def project_get(request, project_id: int, roles: frozenset[str]) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=roles)
    return project
