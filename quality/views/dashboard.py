"""The agreement dashboard: charts drawn as server-rendered SVG, so no JavaScript build step."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotation.models import ItemStatus, Project
from annotation.selectors import MANAGE, REVIEW, project_require
from quality.reliability import RELIABILITY_MIN_ITEMS, RELIABLE, TENTATIVE, report_with_badges
from quality.selectors.audit import audit_progress
from quality.selectors.judge_status import judges_without_ratings
from quality.selectors.overlap import overlap_summary
from quality.selectors.policy import policy_for
from quality.selectors.triage_cache import triage_numbers
from quality.services.agreement_reports import agreement_report_read
from quality.views.estimate_chart import estimate_chart, reliability_diagram, tradeoff_chart
from rubrics.scales import code_label

# Alpha axis from -0.2 (worse than chance) to 1; the plot is 100 units wide.
_LO, _HI = -0.2, 1.0


def _x(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    return round((min(max(alpha, _LO), _HI) - _LO) / (_HI - _LO) * 100, 2)


def _status_bars(project: Project) -> list[dict]:
    counts = dict(project.items.values_list("status").annotate(n=Count("id")).order_by())
    total = sum(counts.values()) or 1
    bars, offset = [], 0.0
    for status in ItemStatus.values:
        n = counts.get(status, 0)
        width = n / total * 100
        label = ItemStatus(status).label
        bars.append({"status": status, "label": label, "count": n, "x": round(offset, 2), "width": round(width, 2)})
        offset += width
    return bars


def _confusion(confusion: dict | None, scale: dict) -> dict | None:
    """The judge's confusion matrix as a table: rows and columns named by the scale's words
    (choice names, Yes / No, ordinal points with their anchors), cells shaded 0 to 10 by count."""
    if not confusion:
        return None
    counts = confusion["counts"]
    peak = max((max(row) for row in counts), default=0) or 1
    labels = [code_label(scale, code) for code in confusion["labels"]]
    return {
        "labels": labels,
        "rows": [
            {"label": labels[i], "cells": [{"count": c, "shade": round(10 * c / peak)} for c in row]}
            for i, row in enumerate(counts)
        ],
    }


@login_required
def project_dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    try:
        role = project_require(user=request.user, project=project, roles=REVIEW)
    except PermissionDenied:
        raise PermissionDenied("The dashboard is for reviewers and managers.") from None
    answer = agreement_report_read(project=project)
    policy = policy_for(project=project)
    scales = {c.key: c.scale for c in project.rubric_version.criteria.all()}
    report = report_with_badges(answer.payload or {}, margin=policy.trust_margin, min_units=policy.trust_min_items)
    criteria = []
    for c in report.get("criteria", []):
        humans = c["humans"]
        ci = humans["ci"] or [None, None]
        scale = scales.get(c["key"], {"kind": ""})
        criteria.append(
            {
                **c,
                "x": _x(humans["alpha"]),
                "ci_x": [_x(ci[0]), _x(ci[1])] if humans["ci"] else None,
                "judges": [{**j, "matrix": _confusion(j["confusion"], scale)} for j in c["judges"]],
            }
        )
    numbers = triage_numbers(project=project, policy=policy)
    estimate, calibration, tradeoff = numbers["estimate"], numbers["calibration"], numbers["tradeoff"]
    context = {
        "project": project,
        "report": answer,
        "criteria": criteria,
        "status_bars": _status_bars(project),
        "ticks": [{"label": f"{t:g}", "x": _x(t)} for t in (-0.2, 0, 0.2, 0.4, 0.6, 0.8, 1.0)],
        "tentative_x": _x(TENTATIVE),
        "reliable_x": _x(RELIABLE),
        "min_items": RELIABILITY_MIN_ITEMS,
        "policy": policy,
        "estimate": estimate,
        "audit": audit_progress(project=project),
        "overlap": overlap_summary(project=project),
        "tradeoff": tradeoff,
        # The slices flagged with the threshold in force (not the live trade-off's): what decides now.
        # Stored before the expected accuracy was: without one (the page then omits it).
        "routing_flagged": [
            {"expected_accuracy": None, **s}
            for s in (policy.routing_slices or {}).get("slices", ())
            if s.get("overconfident")
        ],
        "manager": role in MANAGE,
        "tradeoff_chart": tradeoff_chart(tradeoff),
        "calibration": [{**c, "diagram": reliability_diagram(c["overall"])} for c in calibration],
        "estimate_charts": estimate_chart(estimate),
        "judges_without_ratings": judges_without_ratings(project=project),
    }
    return render(request, "quality/dashboard.html", context)
