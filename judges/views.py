"""Server-rendered pages for judges: a project's judges and runs (start a run from there), and
one run's progress, which static/judges/run-progress.js keeps up to date by polling
GET /api/v1/judge-runs/<id>/."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, RATE, REVIEW, project_require
from config.errors import Conflict
from judges.models import Judge, JudgeRun
from judges.selectors import judge_run_problems, judge_run_progress, project_judges_overview
from judges.services.runs import judge_run_start


@login_required
@require_GET
def project_judges(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    role = project_require(user=request.user, project=project, roles=REVIEW)
    rows, runs = project_judges_overview(project=project)
    return render(
        request,
        "judges/project_judges.html",
        {"project": project, "rows": rows, "runs": runs, "can_run": role in MANAGE},
    )


@login_required
@require_POST
def project_judge_run(request: HttpRequest, project_id: int, judge_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    judge = get_object_or_404(Judge, pk=judge_id, project=project)
    items = request.POST.get("items", "unjudged")
    if items not in ("all", "unjudged"):
        items = "unjudged"
    try:
        run = judge_run_start(actor=request.user, project=project, judge=judge, items=items)
    except ValidationError as exc:
        messages.error(request, f"{judge.name}: " + " ".join(exc.messages))
        return redirect("project-judges", project_id=project.pk)
    except Conflict as exc:
        messages.error(request, f"{judge.name}: {exc.message}")
        return redirect("project-judges", project_id=project.pk)
    return redirect("judge-run-page", run_id=run.pk)


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        JudgeRun.objects.select_related("project", "judge_version__judge", "rubric_version__rubric"), pk=run_id
    )
    role = project_require(user=request.user, project=run.project, roles=RATE)
    progress = judge_run_progress(run=run)
    finished = progress.done + progress.failed + progress.no_verdict
    return render(
        request,
        "judges/run_progress.html",
        {
            "run": run,
            "progress": progress,
            "problems": judge_run_problems(run=run),
            "percent": int(100 * finished / progress.total) if progress.total else 100,
            "can_cancel": role in MANAGE and run.is_active(),
            "can_review": role in REVIEW,
        },
    )
