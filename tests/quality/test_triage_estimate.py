"""The audit sample and the dataset's quality estimate (docs/triage.md, section 4)."""

import json

import numpy as np
import pytest

import agreement
from annotation.models import ApprovedBy, Item, ItemStatus, Rater, RaterKind, Rating
from annotation.services.items import items_import
from annotation.services.queue import assignment_claim_next
from quality.models import RaterTrust
from quality.services.approval import items_decide
from quality.services.audit import audit_sample_draw
from quality.services.policy import policy_update

pytestmark = pytest.mark.django_db


def many_items(project, n):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(n)])
    return list(project.items.order_by("id"))


def judge_verdicts(project, items, values_of):
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    Rating.objects.bulk_create(
        Rating(item=i, rater=judge, rubric_version=project.rubric_version, values=values_of(i), source="judge")
        for i in items
    )
    return judge


def human_decide(item, values):
    Item.objects.filter(pk=item.pk).update(
        status=ItemStatus.APPROVED, approved_by=ApprovedBy.REVIEWER, consensus=values
    )


def test_a_manager_draws_the_audit_and_a_larger_size_extends_it(project, members, client_for):
    many_items(project, 30)
    manager = client_for(members["manager"])
    response = manager.post(f"/api/v1/projects/{project.pk}/audit/", {"size": 5, "seed": 7}, format="json")
    assert response.status_code == 200, response.json()
    first = response.json()["items"]
    ids = list(project.items.values_list("id", flat=True))
    expected = [Item.objects.get(pk=i).external_id for i in agreement.audit_sample(ids, size=5, seed=7)]
    assert first == expected
    assert response.json()["seed"] == 7 and response.json()["added"] == 5

    bigger = manager.post(f"/api/v1/projects/{project.pk}/audit/", {"size": 8}, format="json").json()
    assert bigger["items"][:5] == first and len(bigger["items"]) == 8 and bigger["added"] == 3
    assert (
        list(
            project.items.filter(audit_rank__isnull=False).order_by("audit_rank").values_list("external_id", flat=True)
        )
        == bigger["items"]
    )

    again = manager.post(f"/api/v1/projects/{project.pk}/audit/", {"size": 8, "seed": 8}, format="json")
    assert again.status_code == 400 and "seed" in again.json()["errors"]
    too_big = manager.post(f"/api/v1/projects/{project.pk}/audit/", {"size": 31}, format="json")
    assert too_big.status_code == 400 and "size" in too_big.json()["errors"]
    assert (
        client_for(members["annotator"])
        .post(f"/api/v1/projects/{project.pk}/audit/", {"size": 1}, format="json")
        .status_code
        == 403
    )
    assert client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/audit/").json()["size"] == 8
    assert client_for(members["outsider"]).get(f"/api/v1/projects/{project.pk}/audit/").status_code == 403


def test_the_queue_serves_audited_items_first_in_draw_order(project, members):
    items = many_items(project, 12)
    audit_sample_draw(project=project, size=3, seed=11)
    order = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank").values_list("id", flat=True))
    assert order != [i.pk for i in items[:3]], "the seed was chosen so the audit is not the oldest items"
    served = []
    for who in ("annotator", "annotator2", "reviewer"):
        lease = assignment_claim_next(project=project, user=members[who])
        served.append(lease.item_id)
    # Two ratings per item: the first audited item goes to two people before the second.
    assert served == [order[0], order[0], order[1]]


def test_a_trusted_judge_never_decides_an_audited_item(project, members):
    items = many_items(project, 6)
    judge = judge_verdicts(project, items, lambda i: {"helpfulness": 4, "correct": True, "tone": "ok"})
    for key in ("helpfulness", "correct", "tone"):
        RaterTrust.objects.create(
            project=project, rater=judge, rubric_version=project.rubric_version, criterion_key=key, trusted=True
        )
    policy_update(project=project, judge_may_approve=True)
    items_decide(project=project, item_ids=[i.pk for i in items])
    assert set(project.items.values_list("approved_by", flat=True)) == {ApprovedBy.JUDGE}

    audit_sample_draw(project=project, size=2, seed=3)
    audited = project.items.filter(audit_rank__isnull=False)
    assert [i.status for i in audited] == [ItemStatus.PENDING, ItemStatus.PENDING]
    assert project.items.filter(approved_by=ApprovedBy.JUDGE).count() == 4
    lease = assignment_claim_next(project=project, user=members["annotator"])
    assert lease.item.audit_rank == 1

    audit_sample_draw(project=project, size=0)
    assert project.items.filter(approved_by=ApprovedBy.JUDGE).count() == 6, "out of the audit, the judge decides again"


