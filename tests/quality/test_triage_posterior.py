"""The posterior stopping rule in the app (docs/triage.md, section 3b): fitted on the project's gold
and ratings, it stops an item once the judge's calibrated verdict and the people agree enough,
asks for one more rating when they do not, and never goes past the maximum."""

import pytest
from django.db.models import Count
from django.test import Client

from annotation.models import ApprovedBy, Gold, ItemStatus, Rater, RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create, project_update
from annotation.services.queue import assignment_claim_next
from annotation.services.ratings import rating_submit
from quality.models import RaterTrust
from quality.selectors.policy import policy_for
from quality.services.approval import project_decide
from quality.services.policy import policy_update
from quality.services.policy_preview import policy_preview
from quality.services.posterior import posterior_model_fit
from tests.conftest import GOOD_RATIONALES

pytestmark = pytest.mark.django_db

VERDICT = {"helpfulness": 4, "correct": True, "tone": "ok"}
SURE = {"helpfulness": {"3": 0.02, "4": 0.96, "5": 0.02}, "correct": {"true": 0.97, "false": 0.03},
        "tone": {"ok": 0.97, "rude": 0.03}}  # fmt: skip
GOLD_ITEMS = 60


def project_with_judge(*, staff, rubric_version, make_user, name: str, rows: list[dict], people: int):
    """A project (overlap 3) of ``rows`` with ``people`` annotators and a judge's rater (no rating
    yet); returns the project, its items in order, the annotators and the judge."""
    project = project_create(actor=staff, name=name, rubric=rubric_version, annotations_per_item=3)
    items_import(project=project, rows=rows)
    users = [make_user(f"rater{n}") for n in range(people)]
    for user in users:
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    return project, list(project.items.order_by("id")), users, judge


@pytest.fixture
def fitted(staff, rubric_version, make_user):
    """A project (adaptive overlap 1-3, posterior rule) whose judge was right on 57 of 60 gold items
    at a claimed 0.96-0.97 (calibrated to about 0.94), with two people who matched gold on each."""
    rows = [{"external_id": f"g{i}", "data": {"n": i}} for i in range(GOLD_ITEMS)]
    rows += [{"external_id": f"new{i}", "data": {"n": i}} for i in range(4)]
    project, items, users, judge = project_with_judge(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Posterior", rows=rows, people=5
    )
    wrong = {**VERDICT, "correct": False, "helpfulness": 3}
    project = judged_and_fitted(project=project, items=items, users=users, judge=judge, distribution=SURE,
                                confidence=0.96, truth=lambda n: VERDICT if n >= 3 else wrong)  # fmt: skip
    new = list(project.items.filter(pk__in=[i.pk for i in items[GOLD_ITEMS:]]).order_by("id"))  # the updated project
    return project, new, users, judge


def judged_and_fitted(*, project, items, users, judge, distribution: dict, confidence: float, truth):
    """The judge says VERDICT on every item with ``distribution``; the first GOLD_ITEMS items get
    gold ``truth(n)`` and two people who match it; then adaptive overlap 1-3 under the posterior
    rule (target 0.95), fitted. Returns the updated project."""
    version = project.rubric_version
    for n, item in enumerate(items):
        Rating.objects.create(item=item, rater=judge, rubric_version=version, values=VERDICT, source="judge",
                              distribution=distribution, confidence=confidence)  # fmt: skip
        if n < GOLD_ITEMS:
            Gold.objects.create(item=item, rubric_version=version, values=truth(n))
            for user in users[:2]:
                rate(item, user, **truth(n))
    project = project_update(project=project, overlap_min=1)
    policy_update(project=project, stopping_rule="posterior", stopping_target=0.95)
    posterior_model_fit(project=project)
    return project


def rate(item, user, helpfulness=4, correct=True, tone="ok"):
    values = {"helpfulness": helpfulness, "correct": correct, "tone": tone}
    return rating_submit(item=item, rater=rater_for_user(user=user), values=values, rationales=GOOD_RATIONALES)


