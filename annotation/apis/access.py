"""The project named in an API URL, for a user with one of the given roles (else 404 / 403)."""

from django.shortcuts import get_object_or_404

from annotation.models import Project
from annotation.selectors import membership_role, project_require


def project_get(request, project_id: int, roles: frozenset[str]) -> Project:
    # The user's role comes in the same query: this runs at the start of most API calls.
    projects = Project.objects.select_related("rubric_version__rubric").annotate(
        role_of_user=membership_role(user=request.user)
    )
    project = get_object_or_404(projects, pk=project_id)
    project_require(user=request.user, project=project, roles=roles, role=project.role_of_user)
    return project
