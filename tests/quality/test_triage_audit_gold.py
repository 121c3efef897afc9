"""The audit sample gets gold (quality/audit_gold.py): once people have decided an audited item,
it goes to a reviewer (a review request) instead of being approved on their consensus."""

import pytest

from annotation.models import ApprovedBy, ItemStatus, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import project_update
from annotation.services.queue import assignment_claim_next
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from quality.audit_gold import AUDIT_REASON
from quality.models import ReviewRequest
from quality.services.audit import audit_sample_draw
from quality.services.policy import policy_update
from quality.services.policy_preview import policy_preview
from tests.conftest import GOOD_RATIONALES

pytestmark = pytest.mark.django_db

VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}


def rate(item, user):
    return rating_submit(item=item, rater=rater_for_user(user=user), values=VALUES, rationales=GOOD_RATIONALES)


def test_people_rate_an_audited_item_then_a_reviewer_is_asked_for_its_gold(project, members):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    audit_sample_draw(project=project, size=2, seed=7)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))
    other = project.items.filter(audit_rank__isnull=True).order_by("id").first()
    assert not ReviewRequest.objects.exists(), "people rate audited items first: no request at the draw"
    for item in (audited[0], other):
        rate(item, members[Role.ANNOTATOR])
        rate(item, members["annotator2"])
    audited[0].refresh_from_db()
    other.refresh_from_db()
    assert other.status == ItemStatus.APPROVED and other.approved_by == ApprovedBy.CONSENSUS
    assert audited[0].status == ItemStatus.NEEDS_REVIEW and audited[0].decision_reason == AUDIT_REASON
    assert audited[0].consensus == VALUES, "the raters' consensus is kept for the reviewer"
    request = ReviewRequest.objects.get(item=audited[0])
    assert request.reason == AUDIT_REASON and request.requested_by is None
    assert policy_preview(project=project, changes={}).after == policy_preview(project=project, changes={}).now

    gold_set(item=audited[0], reviewer=members[Role.REVIEWER], values={**VALUES, "correct": False},
             rationales=GOOD_RATIONALES)  # fmt: skip
    audited[0].refresh_from_db()
    assert audited[0].status == ItemStatus.APPROVED and audited[0].approved_by == ApprovedBy.REVIEWER
    assert audited[0].consensus["correct"] is False


def test_an_item_that_leaves_the_audit_loses_the_request_and_is_decided_by_its_raters(project, members):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    audit_sample_draw(project=project, size=1, seed=7)
    item = project.items.get(audit_rank=1)
    rate(item, members[Role.ANNOTATOR])
    rate(item, members["annotator2"])
    assert ReviewRequest.objects.filter(item=item).exists()
    audit_sample_draw(project=project, size=0)
    item.refresh_from_db()
    assert not ReviewRequest.objects.filter(item=item).exists()
    assert item.status == ItemStatus.APPROVED and item.approved_by == ApprovedBy.CONSENSUS


def test_a_reviewer_alone_can_label_the_audit_and_people_never_see_it(project, members):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    policy_update(project=project, audit_labelled_by="reviewer")
    audit_sample_draw(project=project, size=2, seed=7)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))
    for item in audited:
        item.refresh_from_db()
        assert item.status == ItemStatus.NEEDS_REVIEW and ReviewRequest.objects.get(item=item).reason == AUDIT_REASON
    lease = assignment_claim_next(project=project, user=members[Role.ANNOTATOR])
    assert lease.item.audit_rank is None, "audited items wait for the reviewer, not for people"
    gold_set(item=audited[0], reviewer=members[Role.REVIEWER], values=VALUES, rationales=GOOD_RATIONALES)
    audited[0].refresh_from_db()
    assert audited[0].approved_by == ApprovedBy.REVIEWER

    policy_update(project=project, audit_labelled_by="people")
    audited[1].refresh_from_db()
    assert audited[1].status == ItemStatus.PENDING and not ReviewRequest.objects.filter(item=audited[1]).exists()
    lease = assignment_claim_next(project=project, user=members["annotator2"])
    assert lease.item_id == audited[1].pk, "back with people, the audit is served first"


def test_the_minimum_of_people_then_a_reviewer_labels_the_audit(project, members):
    """Adaptive overlap 1-2: one person rates an audited item, then it goes to the reviewer (the raters
    are still measured against gold); an item outside the audit follows the stopping rule."""
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    project = project_update(project=project, overlap_min=1)
    policy_update(project=project, audit_labelled_by="minimum")
    audit_sample_draw(project=project, size=2, seed=7)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))
    other = project.items.filter(audit_rank__isnull=True).order_by("id").first()
    rate(audited[0], members[Role.ANNOTATOR])
    rate(other, members[Role.ANNOTATOR])
    audited[0].refresh_from_db()
    other.refresh_from_db()
    assert audited[0].status == ItemStatus.NEEDS_REVIEW and audited[0].decision_reason == AUDIT_REASON
    assert audited[0].consensus == VALUES, "the one rating is kept for the reviewer"
    assert ReviewRequest.objects.get(item=audited[0]).reason == AUDIT_REASON
    assert other.status != ItemStatus.NEEDS_REVIEW and not ReviewRequest.objects.filter(item=other).exists()
    lease = assignment_claim_next(project=project, user=members["annotator2"])
    assert lease is None or lease.item_id != audited[0].pk, "no second person on an audited item"
