"""What adaptive overlap saved: human ratings per item, and the ratings used against fixed overlap."""

from collections import Counter
from typing import Any

from django.db.models import Count, F, Q

from annotation.models import ApprovedBy, Item, ItemStatus, Project, RaterKind


def overlap_summary(*, project: Project) -> dict[str, Any]:
    """Human ratings per item (under the project's rubric version) as a histogram, and for the
    items people have finished (approved by agreeing raters or sent to review) the ratings they
    took against ``annotations_per_item`` each, what fixed overlap at the maximum would take."""
    per_item = Item.objects.filter(project=project).annotate(
        n=Count(
            "ratings",
            filter=Q(ratings__rater__kind=RaterKind.HUMAN)
            & Q(ratings__rubric_version_id=F("project__rubric_version_id")),
        )
    )
    histogram = Counter(per_item.values_list("n", flat=True))
    finished = per_item.filter(
        Q(status=ItemStatus.NEEDS_REVIEW) | Q(status=ItemStatus.APPROVED, approved_by=ApprovedBy.CONSENSUS)
    ).values_list("n", flat=True)
    used, items = sum(finished), len(finished)
    fixed = items * project.annotations_per_item
    peak = max(histogram.values(), default=0) or 1
    return {
        "adaptive": project.overlap_min is not None,
        "min": project.overlap_min,
        "max": project.annotations_per_item,
        "histogram": [
            {"ratings": n, "items": histogram.get(n, 0), "height": round(histogram.get(n, 0) / peak * 100, 2)}
            for n in range(0, max([project.annotations_per_item, *histogram]) + 1)
        ],
        "finished_items": items,
        "ratings_used": used,
        "ratings_fixed": fixed,
        "saved": None if not fixed else round(1 - used / fixed, 4),
    }
