"""Server-rendered page for one judge run: a progress bar that static/judges/run-progress.js keeps
up to date by polling GET /api/v1/judge-runs/<id>/."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotation.selectors import MANAGE, RATE, project_require, project_role
from judges.models import JudgeRun
from judges.selectors import judge_run_problems, judge_run_progress


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        JudgeRun.objects.select_related("project", "judge_version__judge", "rubric_version__rubric"), pk=run_id
    )
    project_require(user=request.user, project=run.project, roles=RATE)
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
            "can_cancel": project_role(user=request.user, project=run.project) in MANAGE and run.is_active(),
        },
    )