def test_the_fit_calibrates_the_judge_and_measures_the_raters_on_gold(fitted):
    project, _new, users, judge = fitted
    model = policy_for(project=project).posterior_model
    assert model["judge"] == judge.pk
    correct = model["criteria"]["correct"]
    assert correct["calibration_items"] == GOLD_ITEMS
    # 57 of 60 right at one confidence: one block, smoothed (57 + 1) / (60 + 2).
    assert correct["calibration"]["values"] == [pytest.approx(58 / 62)]
    assert correct["accuracy"][str(rater_for_user(user=users[0]).pk)] > 0.9
    assert 0.5 < correct["target"] < 1 and correct["expected_accuracy"] >= correct["reference_accuracy"]
    assert 0.5 < correct["target_without_judge"] < 1, "items without a calibrated verdict have their own target"


def test_a_confident_calibrated_judge_and_one_agreeing_human_settle_an_item(fitted):
    _project, new, users, _judge = fitted
    item = new[0]
    rate(item, users[0])
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED and item.approved_by == ApprovedBy.CONSENSUS
    assert item.consensus == VERDICT and item.decision_reason == "posterior reached the target"
    assert Rating.objects.filter(item=item, rater__kind=RaterKind.HUMAN).count() == 1, "one of a possible three"


def test_a_human_who_disagrees_with_the_judge_asks_for_one_more_and_the_posterior_decides(fitted):
    project, new, users, _judge = fitted
    item = new[1]
    rate(item, users[0], correct=False)
    item.refresh_from_db()
    assert (item.status, item.overlap_target) == (ItemStatus.IN_PROGRESS, 2)
    assert item.decision_reason.startswith("one more rating: P(") and item.decision_reason.endswith("on correct")
    lease = assignment_claim_next(project=project, user=users[0])
    assert lease is None or lease.item_id != item.pk, "never twice to one person"
    rate(item, users[1], correct=False)
    item.refresh_from_db()
    # Two people who matched gold every time, against a judge right 94 % of the time: the people win.
    assert item.status == ItemStatus.APPROVED and item.consensus["correct"] is False
    assert Rating.objects.filter(item=item, rater__kind=RaterKind.HUMAN).count() == 2


def test_the_maximum_is_respected_and_an_unsure_item_goes_to_review(fitted):
    project, new, users, _judge = fitted
    item = new[2]
    for user, said in zip(users[:3], (False, True, False), strict=True):
        rate(item, user, correct=said)
    item.refresh_from_db()
    assert item.status == ItemStatus.NEEDS_REVIEW and item.overlap_target == 3
    assert "posterior below the target at the maximum" in item.decision_reason
    assert item.consensus["correct"] in (True, False), "the posterior's best guess is kept for the reviewer"
    assert all(
        (lease := assignment_claim_next(project=project, user=u)) is None or lease.item_id != item.pk for u in users
    ), "no fourth rating"


def test_the_agreement_rule_stays_the_default_and_the_preview_follows_the_posterior_rule(fitted):
    project, new, users, _judge = fitted
    rate(new[3], users[0], helpfulness=3)  # one point below the judge on an ordinal criterion
    new[3].refresh_from_db()
    posterior_status = new[3].status
    policy_update(project=project, stopping_rule="agreement")
    new[3].refresh_from_db()
    # Today's rule: the judge's 4 widens the spread to 1 point, within tolerance 0.25 x 4: settled on 3.
    assert new[3].status == ItemStatus.APPROVED and new[3].consensus["helpfulness"] == 3
    preview = policy_preview(project=project, changes={"stopping_rule": "posterior"})
    policy_update(project=project, stopping_rule="posterior")
    counts = dict(project.items.values_list("status").annotate(n=Count("id")))
    assert preview.after == counts
    new[3].refresh_from_db()
    assert new[3].status == posterior_status


def test_the_policy_api_checks_the_rule_and_the_fit_is_for_managers(fitted, client_for, staff, make_user):
    project, _new, users, _judge = fitted
    client = client_for(staff)
    url = f"/api/v1/projects/{project.pk}/approval-policy/"
    bad = client.patch(url, {"stopping_rule": "vibes", "stopping_target": 1.5}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"stopping_rule", "stopping_target"}
    ok = client.patch(url, {"stopping_target": None}, format="json")
    assert ok.status_code == 200 and ok.json()["stopping_target"] is None
    assert ok.json()["stopping_rule"] == "posterior"
    assert client_for(users[0]).post(f"/api/v1/projects/{project.pk}/posterior/fit/").status_code == 403
    fit = client.post(f"/api/v1/projects/{project.pk}/posterior/fit/")
    assert fit.status_code == 200
    assert set(fit.json()["policy"]["posterior_model"]["criteria"]) == {"helpfulness", "correct", "tone"}


