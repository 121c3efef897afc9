"""The home page: my projects, with progress bars and links to the pages my role may use."""

import math

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.models import Item, ItemStatus
from annotation.selectors import REVIEW, projects_with_progress
from annotation.services.members import invitations_for_user
from rubrics.models import Criterion

_DONE = (ItemStatus.ANNOTATED, ItemStatus.NEEDS_REVIEW, ItemStatus.APPROVED, ItemStatus.REJECTED)


def _percent(part: int, whole: int) -> int:
    return math.floor(100 * part / whole) if whole else 0


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    projects = list(projects_with_progress(user=user, done_statuses=_DONE))
    # The tasks page is for rubrics with acceptance gates (rubrics/gates.py): one query.
    acceptance_versions = set(
        Criterion.objects.filter(
            version_id__in={p.rubric_version_id for p in projects}, gate=True, scale__kind="binary"
        ).values_list("version_id", flat=True)
    )
    # Items waiting for a reviewer, per project (one query), linked to the filtered items list.
    waiting = dict(
        Item.objects.filter(project_id__in=[p.pk for p in projects], status=ItemStatus.NEEDS_REVIEW)
        .values("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
        .order_by()
    )
    rows = []
    for project in projects:
        role_name = "manager" if user.is_staff else project.my_role
        mine_count = project.mine_count or 0
        rows.append(
            {
                "project": project,
                "role": role_name,
                "can_review": role_name in REVIEW,
                "task_buckets": role_name in REVIEW and project.rubric_version_id in acceptance_versions,
                "items": project.item_count,
                "mine": mine_count,
                "mine_percent": _percent(mine_count, project.item_count),
                "done": project.done_count,
                "done_percent": _percent(project.done_count, project.item_count),
                "needs_review": waiting.get(project.pk, 0),
            }
        )
    can_create = user.is_staff or user.has_perm("annotation.add_project")
    context = {"rows": rows, "can_create_project": can_create, "invitations": invitations_for_user(user=user).count()}
    return render(request, "annotation/home.html", context)
