"""How far the audit sample has got (quality/services/audit.py draws it; quality/audit_gold.py
asks reviewers for its gold): for the dashboard's triage section."""

from typing import Any

from django.db.models import Exists, OuterRef

from annotation.models import Gold, Project
from annotation.selectors import review_left, without_jit


def audit_progress(*, project: Project) -> dict[str, Any]:
    """The audit's items: drawn, with gold under the current rubric version, waiting in the
    review queue (the count the review page's audit filter shows), and still with people."""
    audited = project.items.filter(audit_rank__isnull=False)
    drawn = audited.count()
    gold = audited.filter(
        Exists(Gold.objects.filter(item=OuterRef("pk"), rubric_version_id=project.rubric_version_id))
    ).count()
    waiting = 0
    if drawn:
        with without_jit():  # the review list's subqueries (annotation/selectors.py)
            waiting = review_left(project=project, audit_only=True)
    return {
        "drawn": drawn,
        "with_gold": gold,
        "waiting_review": waiting,
        "with_people": max(drawn - gold - waiting, 0),
    }
