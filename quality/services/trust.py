"""Judge trust: whether a machine rater may label a criterion on its own, measured against the
humans on the project's agreement report and recorded per rubric version (RaterTrust). The
approval gate (services/approval.py) reads it; this module writes it. The rule, an interval that
must clear the bar on enough items, is quality/reliability.py's, shared with the pages."""

from django.db import transaction

from annotation.models import Project
from quality.models import RaterTrust
from quality.reliability import report_with_badges
from quality.selectors.agreement import BOOTSTRAP_FLOOR
from quality.selectors.policy import policy_for
from quality.services.agreement_reports import agreement_report_current
from quality.services.approval import project_decide

TRUST_DRAWS = BOOTSTRAP_FLOOR
"""Bootstrap draws at least behind a trust decision (the interval is what earns trust)."""


def rater_trust_refresh(*, project: Project) -> list[RaterTrust]:
    """Measure every machine rater against the humans and record, per criterion, whether it
    is trusted; then re-decide the project's items (in a task for a large project: see
    project_decide), since trust can approve or un-approve."""
    # Any current stored report with an interval will do; else one is computed with TRUST_DRAWS.
    policy = policy_for(project=project)
    report = report_with_badges(
        agreement_report_current(project=project, min_draws=TRUST_DRAWS),
        margin=policy.trust_margin,
        min_units=policy.trust_min_items,
    )
    rows = []
    with transaction.atomic():
        for criterion in report["criteria"]:
            for judge in criterion["judges"]:
                difference = judge.get("alpha_difference_ci") or [None, None]
                trust, _ = RaterTrust.objects.update_or_create(
                    project=project,
                    rater_id=judge["rater"],
                    rubric_version=project.rubric_version,
                    criterion_key=criterion["key"],
                    defaults={
                        "trusted": judge["trusted"],
                        "status": judge["trust"]["status"],
                        "judge_alpha": judge["alpha_as_rater"],
                        "human_alpha": judge["alpha_humans"],
                        "difference_low": difference[0],
                        "difference_high": difference[1],
                        "items": judge["items"],
                        "reason": judge["trust_reason"] or "",
                    },
                )
                rows.append(trust)
    # Outside that transaction: each chunk of items is locked only while it is decided.
    project_decide(project=project)
    return rows
