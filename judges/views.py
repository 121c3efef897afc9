"""Server-rendered pages for judges: a project's judges and runs (start a run from there), one
run's progress, which static/judges/run-progress.js keeps up to date by polling
GET /api/v1/judge-runs/<id>/, and the verdicts a run wrote."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, RATE, REVIEW, project_require
from config.errors import Conflict
from judges.budget_pages import judges_page_money, run_money
from judges.models import Judge, JudgeRun, JudgeVerdict, Outcome, RunMode, RunStatus
from judges.selectors import (
    BATCH_STATE_WORDS,
    judge_run_batch_progress,
    judge_run_problems,
    judge_run_progress,
    project_judges_overview,
)
from judges.services.runs import judge_run_start


@login_required
@require_GET
def project_judges(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    role = project_require(user=request.user, project=project, roles=REVIEW)
    rows, runs = project_judges_overview(project=project)
    money = judges_page_money(project=project, rows=rows, runs=runs, estimates=role in MANAGE)
    for run in runs:  # where an active batch run stands (its progress bar moves only once it is read)
        if run.mode == RunMode.BATCH and run.is_active():
            run.batch_word = BATCH_STATE_WORDS[judge_run_batch_progress(run=run)["state"]]
    return render(
        request,
        "judges/project_judges.html",
        {"project": project, "rows": rows, "runs": runs, "can_run": role in MANAGE, **money},
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
    mode = request.POST.get("mode", RunMode.LIVE)
    if mode not in RunMode.values:
        mode = RunMode.LIVE
    try:
        max_cost = request.POST.get("max_cost", "").strip() or None
        run = judge_run_start(
            actor=request.user, project=project, judge=judge, items=items, mode=mode, max_cost=max_cost
        )
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
    batch = judge_run_batch_progress(run=run)
    finished = progress.done + progress.failed + progress.no_verdict
    problems = [{**p, "outcome_label": Outcome(p["outcome"]).label} for p in judge_run_problems(run=run)]
    return render(
        request,
        "judges/run_progress.html",
        {
            "run": run,
            "progress": progress,
            "problems": problems,
            "batch": batch,
            "batch_word": BATCH_STATE_WORDS.get(batch["state"], "") if batch else "",
            "percent": int(100 * finished / progress.total) if progress.total else 100,
            "can_cancel": role in MANAGE and run.is_active(),
            "can_resume": role in MANAGE and run.status == RunStatus.STOPPED_BUDGET,
            "money": run_money(run),
            "can_review": role in REVIEW,
            "queued_for": _seconds(run.created_at, run.started_at),
            "ran_for": _seconds(run.started_at, run.finished_at),
            # The page's script shows statuses and outcomes in the same words as the server.
            "words": json.dumps(
                {"status": dict(RunStatus.choices), "outcome": dict(Outcome.choices), "batch": BATCH_STATE_WORDS}
            ),
        },
    )


def _seconds(start, end) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


VERDICTS_PAGE_SIZE = 50


@login_required
@require_GET
def run_verdicts(request: HttpRequest, run_id: int) -> HttpResponse:
    """What a run decided, item by item: the values of each verdict, or why there is none.
    A verdict is a machine rater's rating, so only reviewers and managers see them (blind rating)."""
    run = get_object_or_404(JudgeRun.objects.select_related("project", "judge_version__judge"), pk=run_id)
    try:
        project_require(user=request.user, project=run.project, roles=REVIEW)
    except PermissionDenied:
        raise PermissionDenied("A run's verdicts are for reviewers and managers of the project.") from None
    outcome = request.GET.get("outcome", "")
    verdicts = JudgeVerdict.objects.filter(run=run).select_related("item", "rating").order_by("item_id")
    if outcome in Outcome.values:
        verdicts = verdicts.filter(outcome=outcome)
    page = Paginator(verdicts, VERDICTS_PAGE_SIZE).get_page(request.GET.get("page"))
    criteria = list(run.rubric_version.criteria.all())
    rows = [
        {
            "verdict": v,
            "values": [(v.rating.values if v.rating else {}).get(c.key) for c in criteria],
            "rationales": v.rating.rationales if v.rating else {},
        }
        for v in page.object_list
    ]
    context = {
        "run": run,
        "criteria": criteria,
        "rows": rows,
        "page": page,
        "outcome": outcome if outcome in Outcome.values else "",
        "outcomes": Outcome.choices,
    }
    return render(request, "judges/run_verdicts.html", context)
