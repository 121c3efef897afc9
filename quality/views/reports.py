"""Pages for agentic task review: tasks by acceptance bucket, and the Quality Signal report.

Charts are server-rendered SVG, as on the dashboard: no JavaScript build step.
"""

import math

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotation.models import Project
from annotation.selectors import REVIEW, items_for_project, project_require
from quality.selectors.acceptance import ACCEPTED, BUCKETS, REJECTED, acceptance_of, bucket_filter
from quality.selectors.failure_modes import failure_mode_report
from rubrics.gates import gates_of

TASKS_PAGE_SIZE = 25


def _project_for_reviewer(request: HttpRequest, project_id: int, what: str) -> Project:
    project = get_object_or_404(
        Project.objects.select_related("rubric_version__rubric", "tasks_project__rubric_version"), pk=project_id
    )
    try:
        project_require(user=request.user, project=project, roles=REVIEW)
        if project.tasks_project is not None and what == "report":
            project_require(user=request.user, project=project.tasks_project, roles=REVIEW)
    except PermissionDenied:
        raise PermissionDenied(f"The {what} page is for reviewers and managers of the project.") from None
    return project


@login_required
@require_GET
def tasks(request: HttpRequest, project_id: int) -> HttpResponse:
    """A project's tasks in one acceptance bucket, with failing criteria, reason and the task."""
    project = _project_for_reviewer(request, project_id, "tasks")
    gates = gates_of(project.rubric_version)
    bucket = request.GET.get("bucket", ACCEPTED)
    if bucket not in BUCKETS:
        bucket = ACCEPTED
    counts = {b: project.items.filter(bucket_filter(gates=gates, bucket=b)).count() if gates else 0 for b in BUCKETS}
    titles = {c.key: c.title for c in project.rubric_version.criteria.all()}
    in_bucket = items_for_project(project=project).filter(bucket_filter(gates=gates, bucket=bucket)).order_by("id")
    page = Paginator(in_bucket, TASKS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for item in page.object_list:
        acceptance = acceptance_of(gates=gates, status=item.status, consensus=item.consensus) or {}
        rows.append(
            {
                "item": item,
                "acceptance": acceptance,
                "failing": [titles.get(k, k) for k in acceptance.get("failing", [])],
                "gates": [{"title": titles[k], "value": item.consensus.get(k)} for k in gates.keys],
            }
        )
    context = {
        "project": project,
        "gates": gates,
        "bucket": bucket,
        "tabs": [{"bucket": b, "count": counts[b], "active": b == bucket} for b in BUCKETS],
        "page": page,
        "rows": rows,
    }
    return render(request, "quality/tasks.html", context)


def _diverging(report: dict) -> dict:
    """Geometry for the difference chart: 0 in the middle of a 100-wide plot, symmetric scale."""
    bounds = [abs(x) for row in report["modes"] for x in [row["difference"]["value"], *(row["difference"]["ci"] or [])]]
    bounds = [b for b in bounds if b is not None]
    span = max(0.1, math.ceil(max(bounds, default=0.1) * 10) / 10)

    def x(value: float) -> float:
        return round(50 + value / span * 50, 2)

    rows = []
    for row in report["modes"]:
        d = row["difference"]
        bar = None
        if d["value"] is not None:
            left, right = sorted((x(0), x(d["value"])))
            bar = {"x": left, "width": round(right - left, 2), "positive": d["value"] >= 0}
        rows.append({**row, "bar": bar, "ci_x": [x(v) for v in d["ci"]] if d["ci"] else None})
    ticks = [{"label": f"{t:+.0%}" if t else "0", "x": x(t)} for t in (-span, -span / 2, 0, span / 2, span)]
    return {"rows": rows, "ticks": ticks, "height": len(rows) * 10 + 4}


def _split(report: dict) -> list[dict]:
    """Meaningful / degenerate shares per bucket, as 100-wide stacked bars."""
    bars = []
    for bucket in (ACCEPTED, REJECTED):
        parts, offset = [], 0.0
        for row in report["classes"]:
            s = row[bucket]
            width = (s["share"] or 0) * 100
            parts.append({"class": row["class"], "x": round(offset, 2), "width": round(width, 2), **s})
            offset += width
        bars.append({"bucket": bucket, "parts": parts, "total": report["buckets"][bucket]["traces"]})
    return bars


@login_required
@require_GET
def report(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project_for_reviewer(request, project_id, "report")
    try:
        data = failure_mode_report(project=project)
    except ValidationError as exc:
        return render(request, "quality/report.html", {"project": project, "problems": exc.messages}, status=200)
    peak = max((r["count"] for r in data["rejection_reasons"]), default=0) or 1
    reasons = [{**r, "width": round(r["count"] / peak * 100, 2)} for r in data["rejection_reasons"]]
    context = {
        "project": project,
        "report": data,
        "chart": _diverging(data),
        "split": _split(data),
        "reasons": reasons,
        "metadata": data["metadata"],
    }
    return render(request, "quality/report.html", context)
