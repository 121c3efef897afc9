"""Send to review, reopen, and the policy preview: explicit decisions that the approval rule
respects, and a preview computed by the very rule that decides."""

from annotation.models import ApprovedBy, ItemStatus
from annotation.services.review import gold_set
from quality.models import ReviewRequest
from quality.services.approval import project_decide
from quality.services.policy import policy_update
from quality.services.policy_preview import policy_preview
from tests.quality.test_approval import rate


def test_a_review_request_holds_an_approved_item_until_a_reviewer_decides(members, items, client_for):
    item = items[0]
    rate(item, members["annotator"])
    rate(item, members["annotator2"])
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED
    url = f"/api/v1/items/{item.pk}/send-to-review/"
    assert client_for(members["annotator"]).post(url, {"reason": "odd"}, format="json").status_code == 403
    missing = client_for(members["reviewer"]).post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    response = client_for(members["reviewer"]).post(url, {"reason": "the answer cites a dead link"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == ItemStatus.NEEDS_REVIEW
    project_decide(project=item.project, inline=True)
    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW, "re-deciding the project keeps the request"
    assert "dead link" in item.decision_reason
    gold_set(item=item, reviewer=members["reviewer"], values={"helpfulness": 2, "correct": False, "tone": "ok"})
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED and item.approved_by == ApprovedBy.REVIEWER
    again = client_for(members["reviewer"]).post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409, "adjudicated: nothing to send"


def test_reopen_undoes_a_rejection_or_a_request_and_the_policy_decides_again(members, items, client_for):
    item = items[0]
    rate(item, members["annotator"])
    rate(item, members["annotator2"])
    reviewer = client_for(members["reviewer"])
    assert reviewer.post(f"/api/v1/items/{item.pk}/reopen/").status_code == 409, "nothing to undo"
    assert reviewer.post(f"/api/v1/items/{item.pk}/reject/", {"reason": "spam"}, format="json").status_code == 200
    blocked = reviewer.post(f"/api/v1/items/{item.pk}/send-to-review/", {"reason": "x"}, format="json")
    assert blocked.status_code == 409
    assert client_for(members["annotator"]).post(f"/api/v1/items/{item.pk}/reopen/").status_code == 403
    response = reviewer.post(f"/api/v1/items/{item.pk}/reopen/")
    assert response.status_code == 200
    assert response.json()["status"] == ItemStatus.APPROVED, "two agreeing ratings: approved again"
    reviewer.post(f"/api/v1/items/{item.pk}/send-to-review/", {"reason": "look"}, format="json")
    assert ReviewRequest.objects.filter(item=item).exists()
    assert reviewer.post(f"/api/v1/items/{item.pk}/reopen/").json()["status"] == ItemStatus.APPROVED
    assert not ReviewRequest.objects.filter(item=item).exists()


def test_the_preview_says_what_saving_the_policy_does_and_writes_nothing(project, members, items, client_for):
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=5)
    rate(items[1], members["annotator"], helpfulness=4)
    rate(items[1], members["annotator2"], helpfulness=4)
    url = f"/api/v1/projects/{project.pk}/approval-policy/preview/"
    response = client_for(members["manager"]).post(url, {"numeric_tolerance": 0.75}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["now"] == {"needs_review": 1, "approved": 1, "pending": 3}
    assert body["after"] == {"approved": 2, "pending": 3} and body["estimated"] is False
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW, "a preview writes nothing"
    policy_update(project=project, numeric_tolerance=0.75)
    statuses = sorted(project.items.values_list("status", flat=True))
    assert statuses.count(ItemStatus.APPROVED) == body["after"]["approved"]
    bad = client_for(members["manager"]).post(url, {"majority_threshold": 0.2}, format="json")
    assert bad.status_code == 400 and "majority_threshold" in bad.json()["errors"]
    assert client_for(members["reviewer"]).post(url, {}, format="json").status_code == 403


def test_the_preview_samples_a_large_project_and_scales(project, members, items, monkeypatch):
    from quality.services import policy_preview as module

    monkeypatch.setattr(module, "PREVIEW_SAMPLE", 2)
    rate(items[0], members["annotator"])
    rate(items[0], members["annotator2"])
    preview = policy_preview(project=project, changes={})
    assert preview.items == 5 and preview.sampled == 2 and preview.estimated
    assert abs(sum(preview.after.values()) - 5) <= 1, "scaled by 5 / 2, rounded per status"


def test_a_criterion_can_have_its_own_threshold(project, members, items, client_for):
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=4)  # 2 apart: over the default 1 point
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW
    url = f"/api/v1/projects/{project.pk}/approval-policy/"
    manager = client_for(members["manager"])
    bad = manager.patch(url, {"per_criterion": {"helpfulness": -1, "notes": 0.5, "nope": 0.9}}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"per_criterion.helpfulness", "per_criterion.notes", "per_criterion.nope"}
    assert manager.patch(url, {"per_criterion": {"correct": 0.4}}, format="json").status_code == 400, "(0.5, 1]"
    ok = manager.patch(url, {"per_criterion": {"helpfulness": 0.5}}, format="json")
    assert ok.status_code == 200 and ok.json()["per_criterion"] == {"helpfulness": 0.5}
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED, "half the 1-5 range: 2 points allowed for helpfulness"
    assert manager.patch(url, {"per_criterion": {}}, format="json").json()["per_criterion"] == {}
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW
