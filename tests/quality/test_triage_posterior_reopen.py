"""A new fit of the posterior rule reopens items it approved under an earlier fit only as far as the
target's promise needs (docs/triage.md, section 3b): fixed overlap's accuracy on average."""

import pytest
from django.test import Client

import agreement
from annotation.models import ItemStatus, Rating
from annotation.services.items import items_import
from quality.selectors.policy import policy_for
from quality.services.approval import posteriors_of_settled, project_decide
from quality.services.policy import policy_update
from quality.services.posterior import posterior_model_fit
from tests.quality.test_triage_posterior import GOLD_ITEMS, SURE, VERDICT, judged_and_fitted, project_with_judge, rate

pytestmark = pytest.mark.django_db

NEW = 12


@pytest.fixture
def settled(staff, rubric_version, make_user):
    """The judge right on 57 of 60 gold items; the fitted target (none set by the manager); NEW items
    each approved on the judge and one agreeing person."""
    rows = [{"external_id": f"g{i}", "data": {"n": i}} for i in range(GOLD_ITEMS)]
    rows += [{"external_id": f"new{i}", "data": {"n": i}} for i in range(NEW)]
    project, items, users, judge = project_with_judge(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Reopen", rows=rows, people=5
    )
    wrong = {**VERDICT, "correct": False, "helpfulness": 3}
    project = judged_and_fitted(project=project, items=items, users=users, judge=judge, distribution=SURE,
                                confidence=0.96, truth=lambda n: VERDICT if n >= 3 else wrong)  # fmt: skip
    policy_update(project=project, stopping_target=None)
    posterior_model_fit(project=project)
    new = list(project.items.filter(external_id__startswith="new").order_by("id"))
    for n, item in enumerate(new):
        rate(item, users[n % 5])
    return project, new, users, judge


def _store(project, **changes):
    """Change the stored fit of 'correct' (what a new fit would have stored), then re-decide."""
    policy = policy_for(project=project)
    fit = policy.posterior_model["criteria"]["correct"]
    for key, value in changes.items():
        if value is None:
            fit.pop(key, None)
        else:
            fit[key] = value
    policy.save(update_fields=["posterior_model"])
    project_decide(project=project)


def _split(project):
    """The settled items' two posteriors of 'correct' (one person of two accuracies agreeing with the judge)."""
    rows = posteriors_of_settled(project=project, policy=policy_for(project=project))["correct"]
    low, high = sorted({round(p, 12) for p, _ in rows})
    return low, high


def _statuses(items):
    for item in items:
        item.refresh_from_db()
    return [item.status for item in items]


def test_a_new_fit_keeps_a_settled_item_at_or_above_its_reopen_point_though_below_the_new_target(settled):
    project, new, _users, _judge = settled
    assert set(_statuses(new)) == {ItemStatus.APPROVED}
    low, high = _split(project)
    # A fit whose target is above every settled item, but whose average needs only the least sure reopened.
    _store(project, target=min(0.9999999, high + (1 - high) / 2), reopen_below=(low + high) / 2)
    after = _statuses(new)
    posteriors = [p for p, _ in posteriors_of_settled(project=project, policy=policy_for(project=project))["correct"]]
    assert ItemStatus.APPROVED in after and ItemStatus.IN_PROGRESS in after
    for item in new:
        if item.status == ItemStatus.IN_PROGRESS:
            assert item.overlap_target == 2 and item.decision_reason.startswith("one more rating")
    assert len(posteriors) == after.count(ItemStatus.APPROVED), "the ones kept are the surer ones"
    assert all(round(p, 12) == high for p in posteriors)


def test_without_a_reopen_point_every_settled_item_below_the_new_target_is_reopened(settled):
    project, new, _users, _judge = settled
    _low, high = _split(project)
    _store(project, target=min(0.9999999, high + (1 - high) / 2), reopen_below=None)
    assert set(_statuses(new)) == {ItemStatus.IN_PROGRESS}


def test_a_target_the_manager_sets_holds_every_item_to_it(settled):
    project, new, _users, _judge = settled
    low, high = _split(project)
    _store(project, reopen_below=(low + high) / 2)
    policy_update(project=project, stopping_target=min(0.9999999, high + (1 - high) / 2))
    assert set(_statuses(new)) == {ItemStatus.IN_PROGRESS}


def test_an_item_never_settled_answers_to_the_target_not_to_the_reopen_point(settled):
    project, new, users, judge = settled
    _low, high = _split(project)
    _store(project, target=min(0.9999999, high + (1 - high) / 2), reopen_below=0.5)
    assert set(_statuses(new)) == {ItemStatus.APPROVED}, "all at or above the reopen point"
    items_import(project=project, rows=[{"external_id": "late", "data": {"n": 1}}])
    late = project.items.get(external_id="late")
    Rating.objects.create(item=late, rater=judge, rubric_version=project.rubric_version, values=VERDICT,
                          source="judge", distribution=SURE, confidence=0.96)  # fmt: skip
    rate(late, users[0])
    late.refresh_from_db()
    assert (late.status, late.overlap_target) == (ItemStatus.IN_PROGRESS, 2)


def test_the_fit_stores_how_far_it_reopens_and_refitting_unchanged_data_reopens_nothing(settled):
    project, new, _users, _judge = settled
    policy, _ = posterior_model_fit(project=project)
    fits = policy.posterior_model["criteria"]
    rows = posteriors_of_settled(project=project, policy=policy)
    for key, fit in fits.items():
        probabilities = [p for p, _ in rows[key]]
        assert fit["reopen_below"] == agreement.reopen_below(
            probabilities=probabilities, targets=fit["target"], references=fit["reference_accuracy"]
        )
    assert set(_statuses(new)) == {ItemStatus.APPROVED}


def test_the_policy_page_says_below_which_posterior_the_fit_reopens_approved_items(settled):
    project, _new, _users, _judge = settled
    low, high = _split(project)
    _store(project, reopen_below=(low + high) / 2)
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    row = html[html.index('<tr data-criterion="correct">') :].split("</tr>")[0]
    assert f'data-field="reopen-below">{(low + high) / 2:.4f}</td>' in row
    assert 'data-field="reopen-below">\u2013</td>' in html, "criteria whose fit stored none say so"