def test_the_estimate_combines_the_judge_on_every_item_with_the_audit(project, members, client_for):
    rng = np.random.default_rng(5)
    items = many_items(project, 60)
    truth = {i.pk: bool(rng.random() < 0.6) for i in items}
    # A biased judge: says "correct" on every truly correct item and on half the others.
    said = {i.pk: truth[i.pk] or bool(i.pk % 2) for i in items}
    judge_verdicts(project, items, lambda i: {"helpfulness": 3, "correct": said[i.pk], "tone": "ok"})
    audit_sample_draw(project=project, size=25, seed=99)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))
    for item in audited:
        human_decide(item, {"helpfulness": 4, "correct": truth[item.pk], "tone": "ok"})

    response = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/estimate/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["items"] == 60 and body["audit"] == {"size": 25, "seed_fixed": True, "labelled": 25, "outdated": False}
    assert body["judge"]["name"] == "judge v1"
    correct = next(q for q in body["quantities"] if q["key"] == "correct")
    by = {e["method"]: e for e in correct["estimates"]}
    y = np.array([truth[i.pk] for i in audited], dtype=float)
    f_all = np.array([said[i.pk] for i in items], dtype=float)
    f_audit = np.array([said[i.pk] for i in audited], dtype=float)
    assert by["human"]["estimate"] == pytest.approx(y.mean())
    assert by["judge"]["estimate"] == pytest.approx(f_all.mean())
    assert by["ppi"]["estimate"] == pytest.approx(f_all.mean() + (y - f_audit).mean())
    assert by["ppi++"]["ci"][1] - by["ppi++"]["ci"][0] <= by["human"]["ci"][1] - by["human"]["ci"][0] + 1e-12
    assert by["judge"]["estimate"] > by["ppi"]["estimate"], "the audit corrects the judge's optimism"
    helpfulness = next(q for q in body["quantities"] if q["key"] == "helpfulness")
    assert {e["method"]: e["estimate"] for e in helpfulness["estimates"]}["human"] == pytest.approx(4.0)
    assert helpfulness["axis"] == [1.0, 5.0]

    share = (
        client_for(members["manager"])
        .get(f"/api/v1/projects/{project.pk}/estimate/", {"criterion": "helpfulness", "at_least": "4"})
        .json()
    )
    at_least = next(q for q in share["quantities"] if q["key"] == "helpfulness>=4")
    assert {e["method"]: e["estimate"] for e in at_least["estimates"]}["judge"] == 0.0


def test_an_audit_that_agrees_with_the_judge_everywhere_still_gets_an_interval(project, members, client_for):
    """Every audited item agrees with the judge and every one is "correct": the intervals are
    not zero-width (no audit of 20 items shows certainty) and a share's stays inside 0-1."""
    items = many_items(project, 50)
    judge_verdicts(project, items, lambda i: {"helpfulness": 3 + i.pk % 2, "correct": True, "tone": "ok"})
    audit_sample_draw(project=project, size=20, seed=3)
    for item in project.items.filter(audit_rank__isnull=False):
        human_decide(item, {"helpfulness": 3 + item.pk % 2, "correct": True, "tone": "ok"})

    body = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/estimate/").json()
    quantities = {q["key"]: {e["method"]: e for e in q["estimates"]} for q in body["quantities"]}
    helpfulness, correct = quantities["helpfulness"], quantities["correct"]
    low, high = helpfulness["ppi"]["ci"]
    assert low < helpfulness["ppi"]["estimate"] < high and high - low > 0.05
    assert correct["human"]["estimate"] == 1.0 and correct["human"]["ci"][1] == 1.0
    assert 0.85 < correct["human"]["ci"][0] < 1.0 and correct["ppi"]["ci"][0] < 1.0


