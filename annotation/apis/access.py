"""The project named in an API URL, for a user with one of the given roles (else 404 / 403)."""

from django.db import connection
from django.http import Http404

from annotation.models import Membership, Project
from annotation.selectors import membership_role, project_require
from config.round_trips import BIGINT_MAX, BIGINT_MIN, columns, instance, width
from rubrics.models import Rubric, RubricVersion


def project_get(request, project_id: int, roles: frozenset[str]) -> Project:
    # The user's role comes in the same query: this runs at the start of most API calls.
    project = _project_with_role(request.user, project_id)
    if project is None:
        raise Http404("No Project matches the given query.")
    project_require(user=request.user, project=project, roles=roles, role=project.role_of_user)
    return project


def _project_with_role(user, project_id: int) -> Project | None:
    """The project with its rubric version and rubric, and ``role_of_user``. On PostgreSQL written
    out: built through the ORM the query cost more Python time than the database spends on it."""
    if connection.vendor != "postgresql":
        projects = Project.objects.select_related("rubric_version__rubric").annotate(
            role_of_user=membership_role(user=user)
        )
        return projects.filter(pk=project_id).first()
    if not BIGINT_MIN <= project_id <= BIGINT_MAX:
        return None  # the ORM finds nothing there too; PostgreSQL would refuse the number
    sql = (
        f"SELECT {columns(Project, 'p')}, {columns(RubricVersion, 'v')}, {columns(Rubric, 'r')}, "
        f"(SELECT m.role FROM {Membership._meta.db_table} m WHERE m.project_id = p.id AND m.user_id = %s "
        f"ORDER BY m.id LIMIT 1) "
        f"FROM {Project._meta.db_table} p JOIN {RubricVersion._meta.db_table} v ON v.id = p.rubric_version_id "
        f"JOIN {Rubric._meta.db_table} r ON r.id = v.rubric_id WHERE p.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, project_id])
        row = cursor.fetchone()
    if row is None:
        return None
    at = [0, width(Project), width(Project) + width(RubricVersion)]
    project = instance(Project, row[: at[1]])
    project.rubric_version = instance(RubricVersion, row[at[1] : at[2]])
    project.rubric_version.rubric = instance(Rubric, row[at[2] : -1])
    project.role_of_user = row[-1]
    return project
