"""Judge trust: whether a machine rater may label a criterion on its own, measured against the
humans on the project's agreement report and recorded per rubric version (RaterTrust). The
approval gate (services/approval.py) reads it; this module writes it."""

from django.db import transaction

from annotation.models import Project
from quality.models import RaterTrust
from quality.services.agreement_reports import agreement_report_current
from quality.services.approval import project_decide


def rater_trust_refresh(*, project: Project) -> list[RaterTrust]:
    """Measure every machine rater against the humans and record, per criterion, whether it
    is trusted; then re-decide the project's items (in a task for a large project: see
    project_decide), since trust can approve or un-approve."""
    # Trust uses the point figures only: any current stored report will do, whatever its draws.
    report = agreement_report_current(project=project)
    rows = []
    with transaction.atomic():
        for criterion in report["criteria"]:
            for judge in criterion["judges"]:
                trust, _ = RaterTrust.objects.update_or_create(
                    project=project,
                    rater_id=judge["rater"],
                    rubric_version=project.rubric_version,
                    criterion_key=criterion["key"],
                    defaults={
                        "trusted": judge["trusted"],
                        "judge_alpha": judge["alpha_as_rater"],
                        "human_alpha": judge["alpha_humans"],
                        "items": judge["items"],
                        "reason": judge["trust_reason"] or "",
                    },
                )
                rows.append(trust)
    # Outside that transaction: each chunk of items is locked only while it is decided.
    project_decide(project=project)
    return rows
