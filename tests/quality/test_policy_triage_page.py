"""The triage parts of the approval policy page: who labels the audit sample (with its preview),
and the posterior rule's fit (what it was fitted on, and a Fit now button)."""

import re

import pytest
from django.test import Client

from annotation.models import Gold, ItemStatus, Rater, RaterKind, Rating
from annotation.selectors import rater_for_user
from annotation.services.ratings import rating_submit
from quality.models import ReviewRequest
from quality.selectors.policy import policy_for
from quality.services.audit import audit_sample_draw
from tests.conftest import GOOD_RATIONALES

FORM = {"majority_threshold": "0.67", "numeric_tolerance": "0.25", "trust_margin": "0.05", "trust_min_items": "50"}
VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|fieldset|table)>', html, re.S)
    assert found, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_manager_chooses_who_labels_the_audit_and_the_preview_says_what_it_does(project, members, items):
    audit_sample_draw(project=project, size=2, seed=3)
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    html = client.get(url).content.decode()
    assert re.search(r'name="audit_labelled_by" value="people" checked', html), "people first is the default"
    choices = _text(html, "id_audit_labelled_by")
    assert "People, then a reviewer" in choices and "A reviewer only" in choices
    assert "The minimum of people, then a reviewer" in choices
    assert "people never see them" in choices

    preview = client.post(url, {**FORM, "audit_labelled_by": "reviewer", "action": "preview"})
    assert preview.status_code == 200
    said = _text(preview.content.decode(), "preview-audit")
    assert said == "Of the audit sample's 2 items, 2 would wait for a reviewer's gold."
    assert policy_for(project=project).audit_labelled_by == "people", "a preview saves nothing"
    under_people = client.post(url, {**FORM, "audit_labelled_by": "people", "action": "preview"})
    assert _text(under_people.content.decode(), "preview-audit").endswith("0 would wait for a reviewer's gold.")

    saved = client.post(url, {**FORM, "audit_labelled_by": "reviewer", "action": "save"})
    assert saved.status_code == 302
    assert policy_for(project=project).audit_labelled_by == "reviewer"
    audited = project.items.filter(audit_rank__isnull=False)
    assert set(audited.values_list("status", flat=True)) == {ItemStatus.NEEDS_REVIEW}
    assert ReviewRequest.objects.filter(item__in=audited).count() == 2
    assert re.search(r'value="reviewer" checked', client.get(url).content.decode())


def test_a_bad_audit_choice_is_refused_beside_the_field_and_nothing_is_saved(project, members):
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    response = client.post(
        url, {**FORM, "numeric_tolerance": "0.5", "audit_labelled_by": "<i>robots</i>", "action": "save"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    said = "must be &quot;people&quot;, &quot;minimum&quot; or &quot;reviewer&quot;"
    assert re.search(r'id="error_audit_labelled_by">' + said, html)
    assert "<i>robots</i>" not in html
    policy = policy_for(project=project)
    assert policy.audit_labelled_by == "people" and policy.numeric_tolerance == 0.25


@pytest.fixture
def gold_and_ratings(project, members, items):
    """Gold on every item, two people who matched it and a judge <b>named</b> with markup."""
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge <b>v1</b>", version=1)
    dist = {"helpfulness": {"4": 0.9, "3": 0.1}, "correct": {"true": 0.9, "false": 0.1}, "tone": {"ok": 1.0}}
    for item in items:
        Rating.objects.create(item=item, rater=judge, rubric_version=project.rubric_version, values=VALUES,
                              source="judge", distribution=dist, confidence=0.9)  # fmt: skip
        for who in ("annotator", "annotator2"):
            rating_submit(item=item, rater=rater_for_user(user=members[who]), values=VALUES,
                          rationales=GOOD_RATIONALES)  # fmt: skip
        Gold.objects.create(item=item, rubric_version=project.rubric_version, values=VALUES)
    return judge


def test_fit_now_fits_the_posterior_rule_and_the_page_says_on_what(project, members, gold_and_ratings):
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    fit_url = f"{url}posterior-fit/"
    assert _text(client.get(url).content.decode(), "fit-when") == "Never fitted yet."
    for who in ("annotator", "reviewer", "outsider"):
        assert page_client(members[who]).post(fit_url).status_code == 403
    assert not policy_for(project=project).posterior_model, "a refused fit stores nothing"
    assert client.get(fit_url).status_code == 405, "fitting changes things: POST only"

    response = client.post(fit_url, follow=True)
    assert response.redirect_chain == [(url, 302)]
    html = response.content.decode()
    assert "Posterior rule fitted on 5 gold item(s) and 10 human rating(s)" in html
    when = _text(html, "fit-when")
    assert "on 5 gold items and 10 human ratings" in when
    assert "judge &lt;b&gt;v1&lt;/b&gt;" in html and "judge <b>v1</b>" not in html, "the judge's name is escaped"
    row = re.search(r'data-criterion="correct">(.*?)</tr>', html, re.S).group(1)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    model = policy_for(project=project).posterior_model["criteria"]["correct"]
    assert cells[1].startswith("5") and "too few" in cells[1], "5 gold items are too few to calibrate on"
    assert cells[3] == "2", "two raters measured"
    assert cells[5] == f"{model['target']:.3f}"


def test_fit_now_with_a_target_set_shows_the_managers_target(project, members, gold_and_ratings):
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    saved = client.post(url, {**FORM, "stopping_rule": "posterior", "stopping_target": "0.9", "action": "save"})
    assert saved.status_code == 302
    client.post(f"{url}posterior-fit/")
    html = client.get(url).content.decode()
    assert re.search(r'data-field="fit-target">0\.900</strong> \(set above\)', html)


def test_fit_now_on_a_project_with_nothing_to_fit_on_says_so_and_stands(project, members, items):
    response = page_client(members["manager"]).post(
        f"/projects/{project.pk}/settings/policy/posterior-fit/", follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Posterior rule fitted on 0 gold item(s) and 0 human rating(s)" in html
    assert "on 0 gold items and 0 human ratings" in _text(html, "fit-when")
