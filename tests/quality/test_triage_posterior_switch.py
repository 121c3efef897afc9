"""The first switch to the posterior stopping rule (docs/triage.md, "In the app"): a small project's
model is fitted inside the request, a large one's on a worker; until that fit is stored the
agreement rule decides, and the policy's JSON and page say so."""

from types import SimpleNamespace

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from quality import tasks
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.services.approval import project_decide
from quality.services.posterior import posterior_fit_run
from tests.quality.test_triage_posterior import fitted, rate  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def agreement_rule_again(project):
    """The fitted project as it was before its first switch: the agreement rule, no model."""
    ApprovalPolicy.objects.filter(project=project).update(stopping_rule="agreement", posterior_model={})
    project_decide(project=project)


@pytest.fixture
def sent(monkeypatch):
    """The fits queued on a worker (task arguments), and in ``decides`` the projects queued for
    re-deciding, instead of sending them to a broker."""
    queued, decides = [], []
    monkeypatch.setattr(tasks.posterior_model_fit_run, "delay", lambda *args: queued.append(args))
    monkeypatch.setattr(tasks.project_items_decide, "delay", lambda *args: decides.append(args))
    return SimpleNamespace(fits=queued, decides=decides)


def test_a_small_project_is_fitted_inside_the_request_and_the_rule_applies_at_once(
    fitted,  # noqa: F811
    client_for,
    staff,
    sent,
    django_capture_on_commit_callbacks,
):
    project, new, users, _judge = fitted
    agreement_rule_again(project)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(staff).patch(
            f"/api/v1/projects/{project.pk}/approval-policy/", {"stopping_rule": "posterior"}, format="json"
        )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["posterior_model"]["fitted_at"] and body["stopping_rule_in_force"] == "posterior"
    assert body["posterior_fit"]["running"] is False and sent.fits == []
    rate(new[0], users[0])
    new[0].refresh_from_db()
    assert new[0].decision_reason == "posterior reached the target"


def test_a_large_project_queues_its_first_fit_and_the_agreement_rule_decides_until_it_lands(
    fitted,  # noqa: F811
    client_for,
    staff,
    settings,
    sent,
    django_capture_on_commit_callbacks,
):
    project, new, users, _judge = fitted
    agreement_rule_again(project)
    settings.INLINE_WORK_LIMIT = 0  # too large for a request, whatever its size
    client, url = client_for(staff), f"/api/v1/projects/{project.pk}/approval-policy/"

    with django_capture_on_commit_callbacks(execute=True):
        preview = client.post(url + "preview/", {"stopping_rule": "posterior"}, format="json")
    assert preview.status_code == 200 and preview.json()["posterior_fit_on_save"] is True
    assert sent.fits == [] and policy_for(project=project).posterior_model == {}, "a preview neither fits nor queues"

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.patch(url, {"stopping_rule": "posterior"}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["stopping_rule"] == "posterior" and body["posterior_model"] == {}, "not fitted in the request"
    assert body["stopping_rule_in_force"] == "agreement" and body["posterior_fit"]["running"] is True
    assert sent.fits == [(project.pk,)]
    counts = dict(project.items.values_list("status").annotate(n=Count("id")))
    assert preview.json()["after"] == counts, "the preview showed what saving did"

    # Another save while the fit runs queues no second one.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(url, {"stopping_target": 0.95}, format="json").status_code == 200
    assert sent.fits == [(project.pk,)]

    # Until the fit lands, the agreement rule: the judge's 4 and a 3 are within tolerance, settled on 3.
    rate(new[3], users[0], helpfulness=3)
    new[3].refresh_from_db()
    assert (new[3].status, new[3].consensus["helpfulness"], new[3].decision_reason) == ("approved", 3, "")
    browser = Client()
    browser.force_login(staff)
    page = browser.get(reverse("project-policy-page", args=[project.pk])).content.decode()
    assert 'id="fit-pending"' in page and 'id="fit-queued"' in page
    assert "the agreement rule decides the items</strong>" in page

    sent.decides.clear()
    with django_capture_on_commit_callbacks(execute=True):
        posterior_fit_run(project_id=project.pk)  # what the worker runs, then the re-decision it queues
    assert sent.decides == [(project.pk,)]
    tasks.project_items_decide(project.pk)
    body = client.get(url).json()
    assert body["posterior_model"]["fitted_at"] and body["stopping_rule_in_force"] == "posterior"
    assert body["posterior_fit"] == {"running": False, "queued_at": None, "failed": ""}
    # The fit re-decided the project: the 3 now disagrees with a calibrated judge, one more rating.
    new[3].refresh_from_db()
    assert (new[3].status, new[3].overlap_target) == ("in_progress", 2)
    assert new[3].decision_reason.startswith("one more rating: P(")
    page = browser.get(reverse("project-policy-page", args=[project.pk])).content.decode()
    assert 'id="fit-pending"' not in page and 'id="fit-queued"' not in page