def test_a_fit_for_another_rubric_version_is_ignored_not_fatal(fitted):
    project, new, users, _judge = fitted
    policy = policy_for(project=project)
    policy.posterior_model = {**policy.posterior_model, "rubric_version": -1}
    policy.save()
    rate(new[0], users[0])
    new[0].refresh_from_db()
    # Unfitted defaults: no calibrated judge, everyone 0.8 accurate on a uniform prior: 0.8 < 0.95.
    assert (new[0].status, new[0].overlap_target) == (ItemStatus.IN_PROGRESS, 2)


UNSURE = {"helpfulness": {"3": 0.15, "4": 0.70, "5": 0.15}, "correct": {"true": 0.70, "false": 0.30},
          "tone": {"ok": 0.70, "rude": 0.30}}  # fmt: skip


@pytest.fixture
def difficult(staff, rubric_version, make_user):
    """80 gold items: on 40 the judge said 0.97 and both people matched gold; on the other 40 it said
    0.70 and one of the two people missed gold on 16 of them: people err where the judge is unsure."""
    rows = [{"external_id": f"g{i}", "data": {"n": i}} for i in range(80)]
    rows += [{"external_id": f"new{i}", "data": {"n": i}} for i in range(2)]
    project, items, users, judge = project_with_judge(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Difficulty", rows=rows, people=2
    )
    version = project.rubric_version
    for n, item in enumerate(items):
        hard = n % 2 == 1
        Rating.objects.create(item=item, rater=judge, rubric_version=version, values=VERDICT, source="judge",
                              distribution=UNSURE if hard else SURE, confidence=0.7 if hard else 0.97)  # fmt: skip
        if n < 80:
            Gold.objects.create(item=item, rubric_version=version, values=VERDICT)
            rate(item, users[0])
            rate(item, users[1], correct=not (hard and n % 5 != 0))
    project = project_update(project=project, overlap_min=1)
    policy_update(project=project, stopping_rule="posterior", stopping_target=0.99)
    posterior_model_fit(project=project)
    return project, list(project.items.order_by("id"))[80:], users


def test_the_fit_learns_that_people_err_where_the_judge_is_unsure_and_the_rule_uses_it(difficult):
    from quality.stopping import _posterior_one

    project, (sure_item, unsure_item), users = difficult
    policy = policy_for(project=project)
    fit = policy.posterior_model["criteria"]["correct"]
    assert fit["difficulty_slope"] > 0.2, "people are more accurate where the judge is surer"
    assert 0.85 < fit["covariate_center"] < 3.5  # between logit(0.70) and logit(0.97)
    criterion = next(c for c in project.rubric_version.criteria.all() if c.key == "correct")
    rater = rater_for_user(user=users[0]).pk

    def probability(item, distribution, slope):
        policy.posterior_model["criteria"]["correct"]["difficulty_slope"] = slope
        return _posterior_one(criterion, policy, item, [True], [rater], distribution).probability

    slope = fit["difficulty_slope"]
    # One person agreeing with the judge counts for less on an item the judge found hard, more on an easy one.
    assert probability(unsure_item, UNSURE, slope) < probability(unsure_item, UNSURE, 0.0)
    assert probability(sure_item, SURE, slope) > probability(sure_item, SURE, 0.0)


OTHER = {"helpfulness": 3, "correct": False, "tone": "rude"}


def judge_first_world(*, staff, rubric_version, make_user, name: str, rows: list[dict], gold: int, unsure, wrong):
    """A judge-first project of ``rows``: the judge (trusted on every criterion) gave every item
    VERDICT, at 0.70 where ``unsure(n)`` else 0.96-0.97; the first ``gold`` items have gold (OTHER
    where ``wrong(n)``, else VERDICT) and two people's ratings, one of them off gold on every fifth.
    Returns the project, its items in order, three annotators and the judge's rater."""
    project, items, users, judge = project_with_judge(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name=name, rows=rows, people=3
    )
    a, b = (rater_for_user(user=u) for u in users[:2])
    version = project.rubric_version
    for n, item in enumerate(items):
        distribution, confidence = (UNSURE, 0.7) if unsure(n) else (SURE, 0.97)
        Rating.objects.create(item=item, rater=judge, rubric_version=version, values=VERDICT, source="judge",
                              distribution=distribution, confidence=confidence)  # fmt: skip
        if n < gold:
            truth = OTHER if wrong(n) else VERDICT
            Gold.objects.create(item=item, rubric_version=version, values=truth)
            Rating.objects.create(item=item, rater=a, rubric_version=version, values=truth)
            Rating.objects.create(item=item, rater=b, rubric_version=version,
                                  values=truth if n % 5 else (VERDICT if truth is OTHER else OTHER))  # fmt: skip
    for key in ("helpfulness", "correct", "tone"):
        RaterTrust.objects.create(project=project, rater=judge, rubric_version=version, criterion_key=key, trusted=True)
    return project, items, users, judge


