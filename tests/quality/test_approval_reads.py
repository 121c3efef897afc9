"""The approval gate's inputs read in one round trip on PostgreSQL (hand-written SQL) are the
ones the ORM reads: the rule must not decide differently by the path its inputs took."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Gold
from quality.models import RaterTrust, ReviewRequest
from quality.services import approval_reads
from quality.services.policy import policy_update
from tests.quality.test_approval import judge_rate, judge_rater, rate


def _comparable(read: approval_reads.ChunkRead) -> dict:
    return {
        "items": [(i.pk, i.status, i.consensus, i.overlap_target, i.audit_rank, i.updated_at) for i in read.items],
        "policy": (
            read.policy.pk,
            read.policy.judge_may_approve,
            read.policy.per_criterion,
            read.policy.posterior_model,
        ),
        "golds": {k: (g.pk, g.values, g.reviewer_id) for k, g in read.golds.items()},
        "requests": read.requests,
        "ratings": read.ratings,
        "trust": sorted(read.trust),
    }


@pytest.mark.django_db(transaction=True)
def test_the_one_round_trip_read_matches_the_orm(project, members, items):
    if connection.vendor != "postgresql":
        pytest.skip("the one-round-trip read is PostgreSQL's")
    policy_update(project=project, judge_may_approve=True, per_criterion={"helpfulness": 0.5})
    judge = judge_rater()
    for key in ("helpfulness", "correct"):
        RaterTrust.objects.create(
            project=project, rater=judge, rubric_version=project.rubric_version, criterion_key=key, trusted=True
        )
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=5, correct=False)
    judge_rate(items[1], judge, helpfulness=3)
    Gold.objects.create(item=items[2], rubric_version=project.rubric_version, values={"helpfulness": 1},
                        reviewer=members["reviewer"])  # fmt: skip
    ReviewRequest.objects.create(item=items[3], reason="sent to review: look")
    ids = [item.pk for item in items]

    with CaptureQueriesContext(connection) as queries:
        fast = approval_reads.chunk_read(project=project, item_ids=ids, lock=False)
    slow = approval_reads._read_orm(project, ids, False, None)

    assert len(queries.captured_queries) == 1
    assert _comparable(fast) == _comparable(slow)
    assert (
        fast.ratings
        and fast.golds
        and fast.requests
        and sorted(fast.trust) == [(judge.pk, "correct"), (judge.pk, "helpfulness")]
    )
    assert all(item.project is project for item in fast.items)
