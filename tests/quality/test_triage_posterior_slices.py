"""The posterior fit's slice check (docs/triage.md, section 3b in the app): on a slice of items where
the judge is confidently wrong on gold, the judge is neither calibrated, nor a difficulty measure,
nor allowed to decide alone; people decide those items. Elsewhere the judge may settle items alone."""

import pytest
from django.test import Client

from annotation.models import ApprovedBy, ItemStatus
from annotation.services.projects import project_update
from annotation.services.queue import assignment_claim_next
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.services.policy import policy_update
from quality.services.posterior import posterior_model_fit
from tests.quality.test_triage_posterior import judge_first_world

pytestmark = pytest.mark.django_db


def legal_and_web(*, staff, rubric_version, make_user, name: str):
    """200 gold items by metadata "source": on 160 "web" ones the judge was right at 0.96-0.97 on
    120 and said 0.70 on 40, 16 of them wrong; on 40 "legal" ones it said 0.96-0.97 and was wrong
    on 24. Then a new "web" item and a new "legal" one, both judged sure (judge_first_world)."""
    rows = [
        {"external_id": f"i{n:03}", "data": {"n": n}, "metadata": {"source": "legal" if 160 <= n < 200 else "web"}}
        for n in range(200)
    ]
    rows += [{"external_id": "new-web", "data": {"n": 1}, "metadata": {"source": "web"}},
             {"external_id": "new-legal", "data": {"n": 2}, "metadata": {"source": "legal"}}]  # fmt: skip
    return judge_first_world(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name=name, rows=rows, gold=200,
        unsure=lambda n: 120 <= n < 160, wrong=lambda n: 120 <= n < 136 or 160 <= n < 184,
    )  # fmt: skip


@pytest.fixture
def wrong_on_legal(staff, rubric_version, make_user):
    """Judge first under the posterior rule, slices by metadata "source". On 160 "web" gold items
    the judge (trusted, the routing judge) was right at 0.96-0.97 on 120 and said 0.70 on 40, 16 of
    them wrong; on 40 "legal" gold items it said 0.96-0.97 and was wrong on 24. Two people on each
    gold item, one of them off gold on every fifth. Then a new sure "web" item and a sure "legal" one."""
    project, items, users, judge = legal_and_web(staff=staff, rubric_version=rubric_version, make_user=make_user,
                                                 name="Slices")  # fmt: skip
    project = project_update(project=project, overlap_min=1)
    policy_update(project=project, stopping_rule="posterior", routing="judge_first", slice_by="source")
    ApprovalPolicy.objects.filter(project=project).update(routing_rater=judge)
    posterior_model_fit(project=project)
    return project, items[200:], users


def test_the_confidently_wrong_slice_goes_to_people_and_the_judge_settles_the_rest_alone(wrong_on_legal):
    project, (web, legal), users = wrong_on_legal
    model = policy_for(project=project).posterior_model
    assert model["slice_by"] == "source"
    for key, fit in model["criteria"].items():
        assert fit["excluded_slices"] == ["legal"], key
        legal_audit = next(s for s in fit["slices"] if s["slice"] == "legal")
        assert legal_audit["overconfident"] and legal_audit["accuracy"]["successes"] == 16
        assert legal_audit["accuracy"]["ci"][1] < legal_audit["mean_confidence"]
        assert fit["calibration_items"] == 160, "calibrated on the web slice only"
    correct = model["criteria"]["correct"]
    # The web slice alone: 0.97 -> (120 + 1) / (120 + 2); with legal's 24 errors it would be (136 + 1) / (160 + 2).
    assert correct["calibration"]["values"][-1] == pytest.approx(121 / 122)
    assert correct["judge_alone_from"] is not None

    web.refresh_from_db()
    assert (web.status, web.approved_by) == (ItemStatus.APPROVED, ApprovedBy.JUDGE)
    assert web.decision_reason == "the calibrated judge alone reached the posterior target"
    legal.refresh_from_db()
    assert legal.status == ItemStatus.PENDING, "as sure as the web item, but in the flagged slice: people decide"
    lease = assignment_claim_next(project=project, user=users[2])
    assert lease is not None and lease.item_id == legal.pk


def test_a_routing_threshold_does_not_let_the_judge_decide_a_flagged_slice_either(wrong_on_legal):
    project, (web, legal), _users = wrong_on_legal
    ApprovalPolicy.objects.filter(project=project).update(routing_threshold=0.5)
    policy_update(project=project)  # re-decide under the threshold
    legal.refresh_from_db()
    assert legal.status == ItemStatus.PENDING and legal.approved_by != ApprovedBy.JUDGE
    web.refresh_from_db()
    assert web.approved_by == ApprovedBy.JUDGE


def test_without_a_slice_key_the_wrong_slice_spoils_the_calibration_and_nothing_is_left_to_the_judge(
    wrong_on_legal,
):
    project, (web, legal), _users = wrong_on_legal
    policy_update(project=project, slice_by="")
    posterior_model_fit(project=project)
    correct = policy_for(project=project).posterior_model["criteria"]["correct"]
    assert correct["excluded_slices"] == [] and correct["calibration_items"] == 200
    assert correct["calibration"]["values"][-1] == pytest.approx(137 / 162)
    legal.refresh_from_db()
    web.refresh_from_db()
    assert ApprovedBy.JUDGE not in (legal.approved_by, web.approved_by)


def test_the_policy_page_and_api_show_which_slices_are_excluded_and_why(wrong_on_legal, client_for):
    project, _items, _users = wrong_on_legal
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    assert '<code data-field="fit-slice-by">source</code>' in html
    row = html[html.index('<tr data-criterion="correct">') :].split("</tr>")[0]
    cell = row[row.index('data-field="excluded-slices"') :]
    assert '<span data-slice="legal"><strong>legal</strong>: right on 16 of 40 gold items (0.40' in cell
    assert "at a mean confidence of 0.97, where its calibration on the other slices expects 0.9" in cell
    body = client_for(project.created_by).get(f"/api/v1/projects/{project.pk}/approval-policy/").json()
    assert body["slice_by"] == "source"
    assert body["posterior_model"]["criteria"]["correct"]["excluded_slices"] == ["legal"]
    bad = client_for(project.created_by).patch(
        f"/api/v1/projects/{project.pk}/approval-policy/", {"slice_by": "a b"}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"slice_by"}
