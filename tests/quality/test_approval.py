import numpy as np
import pytest
from django.core.exceptions import ValidationError

import agreement
from annotation.models import ApprovedBy, Gold, ItemStatus, Rater, RaterKind, Rating
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from quality.models import RaterTrust
from quality.services.approval import item_reject, items_decide
from quality.services.policy import policy_update
from quality.services.trust import rater_trust_refresh


def rate(item, user, helpfulness=4, correct=True, tone="ok"):
    return rating_submit(
        item=item,
        rater=rater_for_user(user=user),
        values={"helpfulness": helpfulness, "correct": correct, "tone": tone},
        rationales={"helpfulness": "because"},
    )


def judge_rater(name="gpt-judge v1", version=1, shown=()):
    return Rater.objects.create(kind=RaterKind.JUDGE, name=name, version=version, shown_item_ids=list(shown))


def judge_rate(item, rater, helpfulness=4, correct=True, tone="ok"):
    return Rating.objects.create(
        item=item,
        rater=rater,
        rubric_version=item.project.rubric_version,
        values={"helpfulness": helpfulness, "correct": correct, "tone": tone},
        source="judge",
    )


def test_it_approves_an_item_when_enough_humans_agree_and_records_consensus(members, items):
    item = items[0]
    rate(item, members["annotator"], helpfulness=4)
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_PROGRESS
    rate(item, members["annotator2"], helpfulness=5)
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED
    assert item.approved_by == ApprovedBy.CONSENSUS
    assert item.consensus == {"helpfulness": 4, "correct": True, "tone": "ok"}
    assert item.disagreement["correct"] == 0.0
    assert 0 < item.disagreement["helpfulness"] < 1, "one point apart: some disagreement, not maximal"


