"""Money on the judges page: each Run form's estimate, this month's spend against the cap, each
run's cost; and the two forms behind them (the monthly cap, resuming a run stopped at its
budget). Views check access and call one service (judges/services/budgets.py)."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, project_require
from config.errors import Conflict
from judges.costs import usd
from judges.models import BATCH_PRICE_FACTOR, JudgeRun
from judges.selectors import JudgeRow, project_spend_month
from judges.services.budgets import judge_run_resume, project_budget_set
from judges.services.estimate_cache import judges_run_estimates
from judges.services.estimates import RunEstimate

SELECTIONS = (("unjudged", "untried"), ("all", "all unrated"))


def judges_page_money(*, project: Project, rows: list[JudgeRow], runs: list[JudgeRun], estimates: bool) -> dict:
    """The judges page's figures: ``spend`` (this month); each judge's ``estimates``, one per
    selection (managers only: they are the ones who start runs); each listed run's ``money``."""
    month = project_spend_month(project_id=project.pk)
    cap = month["cap_micros"]
    spend = {
        "month": month["month"],
        "spent": dollars(usd(month["spent_micros"])),
        "reserved": dollars(usd(month["reserved_micros"])) if month["reserved_micros"] else "",
        "cap": dollars(usd(cap)) if cap is not None else "",
        "cap_input": usd(cap).normalize() if cap is not None else "",
        "left": dollars(usd(month["left_micros"])),
        "meter_max": cap or 1,
        "meter_value": min(month["spent_micros"], cap) if cap else 0,
        "percent": round(100 * month["spent_micros"] / cap) if cap else None,
    }
    for run in runs:
        run.money = run_money(run)
    runnable = [row for row in rows if estimates and row.judge.enabled and not row.problem]
    found = judges_run_estimates(
        project=project, judges=[(row.judge, row.version) for row in runnable], selections=[v for v, _ in SELECTIONS]
    )
    for row in rows:
        row.judge.estimates = []
    for row in runnable:
        row.judge.estimates = [_estimate(row, found[row.judge.pk, value], value, label) for value, label in SELECTIONS]
    return {"spend": spend}


def _estimate(row: JudgeRow, estimate: RunEstimate, value: str, label: str) -> dict:
    """The option's text at the live price, and ``batch_text`` at the batch price, which the Run
    form shows instead when its mode is "batch" (static/accord/judges.js)."""
    about, high = usd(estimate.cost_micros), usd(estimate.high_micros)

    def text(factor: Decimal) -> str:
        if not estimate.items:
            return f"{label}: nothing to judge"
        if not (row.judge.price_input_per_mtok or row.judge.price_output_per_mtok):
            return f"{label}: {estimate.items:,} items · no prices set"
        if estimate.output_basis == "max_output_tokens":  # no output history: the figure is a bound
            return f"{label}: {estimate.items:,} items · at most about {dollars(high * factor)}"
        return f"{label}: {estimate.items:,} items · about {dollars(about * factor)} (≤ {dollars(high * factor)})"

    return {
        "value": value, "text": text(Decimal(1)), "batch_text": text(BATCH_PRICE_FACTOR),
        "items": estimate.items, "about": about, "high": high,
    }  # fmt: skip


def dollars(amount: Decimal | None) -> str:
    """For people: cents from a dollar up, four decimals below (a judge call costs fractions of
    a cent)."""
    if amount is None:
        return "—"
    if 0 < amount < Decimal("0.0001"):
        return "< $0.0001"
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"


def run_money(run: JudgeRun) -> dict:
    return {
        "spent": dollars(usd(run.cost_spent_micros)),
        "cap": dollars(usd(run.max_cost_micros)) if run.max_cost_micros is not None else "",
    }


@login_required
@require_POST
def project_judge_budget(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    try:
        budget = project_budget_set(project=project, monthly_cap=request.POST.get("monthly_cap", "").strip() or None)
    except ValidationError as exc:
        messages.error(request, "Monthly budget: " + " ".join(exc.messages))
    else:
        cap = usd(budget.monthly_cap_micros)
        messages.success(request, f"Monthly budget set to ${cap}." if cap is not None else "Monthly budget removed.")
    return redirect("project-judges", project_id=project.pk)


@login_required
@require_POST
def judge_run_resume_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(JudgeRun.objects.select_related("project"), pk=run_id)
    project_require(user=request.user, project=run.project, roles=MANAGE)
    raw = request.POST.get("max_cost", "").strip()
    try:
        if request.POST.get("keep_cap"):
            judge_run_resume(run=run, keep_cap=True)
        else:
            judge_run_resume(run=run, max_cost=raw or None)
    except ValidationError as exc:
        messages.error(request, f"Run {run.pk}: " + " ".join(exc.messages))
        return redirect("project-judges", project_id=run.project_id)
    except Conflict as exc:
        messages.error(request, f"Run {run.pk}: {exc.message}")
        return redirect("project-judges", project_id=run.project_id)
    return redirect("judge-run-page", run_id=run.pk)
