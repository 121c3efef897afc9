"""The humans' bootstrap interval kept by changes (quality/services/intervals.py): after any
ratings and corrections, a refresh leaves exactly the sums a full build from every rating gives,
and the API serves it as soon as it is fresher than the stored report."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from agreement.live_bootstrap import draw_sums_build
from annotation.models import RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.ratings import rating_change, rating_submit
from quality.models import AgreementInterval, AgreementIntervalUnit
from quality.selectors.agreement import project_ratings
from quality.selectors.intervals import interval_read, sums_load
from quality.services import agreement_reports, intervals
from quality.services.intervals import agreement_interval_refresh
from rubrics.services import rubric_create
from tests.quality.test_agreement_reports import helpfulness, large, queued  # noqa: F401  fixtures
from tests.quality.test_approval import rate
from tests.workers import wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start


def assert_sums_equal_a_full_build(project) -> None:
    interval = AgreementInterval.objects.get(project=project)
    kept = sums_load(interval.sums)
    per_criterion, raters = project_ratings(project=project)
    humans = [pk for pk, r in raters.items() if r.kind == RaterKind.HUMAN]
    assert set(kept) == {cr.criterion.key for cr in per_criterion}
    for cr in per_criterion:
        mask = np.isin(cr.raters, humans)
        full = draw_sums_build(cr.units[mask], cr.values[mask], draws=intervals.DRAWS, seed=interval.seed)
        got = kept[cr.criterion.key]
        at = np.searchsorted(got.values, full.values)  # the kept axis may hold values no longer used
        assert np.array_equal(got.values[at], full.values)
        assert np.allclose(got.sums[:, at[:, None], at[None, :]], full.sums, rtol=0, atol=1e-9)
        assert np.allclose(got.sums.sum(), full.sums.sum(), rtol=1e-12)
        assert interval.ratings[cr.criterion.key] == int(mask.sum())


@pytest.mark.django_db
@pytest.mark.both_databases
def test_a_refresh_counts_new_ratings_and_corrections_like_a_full_build(project, members, items):
    project.annotations_per_item = 3
    project.save(update_fields=["annotations_per_item"])
    for item, (a, b) in zip(items, [(5, 4), (3, 3), (1, 2)], strict=False):
        rate(item, members["annotator"], helpfulness=a)
        rate(item, members["annotator2"], helpfulness=b, correct=a > 2)
    assert agreement_interval_refresh(project_id=project.pk) == "rebuilt"
    assert_sums_equal_a_full_build(project)
    assert AgreementIntervalUnit.objects.filter(interval__project=project).count() == 3

    rate(items[3], members["annotator"], helpfulness=2)  # a new item
    rate(items[3], members["reviewer"], helpfulness=4, tone="rude")
    rate(items[0], members["reviewer"], helpfulness=1)  # a third rating on a counted item
    rating_change(item=items[1], rater=rater_for_user(user=members["annotator"]), values={
        "helpfulness": 1, "correct": False, "tone": "rude"}, rationales={"helpfulness": "changed my mind"})  # fmt: skip
    assert agreement_interval_refresh(project_id=project.pk) == "refreshed"
    assert_sums_equal_a_full_build(project)
    # Nothing new: the same sums again.
    before = sums_load(AgreementInterval.objects.get(project=project).sums)
    assert agreement_interval_refresh(project_id=project.pk) == "refreshed"
    after = sums_load(AgreementInterval.objects.get(project=project).sums)
    assert all(np.array_equal(after[key].sums, kept.sums) for key, kept in before.items())


@pytest.mark.django_db
@pytest.mark.both_databases
def test_a_write_older_than_the_look_back_is_caught_by_the_count_and_rebuilt(project, members, items):
    rate(items[0], members["annotator"], helpfulness=5)
    rate(items[0], members["annotator2"], helpfulness=4)
    assert agreement_interval_refresh(project_id=project.pk) == "rebuilt"
    late = rate(items[1], members["annotator"], helpfulness=1)
    rate(items[1], members["annotator2"], helpfulness=2)
    # As if their transaction had begun long before it committed: stamped before any watermark.
    Rating.objects.filter(item=items[1]).update(updated_at=timezone.now() - intervals.LOOK_BACK - timedelta(hours=1))
    assert late.pk
    assert agreement_interval_refresh(project_id=project.pk) == "rebuilt"
    assert_sums_equal_a_full_build(project)


@pytest.mark.django_db
def test_the_api_serves_the_kept_interval_when_it_is_fresher_than_the_report(
    project,
    members,
    items,
    client_for,
    large,  # noqa: F811
    queued,  # noqa: F811
):
    url = f"/api/v1/projects/{project.pk}/agreement/"
    reviewer = client_for(members["reviewer"])
    items_import(project=project, rows=[{"external_id": f"more{n}", "data": {"n": n}} for n in range(40)])
    items = list(project.items.order_by("id"))
    for n, item in enumerate(items[:-1]):  # raters agree more often than not
        rate(item, members["annotator"], helpfulness=1 + n % 5)
        rate(item, members["annotator2"], helpfulness=1 + (n + n % 3 // 2) % 5)
    body = reviewer.get(url).json()  # no report yet; asking starts the kept interval
    assert (body["interval_lag_ratings"], helpfulness(body)["ci"]) == (None, None)
    assert AgreementInterval.objects.filter(project=project).exists()
    agreement_interval_refresh(project_id=project.pk)
    body = reviewer.get(url).json()
    people = helpfulness(body)
    assert (body["interval_lag_ratings"], body["report_lag_ratings"], people["ci_live"]) == (0, None, True)
    low, high = people["ci"]
    assert low <= people["alpha"] <= high and people["ci_draws"] > 0
    rate(items[-1], members["annotator"], helpfulness=2)
    body = reviewer.get(url).json()
    assert body["interval_lag_ratings"] == 1 and helpfulness(body)["ratings"] == 2 * len(items) - 2  # alpha live


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_refreshes_the_kept_interval_after_new_ratings(
    project, members, items, client_for, monkeypatch, settings, tmp_path
):
    broker = worker_services_or_skip()
    settings.INLINE_WORK_LIMIT = 0  # everything is "large": intervals and reports go to the worker
    monkeypatch.setattr(agreement_reports, "REFRESH_DELAY_SECONDS", 120)  # the report stays behind
    for item, (a, b) in zip(items, [(5, 4), (3, 3), (1, 2)], strict=False):
        rate(item, members["annotator"], helpfulness=a)
        rate(item, members["annotator2"], helpfulness=b)
    reviewer = client_for(members["reviewer"])
    url = f"/api/v1/projects/{project.pk}/agreement/"
    log = tmp_path / "worker.log"
    worker = worker_start(worker_env(broker), log)
    try:
        reviewer.get(url)  # queues the first build

        def live_interval(lag: int):
            body = reviewer.get(url).json()
            return body["interval_lag_ratings"] == lag and helpfulness(body).get("ci_live") is True

        wait_for(lambda: live_interval(0), timeout=60, what="the first kept interval", log=log)
        rate(items[3], members["annotator"], helpfulness=2)
        rate(items[3], members["annotator2"], helpfulness=2)
        assert reviewer.get(url).json()["interval_lag_ratings"] == 2
        wait_for(lambda: live_interval(0), timeout=60, what="the refreshed interval", log=log)
        assert_sums_equal_a_full_build(project)
    finally:
        worker_kill(worker)


SCORE = {"kind": "interval", "min": 0, "max": 100}


@pytest.mark.django_db
def test_free_valued_numbers_keep_no_interval_and_readers_fall_back_to_the_report(staff, make_user):
    version = rubric_create(actor=staff, name="Scores", criteria=[{"key": "score", "title": "Score", "scale": SCORE}])
    project = project_create(actor=staff, name="Scores", rubric=version, annotations_per_item=2)
    raters = []
    for name in ("s1", "s2"):
        user = make_user(name)
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        raters.append(rater_for_user(user=user))
    items_import(project=project, rows=[{"external_id": f"s{n}", "data": {"n": n}} for n in range(40)])
    for n, item in enumerate(project.items.order_by("id")):  # 80 distinct values: more than MAX_VALUES
        for k, rater in enumerate(raters):
            rating_submit(item=item, rater=rater, values={"score": n * 2 + k * 1.5})
    assert agreement_interval_refresh(project_id=project.pk) == "none"
    assert interval_read(project=project) is None
    assert not AgreementIntervalUnit.objects.filter(interval__project=project).exists()