@pytest.fixture
def judge_first(staff, rubric_version, make_user):
    """Judge first under the posterior rule: 120 gold items the judge (trusted, the routing judge)
    got right at 0.96-0.97, 40 at 0.70 of which it got 16 wrong; two people on each, one of them
    off gold on every fifth item. Then three new items: two judged at 0.96-0.97, one at 0.70."""
    rows = [{"external_id": f"i{n:03}", "data": {"n": n}} for n in range(163)]
    project, items, users, judge = judge_first_world(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Judge first", rows=rows, gold=160,
        unsure=lambda n: 120 <= n < 160 or n == 162, wrong=lambda n: 120 <= n < 136,
    )  # fmt: skip
    project = project_update(project=project, overlap_min=1)
    policy_update(project=project, stopping_rule="posterior", routing="judge_first")
    # The routing judge with no routing threshold: only the posterior rule's gate can let it decide alone.
    type(policy_for(project=project)).objects.filter(project=project).update(routing_rater=judge)
    posterior_model_fit(project=project)
    return project, items[160:], users


def test_under_judge_first_the_calibrated_judge_settles_alone_only_above_its_gate(judge_first):
    project, (sure, _also_sure, unsure), users = judge_first
    fit = policy_for(project=project).posterior_model["criteria"]["correct"]
    low, high = fit["calibration"]["values"]  # 0.70 -> (24 + 1) / (40 + 2), 0.97 -> (120 + 1) / (120 + 2)
    # The gate passed on gold; the judge is alone where its calibrated probability also reaches the target.
    assert fit["judge_alone_from"] is not None and low < fit["target"] <= high
    # The manager sees it on the policy page, criterion by criterion.
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    row = html[html.index('<tr data-criterion="correct">') :].split("</tr>")[0]
    assert f"from a calibrated confidence of {fit['judge_alone_from']:.3f}" in row
    sure.refresh_from_db()
    assert sure.status == ItemStatus.APPROVED and sure.approved_by == ApprovedBy.JUDGE
    assert sure.consensus == VERDICT
    assert sure.decision_reason == "the calibrated judge alone reached the posterior target"
    assert not Rating.objects.filter(item=sure, rater__kind=RaterKind.HUMAN).exists()
    unsure.refresh_from_db()
    assert unsure.status == ItemStatus.PENDING, "below the gate: people rate it"
    lease = assignment_claim_next(project=project, user=users[2])
    assert lease is not None and lease.item_id == unsure.pk


def test_the_judge_never_settles_alone_outside_judge_first(judge_first):
    project, (sure, _also, _unsure), _users = judge_first
    policy_update(project=project, routing="humans_first")
    posterior_model_fit(project=project)
    assert policy_for(project=project).posterior_model["criteria"]["correct"]["judge_alone_from"] is None
    sure.refresh_from_db()
    assert sure.status == ItemStatus.PENDING and sure.approved_by != ApprovedBy.JUDGE


def test_a_large_project_is_fitted_on_a_worker_and_the_policy_page_says_so(
    fitted, client_for, staff, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from quality import tasks
    from quality.services.posterior import posterior_fit_run

    project = fitted[0]
    settings.INLINE_WORK_LIMIT = 0  # too large for a request, whatever its size
    sent = []
    monkeypatch.setattr(tasks.posterior_model_fit_run, "delay", lambda *args: sent.append(args))
    before = policy_for(project=project).posterior_model["fitted_at"]
    client = client_for(staff)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/api/v1/projects/{project.pk}/posterior/fit/")
    human = Rating.objects.filter(item__project=project, rater__kind=RaterKind.HUMAN).count()
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"state": "queued", "ratings": human + project.items.count()}  # the judge's too
    assert sent == [(project.pk,)]
    assert policy_for(project=project).posterior_model["fitted_at"] == before  # not fitted in the request
    page, browser = reverse("project-policy-page", args=[project.pk]), Client()
    browser.force_login(staff)
    assert 'id="fit-queued"' in browser.get(page).content.decode()

    posterior_fit_run(project_id=project.pk)  # what the worker runs
    assert policy_for(project=project).posterior_model["fitted_at"] != before
    assert 'id="fit-queued"' not in browser.get(page).content.decode()


