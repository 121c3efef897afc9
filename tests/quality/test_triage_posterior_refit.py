"""The posterior rule's model is fitted again on its own (Celery beat, quality.tasks.
posterior_refits_sweep) once the project's human ratings or gold have grown enough since the last
fit, so the rule does not decide on a model of a much smaller project (docs/triage.md)."""

import pytest
from django.test import Client

from annotation.models import Gold, RaterKind, Rating
from quality import tasks
from quality.selectors.policy import policy_for
from quality.services.policy import policy_update
from quality.services.posterior import posterior_fit_queue, posterior_refit_due, posterior_refits_queue
from tests.quality.test_triage_posterior import GOLD_ITEMS, fitted  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def _fitted_when(project, *, ratings: int, gold: int):
    """Pretend the stored fit was made when the project had ``ratings`` human ratings and ``gold`` gold items."""
    policy = policy_for(project=project)
    policy.posterior_model |= {"human_ratings": ratings, "gold_items": gold}
    policy.save(update_fields=["posterior_model"])
    return policy


@pytest.fixture
def fitted_project(fitted):  # noqa: F811
    """test_triage_posterior's fitted project: 60 gold items, two people on each, the judge calibrated."""
    return fitted[0]


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.posterior_model_fit_run, "delay", lambda *args: calls.append(args))
    return calls


def _sweep(capture):
    with capture(execute=True):
        return posterior_refits_queue()


def test_a_fit_is_not_due_again_until_the_ratings_have_doubled(
    fitted_project, sent, django_capture_on_commit_callbacks
):
    project = fitted_project
    human = Rating.objects.filter(item__project=project, rater__kind=RaterKind.HUMAN).count()
    assert policy_for(project=project).posterior_model["human_ratings"] == human
    assert _sweep(django_capture_on_commit_callbacks) == [] and sent == []
    _fitted_when(project, ratings=human // 2, gold=GOLD_ITEMS)  # twice as many ratings now as at the fit
    assert _sweep(django_capture_on_commit_callbacks) == [project.pk] and sent == [(project.pk,)]


def test_new_gold_alone_makes_it_due(fitted_project, sent, django_capture_on_commit_callbacks):
    project = fitted_project
    human = Rating.objects.filter(item__project=project, rater__kind=RaterKind.HUMAN).count()
    policy = _fitted_when(project, ratings=human, gold=GOLD_ITEMS - 10)
    assert not posterior_refit_due(project=project, policy=policy), "50 gold now, 60 needed"
    _fitted_when(project, ratings=human, gold=GOLD_ITEMS // 2)
    assert _sweep(django_capture_on_commit_callbacks) == [project.pk]
    assert Gold.objects.filter(item__project=project).count() == GOLD_ITEMS


def test_a_fit_already_queued_is_not_queued_again(fitted_project, sent, django_capture_on_commit_callbacks):
    project = fitted_project
    _fitted_when(project, ratings=10, gold=GOLD_ITEMS)
    with django_capture_on_commit_callbacks(execute=True):
        posterior_fit_queue(project=project)  # "Fit now" on a large project: still running
    assert _sweep(django_capture_on_commit_callbacks) == [] and sent == [(project.pk,)]


def test_nothing_is_refitted_under_the_agreement_rule_or_with_refits_off(
    fitted_project, sent, settings, django_capture_on_commit_callbacks
):
    project = fitted_project
    _fitted_when(project, ratings=10, gold=GOLD_ITEMS)
    settings.POSTERIOR_REFIT_GROWTH_PERCENT = 0
    assert _sweep(django_capture_on_commit_callbacks) == []
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    assert "automatic refits are off" in html
    settings.POSTERIOR_REFIT_GROWTH_PERCENT = 100
    policy_update(project=project, stopping_rule="agreement")
    assert _sweep(django_capture_on_commit_callbacks) == [] and sent == []


def test_the_policy_page_says_when_the_fit_is_made_again(fitted_project):
    project = fitted_project
    model = policy_for(project=project).posterior_model
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    # Twice the ratings and gold it was fitted on (at least 50 ratings and 10 gold items more).
    assert f'<strong data-field="refit-ratings">{max(2 * model["human_ratings"], model["human_ratings"] + 50)}' in html
    assert f'<strong data-field="refit-gold">{2 * model["gold_items"]}</strong>' in html


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_sweep_and_stores_the_new_fit(fitted_project, tmp_path):
    from tests.workers import wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start

    broker = worker_services_or_skip()
    project = fitted_project
    before = _fitted_when(project, ratings=10, gold=GOLD_ITEMS).posterior_model["fitted_at"]
    log = tmp_path / "worker.log"
    worker = worker_start(worker_env(broker), log)
    try:
        tasks.posterior_refits_sweep.delay()  # what beat sends every ACCORD_POSTERIOR_REFIT_SWEEP_SECONDS
        wait_for(lambda: policy_for(project=project).posterior_model["fitted_at"] != before,
                 timeout=90, what="the sweep's fit", log=log)  # fmt: skip
    finally:
        worker_kill(worker)
    human = Rating.objects.filter(item__project=project, rater__kind=RaterKind.HUMAN).count()
    assert policy_for(project=project).posterior_model["human_ratings"] == human