def test_only_the_labelled_prefix_of_the_audit_counts(project, members, client_for):
    items = many_items(project, 20)
    judge_verdicts(project, items, lambda i: {"helpfulness": 3, "correct": True, "tone": "ok"})
    audit_sample_draw(project=project, size=6, seed=1)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))
    for item in audited[1:]:  # everything but the first in draw order
        human_decide(item, {"helpfulness": 4, "correct": False, "tone": "ok"})
    body = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/estimate/").json()
    correct = next(q for q in body["quantities"] if q["key"] == "correct")
    assert correct["audited"] == 0, "a labelled set that skips the first draw is not a uniform sample"
    assert {e["method"]: e["reason"] for e in correct["estimates"]}["ppi"] == "fewer than two audited items"
    human_decide(audited[0], {"helpfulness": 4, "correct": False, "tone": "ok"})
    body = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/estimate/").json()
    assert next(q for q in body["quantities"] if q["key"] == "correct")["audited"] == 6


def test_the_estimate_refuses_bad_parameters_with_field_errors(project, members, client_for, items):
    url = f"/api/v1/projects/{project.pk}/estimate/"
    reviewer = client_for(members["reviewer"])
    for params, field in (
        ({"judge": "999"}, "judge"),
        ({"criterion": "helpfulness"}, "at_least"),
        ({"criterion": "tone", "at_least": "1"}, "criterion"),
        ({"criterion": "helpfulness", "at_least": "nan"}, "at_least"),
        ({"bogus": "1"}, "bogus"),
    ):
        response = reviewer.get(url, params)
        assert response.status_code == 400 and field in response.json()["errors"], (params, response.json())
    assert client_for(members["annotator"]).get(url).status_code == 403
    # No judge, no audit: an answer, with the judge's estimates left out and the rest undefined.
    body = reviewer.get(url).json()
    assert body["judge"] is None
    assert [e["method"] for e in body["quantities"][0]["estimates"]] == ["human"]


def test_exports_say_which_items_were_audited(project, members, client_for):
    many_items(project, 10)
    audit_sample_draw(project=project, size=3, seed=4)
    Item.objects.filter(project=project).update(status=ItemStatus.APPROVED, approved_by=ApprovedBy.REVIEWER)
    raw = b"".join(client_for(members["manager"]).get(f"/api/v1/projects/{project.pk}/export/").streaming_content)
    records = [json.loads(line) for line in raw.decode().splitlines()]
    ranks = {r["external_id"]: r["audit_rank"] for r in records}
    expected = dict(project.items.values_list("external_id", "audit_rank"))
    assert ranks == expected and sorted(r for r in ranks.values() if r) == [1, 2, 3]


def test_the_judges_distribution_gives_soft_predictions(project, members, client_for):
    items = many_items(project, 10)
    judge = judge_verdicts(project, items, lambda i: {"helpfulness": 4, "correct": True, "tone": "ok"})
    Rating.objects.filter(rater=judge).update(
        distribution={"correct": {"true": 0.7, "false": 0.3}, "helpfulness": {"3": 0.5, "4": 0.5}}
    )
    body = (
        client_for(members["reviewer"])
        .get(f"/api/v1/projects/{project.pk}/estimate/", {"criterion": "helpfulness", "at_least": "4"})
        .json()
    )
    judge_only = {q["key"]: next(e for e in q["estimates"] if e["method"] == "judge") for q in body["quantities"]}
    assert judge_only["correct"]["estimate"] == pytest.approx(0.7), "P(yes), not the verdict's yes"
    assert judge_only["helpfulness"]["estimate"] == pytest.approx(3.5)
    assert judge_only["helpfulness>=4"]["estimate"] == pytest.approx(0.5)


def test_a_manager_draws_the_audit_from_the_dashboard_and_a_reviewer_may_not(project, members, client):
    many_items(project, 20)
    url = f"/projects/{project.pk}/dashboard/audit/"
    client.force_login(members["reviewer"])
    assert 'data-role="audit-form"' not in client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert client.post(url, {"size": "5"}).status_code == 403
    client.force_login(members["manager"])
    assert 'data-role="audit-form"' in client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    response = client.post(url, {"size": "5"}, follow=True)
    assert (
        response.status_code == 200
        and "The audit sample is now 5 items (5 added, 0 removed)." in response.content.decode()
    )
    assert project.items.filter(audit_rank__isnull=False).count() == 5
    response = client.post(url, {"size": "500"}, follow=True)
    assert (
        "Audit not drawn" in response.content.decode() and project.items.filter(audit_rank__isnull=False).count() == 5
    )
    assert client.get(url).status_code == 405
