from datetime import UTC, datetime

import pytest

from annotation.models import Gold, Item, Rater, RaterKind, Rating
from annotation.selectors import rater_for_user

DECIDED = [
    datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
]


@pytest.fixture
def dataset(project, members, items, staff):
    """x0..x2 approved (by consensus, reviewer, judge; decided on March 1st, 2nd, 3rd), x3 needs
    review, x4 pending. Two people and one judge rated x0..x2; a reviewer set gold on x1."""
    for person in members.values():
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    version = project.rubric_version
    how = ["consensus", "reviewer", "judge"]
    for i, item in enumerate(items[:3]):
        Item.objects.filter(pk=item.pk).update(
            status="approved",
            approved_by=how[i],
            decided_at=DECIDED[i],
            consensus={"helpfulness": 4 + (i % 2), "correct": True, "tone": "ok"},
            disagreement={"helpfulness": 0.25 * i, "correct": 0.0, "tone": 0.0},
        )
    Item.objects.filter(pk=items[3].pk).update(status="needs_review", disagreement={"helpfulness": 0.75})
    humans = [rater_for_user(user=members["annotator"]), rater_for_user(user=members["annotator2"])]
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="strict-judge v2", version=2)
    for item in items[:3]:
        for n, rater in enumerate([*humans, judge]):
            Rating.objects.create(
                item=item,
                rater=rater,
                rubric_version=version,
                values={"helpfulness": 3 + n, "correct": True, "tone": "ok", "notes": "fine ünïcode"},
                rationales={"helpfulness": f"because {n}"},
                source="judge" if rater.kind == RaterKind.JUDGE else "api",
            )
    Gold.objects.create(
        item=items[1],
        rubric_version=version,
        values={"helpfulness": 5, "correct": True, "tone": "ok"},
        rationales={"helpfulness": "Settled."},
        reviewer=members["reviewer"],
    )
    return {"items": items, "humans": humans, "judge": judge}
