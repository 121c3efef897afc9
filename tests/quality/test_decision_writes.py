"""The approval service writes a chunk's decisions together (on PostgreSQL one UPDATE … FROM
VALUES): what is stored must be what one save per item stored, on both databases."""

import pytest

from annotation.models import ApprovedBy, ItemStatus
from annotation.services.rating_imports import ratings_import
from quality.services.approval import items_decide

pytestmark = [pytest.mark.django_db, pytest.mark.both_databases]


def rated(external_id: str, rater: str, helpfulness: int, correct: bool = True) -> dict:
    return {
        "external_id": external_id,
        "rater": rater,
        "values": {"helpfulness": helpfulness, "correct": correct, "tone": "ok"},
        "rationales": {"helpfulness": "why"},
    }


def test_it_stores_every_decision_of_an_import_with_its_consensus_reason_and_time(project, members, items):
    before = {item.pk: item.updated_at for item in items}
    ratings_import(
        project=project,
        rows=[
            rated("x0", "annotator", 4), rated("x0", "annotator2", 4),  # agree: approved
            rated("x1", "annotator", 4), rated("x1", "annotator2", 4, correct=False),  # disagree: review
            rated("x2", "annotator", 1),  # one of two ratings: in progress
        ],
    )  # fmt: skip
    decided = {item.external_id: item for item in project.items.all()}
    approved, review, open_item = decided["x0"], decided["x1"], decided["x2"]
    assert (approved.status, approved.approved_by) == (ItemStatus.APPROVED, ApprovedBy.CONSENSUS)
    assert approved.consensus["helpfulness"] == 4 and approved.consensus["correct"] is True
    assert approved.decided_at is not None and approved.updated_at > before[approved.pk]
    assert review.status == ItemStatus.NEEDS_REVIEW
    assert review.decision_reason.startswith("no consensus on") and "correct" in review.decision_reason
    assert review.decided_at is not None and review.disagreement
    assert (open_item.status, open_item.decided_at, open_item.consensus) == (ItemStatus.IN_PROGRESS, None, {})
    # Deciding again changes nothing and writes nothing.
    stamps = {item.pk: item.updated_at for item in decided.values()}
    assert items_decide(project=project, item_ids=list(stamps)) == 0
    assert {item.pk: item.updated_at for item in project.items.all()} == stamps
