"""The approval policy page: managers only, a preview that saves nothing and matches what saving
does, inline field errors with nothing saved, CSRF."""

import re

from django.test import Client

from annotation.models import ItemStatus
from quality.selectors.policy import policy_for
from tests.quality.test_approval import rate

FORM = {
    "majority_threshold": "0.67",
    "numeric_tolerance": "0.25",
    "trust_margin": "0.05",
    "trust_min_items": "50",
}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_policy_page_is_for_managers_and_explains_each_criterion(project, members):
    url = f"/projects/{project.pk}/settings/policy/"
    for who in ("annotator", "reviewer", "outsider"):
        assert page_client(members[who]).get(url).status_code == 403
    html = page_client(members["manager"]).get(url).content.decode()
    rules = re.search(r'id="criteria-rules">.*?</table>', html, re.S).group(0)
    assert "at most 1 apart on the 1 to 5 scale" in rules, "helpfulness: 0.25 of a 1-5 scale"
    assert "at least 67% of the raters" in rules
    assert "free text" in rules
    settings_html = page_client(members["manager"]).get(f"/projects/{project.pk}/settings/").content.decode()
    assert f'href="{url}"' in settings_html


def test_the_preview_counts_what_saving_then_does(project, members, items):
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=5)
    rate(items[1], members["annotator"], helpfulness=4)
    rate(items[1], members["annotator2"], helpfulness=4)
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    response = client.post(url, {**FORM, "numeric_tolerance": "0.75", "action": "preview"})
    assert response.status_code == 200
    html = response.content.decode()
    sentence = re.search(r'id="preview-sentence">(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", sentence) == "Under this policy, 2 items would be approved, 0 sent to review."
    assert 'value="0.75"' in html, "the previewed value stays in the form"
    assert policy_for(project=project).numeric_tolerance == 0.25, "a preview saves nothing"
    saved = client.post(url, {**FORM, "numeric_tolerance": "0.75", "action": "save"})
    assert saved.status_code == 302
    assert policy_for(project=project).numeric_tolerance == 0.75
    assert project.items.filter(status=ItemStatus.APPROVED).count() == 2


def test_bad_values_are_refused_field_by_field_and_nothing_is_saved(project, members):
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    response = client.post(
        url, {**FORM, "majority_threshold": "0.3", "trust_min_items": "0", "numeric_tolerance": "<b>x</b>",
              "judge_may_approve": "on", "action": "save"}
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="error_majority_threshold">must be a number in \(0.5, 1\]', html)
    assert re.search(r'id="error_numeric_tolerance">must be a number.', html)
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in html, "what was typed comes back, escaped"
    response = client.post(url, {**FORM, "majority_threshold": "0.3", "judge_may_approve": "on", "action": "save"})
    assert response.status_code == 400 and 'id="error_majority_threshold"' in response.content.decode()
    policy = policy_for(project=project)
    assert policy.majority_threshold == 2 / 3 and policy.judge_may_approve is False, "nothing partial saved"
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(members["manager"])
    assert csrf.post(url, {**FORM, "action": "save"}).status_code == 403


def test_a_criterion_gets_its_own_threshold_on_the_page(project, members, items):
    rate(items[0], members["annotator"], helpfulness=2)
    rate(items[0], members["annotator2"], helpfulness=4)
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    bad = client.post(url, {**FORM, "own-helpfulness": "lots", "own-correct": "0.3", "action": "save"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert re.search(r'id="error_own-helpfulness">must be a number, or blank', html)
    assert re.search(r'id="error_own-correct">must be a number in \(0.5, 1\]', html)
    assert policy_for(project=project).per_criterion == {}
    preview = client.post(url, {**FORM, "own-helpfulness": "0.5", "action": "preview"}).content.decode()
    assert "at most 2 apart on the 1 to 5 scale" in preview
    assert "Under this policy, <strong>1</strong> item would be approved" in preview
    assert client.post(url, {**FORM, "own-helpfulness": "0.5", "action": "save"}).status_code == 302
    assert policy_for(project=project).per_criterion == {"helpfulness": 0.5}
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED


def test_the_stopping_rule_is_chosen_on_the_page_with_a_blank_target_for_the_fitted_one(project, members):
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/settings/policy/"
    html = client.get(url).content.decode()
    assert re.search(r'<option value="agreement" selected>Raters agree</option>', html), "today's rule by default"
    assert 'name="stopping_target" id="id_stopping_target" value=""' in html
    bad = client.post(url, {**FORM, "stopping_rule": "vibes", "stopping_target": "x", "action": "save"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert 'id="error_stopping_target">must be a number, or blank for the fitted target.' in text
    assert 'id="error_stopping_rule">must be &quot;agreement&quot; or &quot;posterior&quot;.' in text
    assert policy_for(project=project).stopping_rule == "agreement", "nothing saved"
    saved = client.post(url, {**FORM, "stopping_rule": "posterior", "stopping_target": "0.97", "action": "save"})
    assert saved.status_code == 302
    policy = policy_for(project=project)
    assert (policy.stopping_rule, policy.stopping_target) == ("posterior", 0.97)
    assert set(policy.posterior_model["criteria"]) == {"helpfulness", "correct", "tone"}, "fitted on the switch"
    client.post(url, {**FORM, "stopping_rule": "posterior", "stopping_target": "", "action": "save"})
    assert policy_for(project=project).stopping_target is None
