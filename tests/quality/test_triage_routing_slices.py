"""The judge-first threshold's slice check under the agreement rule (docs/triage.md, section 2 in the
app): choosing the threshold audits the judge per slice on the same gold, leaves the slices where it
is confidently wrong out of the choice and stores them; the judge then decides none of their items."""

import pytest
from django.test import Client

from annotation.models import ApprovedBy, Item, ItemStatus
from quality.selectors.policy import policy_for
from quality.services.policy import policy_update
from quality.services.routing import routing_threshold_choose
from tests.quality.test_triage_posterior_slices import legal_and_web

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrong_on_legal(staff, rubric_version, make_user):
    """Judge first under the agreement rule, slices by metadata "source". On 160 "web" gold items
    the judge (trusted) was right at 0.97 on 120 and said 0.70 on 40, 16 of them wrong; on 40
    "legal" gold items it said 0.97 and was right on 16. People agree on 4 of 5 pairs (the bar:
    0.8). Then a new "web" item and a new "legal" one, both judged at 0.97, with no rating."""
    project, items, _users, judge = legal_and_web(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Routing slices"
    )
    policy_update(project=project, routing="judge_first", slice_by="source")
    return project, items[200:], judge


def _decided(*items):
    for item in items:
        item.refresh_from_db()
    return [(item.status, item.approved_by) for item in items]


def test_the_confidently_wrong_slice_is_left_out_of_the_threshold_and_to_people(wrong_on_legal):
    project, (web, legal), judge = wrong_on_legal
    policy, tradeoff, _ = routing_threshold_choose(project=project)
    assert tradeoff["bar"] == pytest.approx(0.8)
    assert tradeoff["slice_by"] == "source" and tradeoff["excluded_slices"] == ["legal"]
    audit = {s["slice"]: s for s in tradeoff["slices"]}
    assert audit["legal"]["overconfident"] and audit["legal"]["accuracy"]["successes"] == 16
    assert audit["legal"]["accuracy"]["total"] == 40 and audit["legal"]["mean_confidence"] == pytest.approx(0.97)
    assert not audit["web"]["overconfident"] and audit["web"]["accuracy"]["successes"] == 144
    assert tradeoff["gold_items"] == 160, "the curve is drawn on the web slice only"
    # On the web slice alone the judge is right on 144 of 160 (0.90) even at 0.70: it keeps all of it.
    assert policy.routing_rater_id == judge.pk and policy.routing_threshold == pytest.approx(0.70)

    stored = policy_for(project=project).routing_slices
    assert stored["slice_by"] == "source" and stored["excluded_slices"] == ["legal"]
    assert [s["slice"] for s in stored["slices"] if s["overconfident"]] == ["legal"]
    web_decision, legal_decision = _decided(web, legal)
    assert web_decision == (ItemStatus.APPROVED, ApprovedBy.JUDGE)
    assert legal_decision[0] == ItemStatus.PENDING, "as sure as the web item, but in the flagged slice"


def test_without_a_slice_key_the_legal_errors_pull_the_threshold_and_the_judge_decides_nothing(wrong_on_legal):
    project, (web, legal), _judge = wrong_on_legal
    routing_threshold_choose(project=project)
    assert _decided(web)[0] == (ItemStatus.APPROVED, ApprovedBy.JUDGE)

    # A new key (here none) waits for the next choice: the stored check still decides.
    policy_update(project=project, slice_by="")
    assert policy_for(project=project).routing_slices["excluded_slices"] == ["legal"]
    assert _decided(web, legal) == [(ItemStatus.APPROVED, ApprovedBy.JUDGE), (ItemStatus.PENDING, "")]

    policy, tradeoff, _ = routing_threshold_choose(project=project)
    assert tradeoff["slices"] == [] and tradeoff["excluded_slices"] == [] and tradeoff["gold_items"] == 200
    # At 0.97 the judge is right on 136 of 160 (0.85): not surely at the bar of 0.8, so it keeps nothing.
    top = tradeoff["choice"]["curve"][0]
    assert top["threshold"] == pytest.approx(0.97) and top["kept"] == 160 and not top["passes"]
    assert policy.routing_threshold is None and policy.routing_slices == {}
    assert [d[1] for d in _decided(web, legal)] == ["", ""], "neither item is the judge's now"


def test_every_slice_flagged_leaves_no_gold_to_choose_on(wrong_on_legal):
    project, _items, _judge = wrong_on_legal
    # Every gold item in the legal slice: the judge is confidently wrong on all the gold there is.
    Item.objects.filter(project=project).update(metadata={"source": "legal"})
    Item.objects.filter(project=project, external_id__lt="i160").delete()
    policy, tradeoff, _ = routing_threshold_choose(project=project)
    assert tradeoff["excluded_slices"] == ["legal"] and tradeoff["gold_items"] == 0
    assert tradeoff["reason"] == "every gold item is in a slice the judge is confidently wrong on"
    assert policy.routing_threshold is None


def test_the_policy_api_shows_the_stored_slices_read_only(wrong_on_legal, client_for):
    project, _items, _judge = wrong_on_legal
    manager = client_for(project.created_by)
    url = f"/api/v1/projects/{project.pk}/approval-policy/"
    assert manager.get(url).json()["routing_slices"] == {}
    chosen = manager.post(f"/api/v1/projects/{project.pk}/routing/threshold/").json()
    assert chosen["excluded_slices"] == ["legal"] and chosen["slice_by"] == "source"
    assert chosen["policy"]["routing_slices"]["excluded_slices"] == ["legal"]
    body = manager.get(url).json()
    assert body["routing_slices"]["slice_by"] == "source" and body["routing_slices"]["excluded_slices"] == ["legal"]
    legal = next(s for s in body["routing_slices"]["slices"] if s["slice"] == "legal")
    assert legal["accuracy"]["successes"] == 16 and legal["overconfident"]

    bad = manager.patch(url, {"routing_slices": {"slice_by": "source", "excluded_slices": []}}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"routing_slices"}
    assert policy_for(project=project).routing_slices["excluded_slices"] == ["legal"]


def test_the_dashboard_lists_the_flagged_slices_escaped(wrong_on_legal):
    project, _items, _judge = wrong_on_legal
    # Slice names come from item metadata, which importers control.
    Item.objects.filter(project=project, metadata__source="legal").update(metadata={"source": "<i>legal</i>"})
    routing_threshold_choose(project=project)
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/dashboard/").content.decode()
    para = html[html.index('data-field="routing-slices"') :].split("</p>")[0]
    assert '<code data-field="routing-slice-by">source</code>' in para
    escaped = "&lt;i&gt;legal&lt;/i&gt;"
    assert f'<span data-slice="{escaped}"><strong>{escaped}</strong>: right on 16 of 40 gold items (0.40' in para
    assert "at a mean confidence of 0.97, where its calibration on the other slices expects 0.9" in para
    assert "<i>legal</i>" not in html
    assert "web" not in para.split(":", 1)[1], "only the flagged slices are listed"

    policy_update(project=project, slice_by="lang")
    html = browser.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert "The slice key is now <code>lang</code>: choose the threshold again" in html