def test_it_sends_disagreement_to_review_and_a_reviewers_gold_decides(members, items, client_for):
    item = items[0]
    rate(item, members["annotator"], correct=True)
    rate(item, members["annotator2"], correct=False)
    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW
    assert item.decision_reason == "no consensus on correct"

    response = client_for(members["reviewer"]).post(
        f"/api/v1/items/{item.pk}/gold/",
        {"values": {"helpfulness": 3, "correct": False, "tone": "ok"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    items_decide(project=item.project, item_ids=[item.pk])
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED
    assert item.approved_by == ApprovedBy.REVIEWER
    assert item.consensus["correct"] is False


def test_it_applies_the_numeric_tolerance_of_the_policy(project, members, items):
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=5)
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW
    policy_update(project=project, numeric_tolerance=0.75)
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED
    assert items[0].consensus["helpfulness"] == 2  # lower median: a point of the scale


def test_it_lets_a_trusted_judge_approve_only_when_the_policy_allows(project, items):
    judge = judge_rater()
    judge_rate(items[3], judge)
    for key in ("helpfulness", "correct", "tone"):
        RaterTrust.objects.create(
            project=project, rater=judge, rubric_version=project.rubric_version, criterion_key=key, trusted=True
        )
    items_decide(project=project, item_ids=[items[3].pk])
    items[3].refresh_from_db()
    assert items[3].status == ItemStatus.PENDING

    policy_update(project=project, judge_may_approve=True)
    items[3].refresh_from_db()
    assert items[3].status == ItemStatus.APPROVED
    assert items[3].approved_by == ApprovedBy.JUDGE

    RaterTrust.objects.filter(rater=judge, criterion_key="tone").update(trusted=False)
    items_decide(project=project, item_ids=[items[3].pk])
    items[3].refresh_from_db()
    assert items[3].status == ItemStatus.PENDING, "trust on every criterion is required"


def test_it_keeps_an_explicit_rejection(members, items, project, client_for):
    response = client_for(members["reviewer"]).post(
        f"/api/v1/items/{items[0].pk}/reject/", {"reason": "spam"}, format="json"
    )
    assert response.status_code == 200
    rate(items[0], members["annotator"])
    rate(items[0], members["annotator2"])
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.REJECTED
    assert items[0].decision_reason == "spam"
    assert (
        client_for(members["annotator"])
        .post(f"/api/v1/items/{items[1].pk}/reject/", {"reason": "x"}, format="json")
        .status_code
        == 403
    )
    with pytest.raises(ValidationError):
        item_reject(item=items[1], actor=members["reviewer"], reason=" ")


def test_it_validates_policy_changes_field_by_field(project, members, client_for):
    url = f"/api/v1/projects/{project.pk}/approval-policy/"
    bad = client_for(members["manager"]).patch(url, {"majority_threshold": 0.4, "trust_min_items": 0}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"majority_threshold", "trust_min_items"}
    assert client_for(members["annotator"]).patch(url, {"judge_may_approve": True}, format="json").status_code == 403
    ok = client_for(members["manager"]).patch(url, {"majority_threshold": 1.0}, format="json")
    assert ok.status_code == 200
    assert ok.json()["majority_threshold"] == 1.0


def test_it_reports_alpha_per_criterion_equal_to_the_engine(project, members, items, client_for):
    scores = [(5, 4), (3, 3), (1, 2), (4, 4), (2, 3)]
    for item, (a, b) in zip(items, scores, strict=True):
        rate(item, members["annotator"], helpfulness=a)
        rate(item, members["annotator2"], helpfulness=b)
    response = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/agreement/?bootstrap=200")
    assert response.status_code == 200
    helpfulness = next(c for c in response.json()["criteria"] if c["key"] == "helpfulness")
    expected = agreement.alpha(
        np.repeat(np.arange(5), 2),
        np.tile([1, 2], 5),
        np.asarray(scores, dtype=float).ravel(),
        level="ordinal",
        bootstrap_draws=0,
    )
    assert helpfulness["level"] == "ordinal"
    assert helpfulness["humans"]["alpha"] == pytest.approx(expected.alpha, abs=1e-12)
    assert helpfulness["humans"]["units"] == 5
    assert helpfulness["humans"]["ci"] is not None
    assert {a["name"] for a in helpfulness["annotators"]} == {"annotator", "annotator2"}
    correct = next(c for c in response.json()["criteria"] if c["key"] == "correct")
    assert correct["humans"]["alpha"] is None
    assert correct["humans"]["status"] == "undefined"
    assert "notes" not in {c["key"] for c in response.json()["criteria"]}, "text criteria have no agreement"
    assert client_for(members["annotator"]).get(f"/api/v1/projects/{project.pk}/agreement/").status_code == 403
    bad = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/agreement/?bootstrap=lots")
    assert bad.status_code == 400
    assert "bootstrap" in bad.json()["errors"]


def test_it_trusts_a_judge_only_on_enough_held_out_items_and_per_version(project, members, staff):
    rows = [{"external_id": f"t{i}", "data": {"n": i}} for i in range(60)]
    items_import(project=project, rows=rows)
    items = list(project.items.order_by("id"))
    rng = np.random.default_rng(3)
    good = judge_rater("good v1", shown=[items[0].pk, items[1].pk])
    noisy = judge_rater("noisy v1")
    for item in items:
        h = int(rng.integers(1, 6))
        c = bool(rng.integers(0, 2))
        t = "ok" if rng.random() < 0.5 else "rude"
        rate(item, members["annotator"], helpfulness=h, correct=c, tone=t)
        rate(item, members["annotator2"], helpfulness=h, correct=c, tone=t)
        judge_rate(item, good, helpfulness=h, correct=c, tone=t)
        judge_rate(item, noisy, helpfulness=int(rng.integers(1, 6)), correct=not c, tone=t)
    policy_update(project=project, trust_min_items=50)
    rater_trust_refresh(project=project)
    trust = {(t.rater.name, t.criterion_key): t for t in RaterTrust.objects.select_related("rater")}
    assert trust[("good v1", "helpfulness")].trusted
    assert trust[("good v1", "helpfulness")].items == 58, "the two few-shot items are held out"
    assert not trust[("noisy v1", "correct")].trusted
    assert "below the humans by more than 0.050" in trust[("noisy v1", "correct")].reason
    assert trust[("noisy v1", "correct")].status == "not_trusted"
    good_help = trust[("good v1", "helpfulness")]
    assert good_help.status == "trusted" and good_help.difference_low >= -0.05, "the whole interval clears the bar"

    policy_update(project=project, trust_min_items=59)
    rater_trust_refresh(project=project)
    assert not RaterTrust.objects.get(rater=good, criterion_key="helpfulness").trusted
    assert judge_rater("good v2", version=2).trust.count() == 0, "a new version starts untrusted"


def test_it_lists_items_by_disagreement(project, members, items, client_for):
    rate(items[0], members["annotator"], helpfulness=1)
    rate(items[0], members["annotator2"], helpfulness=5)
    rate(items[1], members["annotator"], helpfulness=3)
    rate(items[1], members["annotator2"], helpfulness=3)
    response = client_for(members["manager"]).get(f"/api/v1/projects/{project.pk}/agreement/items/?limit=5")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["external_id"] for r in results] == ["x0", "x1"]
    assert results[0]["disagreement"]["helpfulness"] == pytest.approx(1.0)
    assert results[1]["max"] == 0.0
    assert Gold.objects.count() == 0


def test_it_draws_the_dashboard_for_reviewers_only(client, project, members, items):
    rate(items[0], members["annotator"], helpfulness=1)
    rate(items[0], members["annotator2"], helpfulness=5)
    judge = judge_rater("<b>judge</b> v1")
    judge_rate(items[0], judge)
    client.force_login(members["reviewer"])
    page = client.get(f"/projects/{project.pk}/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "Alpha per criterion" in html
    assert "&lt;b&gt;judge&lt;/b&gt; v1" in html and "<b>judge</b>" not in html
    client.force_login(members["annotator"])
    assert client.get(f"/projects/{project.pk}/dashboard/").status_code == 403


def test_it_recomputes_cached_agreement_when_ratings_change(project, members, items, make_user, client_for):
    from annotation.models import Membership

    rate(items[0], members["annotator"], helpfulness=1)
    rate(items[0], members["annotator2"], helpfulness=5)
    rate(items[1], members["annotator"], helpfulness=2)
    rate(items[1], members["annotator2"], helpfulness=2)
    url = f"/api/v1/projects/{project.pk}/agreement/?bootstrap=0"
    reviewer = client_for(members["reviewer"])
    before = next(c for c in reviewer.get(url).json()["criteria"] if c["key"] == "helpfulness")["humans"]
    assert before["units"] == 2
    third = make_user("third")
    Membership.objects.create(project=project, user=third, role="annotator")
    rate(items[2], members["annotator"], helpfulness=4)
    rate(items[2], third, helpfulness=4)
    after = next(c for c in reviewer.get(url).json()["criteria"] if c["key"] == "helpfulness")["humans"]
    assert after["units"] == 3
    assert after["alpha"] != before["alpha"]


def test_it_decides_many_items_in_a_constant_number_of_queries(project, members, items):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for item in items:
        rate(item, members["annotator"])
        rate(item, members["annotator2"], correct=False)
    with CaptureQueriesContext(connection) as one:
        items_decide(project=project, item_ids=[items[0].pk])
    with CaptureQueriesContext(connection) as five:
        items_decide(project=project, item_ids=[i.pk for i in items])
    assert len(five.captured_queries) == len(one.captured_queries)