def test_a_fit_that_fails_on_the_worker_says_why_on_the_policy_page(fitted, staff, monkeypatch):
    from django.core.exceptions import ValidationError
    from django.urls import reverse

    from quality.services import posterior

    project = fitted[0]

    def fails(*, project):
        raise ValidationError("no gold item left for <b>calibration</b>")

    monkeypatch.setattr(posterior, "posterior_model_fit", fails)
    posterior.posterior_fit_run(project_id=project.pk)
    browser = Client()
    browser.force_login(staff)
    html = browser.get(reverse("project-policy-page", args=[project.pk])).content.decode()
    assert "The last fit on a worker failed: no gold item left for &lt;b&gt;calibration&lt;/b&gt;" in html


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_fit_is_stored_by_a_real_worker(fitted, client_for, staff, settings, tmp_path):
    from tests.workers import wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start

    broker = worker_services_or_skip()
    project = fitted[0]
    settings.INLINE_WORK_LIMIT = 0
    before = policy_for(project=project).posterior_model["fitted_at"]
    log = tmp_path / "worker.log"
    worker = worker_start(worker_env(broker), log)
    try:
        assert client_for(staff).post(f"/api/v1/projects/{project.pk}/posterior/fit/").status_code == 202
        wait_for(
            lambda: policy_for(project=project).posterior_model["fitted_at"] != before,
            timeout=90, what="the worker's fit", log=log,
        )  # fmt: skip
        model = policy_for(project=project).posterior_model
        assert set(model["criteria"]) == {"helpfulness", "correct", "tone"} and model["gold_items"] == GOLD_ITEMS

        # A first switch to the rule on this (too large) project queues the fit on the worker too;
        # the agreement rule decides until it is stored, then the worker's fit re-decides the items.
        type(policy_for(project=project)).objects.filter(project=project).update(
            stopping_rule="agreement", posterior_model={}
        )
        item, users = fitted[1][3], fitted[2]
        rate(item, users[0], helpfulness=3)
        item.refresh_from_db()
        assert item.status == ItemStatus.APPROVED, "the agreement rule: 3 and the judge's 4 are within tolerance"
        answer = client_for(staff).patch(
            f"/api/v1/projects/{project.pk}/approval-policy/", {"stopping_rule": "posterior"}, format="json"
        )
        assert answer.status_code == 200 and answer.json()["posterior_model"] == {}
        assert answer.json()["stopping_rule_in_force"] == "agreement"
        wait_for(
            lambda: type(item).objects.get(pk=item.pk).status == ItemStatus.IN_PROGRESS,
            timeout=90, what="the worker's first fit and its re-decision", log=log,
        )  # fmt: skip
    finally:
        worker_kill(worker)
    assert policy_for(project=project).posterior_model["fitted_at"]


def test_the_fit_stores_where_errors_land_and_the_rule_decides_with_it(fitted):
    project, new, users, _judge = fitted
    policy = policy_for(project=project)
    criteria = policy.posterior_model["criteria"]
    matrix = criteria["helpfulness"]["error_matrix"]
    assert len(matrix) == 5 and all(len(row) == 5 and abs(sum(row) - 1) < 1e-5 for row in matrix)
    assert all(matrix[y][y] == 0 for y in range(5))
    assert criteria["correct"]["error_matrix"] is None, "two points: one way to be wrong"
    item = new[3]
    rate(item, users[0], helpfulness=3)  # one point below the judge's sure 4
    item.refresh_from_db()
    assert not (item.status == ItemStatus.APPROVED and item.consensus["helpfulness"] == 3)
    # A project whose raters, when a response deserves 4, never say 3 (they slip up to 5): one 3
    # then rules the judge's 4 out, and the item settles on 3 without another person.
    never_down = [[0.0 if to == y else 0.001 for to in range(5)] for y in range(5)]
    never_down[3][4] = 1.0
    criteria["helpfulness"]["error_matrix"] = never_down
    policy.save(update_fields=["posterior_model"])
    project_decide(project=project)
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED and item.consensus["helpfulness"] == 3
