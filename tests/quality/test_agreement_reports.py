"""Stored agreement reports: served at once, marked stale when the data moves on, recomputed by
a coalesced background task; a large project's policy change re-decides its items in a task."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation.models import ItemStatus, Rating
from quality import tasks
from quality.models import AgreementReport, ApprovalPolicy
from quality.reliability import report_with_badges
from quality.selectors.agreement import bootstrap_draws_used
from quality.selectors.policy import policy_for
from quality.services import agreement_reports, approval
from quality.services.agreement_reports import ComputeOutcome, agreement_report_compute
from quality.services.policy import policy_update
from tests.quality.test_approval import judge_rate, judge_rater, rate


@pytest.fixture
def queued(monkeypatch):
    """Record the tasks published instead of sending them to a broker."""
    sent = []
    monkeypatch.setattr(
        tasks.agreement_report_refresh, "apply_async", lambda args, **kw: sent.append(("report", *args))
    )
    monkeypatch.setattr(tasks.project_items_decide, "delay", lambda *args: sent.append(("evaluate", *args)))
    return sent


@pytest.fixture
def large(settings):
    """Every report (and every project) counts as too large to work on inside a request."""
    settings.INLINE_WORK_LIMIT = 0


def helpfulness(body):
    return next(c for c in body["criteria"] if c["key"] == "helpfulness")["humans"]


def rated_twice(items, members, scores):
    for item, (a, b) in zip(items, scores, strict=False):
        rate(item, members["annotator"], helpfulness=a)
        rate(item, members["annotator2"], helpfulness=b)


def test_it_serves_the_stored_report_without_recomputing_it(project, members, items, client_for, monkeypatch):
    rated_twice(items, members, [(5, 4), (3, 3), (1, 2)])
    url = f"/api/v1/projects/{project.pk}/agreement/?bootstrap=100"
    first = client_for(members["reviewer"]).get(url)
    assert first.status_code == 200
    body = first.json()
    assert (body["stale"], body["refreshing"], body["bootstrap_draws"], body["bootstrap_draws_used"]) == (
        False,
        False,
        100,
        100,
    )
    stored = AgreementReport.objects.get(project=project, bootstrap_draws=100)
    # The API adds the reliability badges (quality/reliability.py) to the stored figures.
    badged = report_with_badges(stored.payload, margin=0.05, min_units=50)
    served = [{k: v for k, v in c.items() if k != "judges_live"} for c in body["criteria"]]
    assert stored.ratings == 6 and badged["criteria"] == served

    def no_compute(**kwargs):
        raise AssertionError("a current stored report must not be recomputed")

    monkeypatch.setattr(agreement_reports, "agreement_for_project", no_compute)
    again = client_for(members["reviewer"]).get(url).json()
    assert again == body
    assert AgreementReport.objects.count() == 1


def test_it_recomputes_a_small_report_in_the_request_when_a_rating_is_deleted(project, members, items, client_for):
    rated_twice(items, members, [(5, 4), (3, 3), (1, 2)])
    url = f"/api/v1/projects/{project.pk}/agreement/?bootstrap=0"
    assert helpfulness(client_for(members["reviewer"]).get(url).json())["units"] == 3
    Rating.objects.filter(item=items[2]).first().delete()
    body = client_for(members["reviewer"]).get(url).json()
    assert body["stale"] is False
    assert helpfulness(body)["units"] == 2


def test_a_large_report_is_computed_by_the_task_marked_stale_after_a_rating_and_queued_once(
    project, members, items, client_for, large, queued, django_capture_on_commit_callbacks
):
    rated_twice(items, members, [(5, 4), (3, 3)])
    url = f"/api/v1/projects/{project.pk}/agreement/"
    reviewer = client_for(members["reviewer"])
    with django_capture_on_commit_callbacks(execute=True):
        pending = reviewer.get(url)
    # No report yet: the live point estimates answer at once; intervals come with the report.
    assert pending.status_code == 200
    first = pending.json()
    assert (first["stale"], first["refreshing"], first["interval_lag_ratings"]) == (False, True, None)
    assert (helpfulness(first)["units"], helpfulness(first)["ci"]) == (2, None)
    report = AgreementReport.objects.get(project=project)
    assert queued == [("report", report.pk)]

    assert agreement_report_compute(report_id=report.pk) == ComputeOutcome.DONE
    fresh = reviewer.get(url).json()
    assert (fresh["stale"], helpfulness(fresh)["units"]) == (False, 2)
    computed_at = fresh["computed_at"]

    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rate(items[2], members["annotator"], helpfulness=2)
        rate(items[2], members["annotator2"], helpfulness=2)
        rate(items[3], members["annotator"], helpfulness=5)
    assert queued == [("report", report.pk)], "three ratings, one recompute"
    stale = reviewer.get(url).json()
    assert (stale["stale"], stale["refreshing"], stale["interval_lag_ratings"]) == (False, True, 3)
    assert helpfulness(stale)["units"] == 3, "alpha is live; the interval is the last one computed"
    assert stale["computed_at"] == computed_at

    assert agreement_report_compute(report_id=report.pk) == ComputeOutcome.DONE
    assert agreement_report_compute(report_id=report.pk) == ComputeOutcome.CURRENT, "a rerun changes nothing"
    current = reviewer.get(url).json()
    assert (current["stale"], helpfulness(current)["units"]) == (False, 3)
    assert current["computed_at"] > computed_at
    assert AgreementReport.objects.count() == 1
    assert queued == [("report", report.pk)], "reads of a current report queue nothing"


def test_it_marks_the_report_stale_when_a_judge_is_shown_new_examples(
    project, members, items, client_for, large, queued
):
    rated_twice(items, members, [(5, 4), (3, 3), (2, 2)])
    judge = judge_rater()
    for item in items[:3]:
        judge_rate(item, judge)
    report = AgreementReport.objects.create(project=project, bootstrap_draws=1000)
    agreement_report_compute(report_id=report.pk)
    url = f"/api/v1/projects/{project.pk}/agreement/"
    assert client_for(members["reviewer"]).get(url).json()["stale"] is False
    judge.shown_item_ids = [items[0].pk]  # the judge now saw item 0's labels: it must not be graded on it
    judge.save()
    assert client_for(members["reviewer"]).get(url).json()["stale"] is True


def test_one_computation_runs_at_a_time_and_a_lost_one_is_taken_over(project, members, items, large):
    rated_twice(items, members, [(5, 4), (3, 3)])
    report = AgreementReport.objects.create(project=project, bootstrap_draws=0, computing_since=timezone.now())
    assert agreement_report_compute(report_id=report.pk) == ComputeOutcome.BUSY
    assert AgreementReport.objects.get(pk=report.pk).payload is None
    lost = timezone.now() - agreement_reports.LOST_AFTER - dt.timedelta(seconds=1)
    AgreementReport.objects.filter(pk=report.pk).update(computing_since=lost)
    assert agreement_report_compute(report_id=report.pk) == ComputeOutcome.DONE
    report.refresh_from_db()
    assert report.payload is not None and report.computing_since is None
    assert agreement_report_compute(report_id=report.pk + 1000) == ComputeOutcome.GONE


def test_a_slow_computation_never_replaces_a_newer_report(project, members, items, large):
    rated_twice(items, members, [(5, 4), (3, 3)])
    report = AgreementReport.objects.create(project=project, bootstrap_draws=0)
    agreement_report_compute(report_id=report.pk)
    report.refresh_from_db()
    newer = report.state_read_at
    policy = policy_for(project=project)
    agreement_reports._compute_and_store(
        report_id=report.pk,
        project=project,
        draws=0,
        state={**report.state, "ratings": 1},
        read_at=newer - dt.timedelta(seconds=5),
        policy=policy,
    )
    report.refresh_from_db()
    assert (report.state_read_at, report.ratings) == (newer, 4)


def test_a_queued_recompute_is_not_queued_twice_unless_presumed_lost(
    project, members, items, large, queued, django_capture_on_commit_callbacks
):
    rated_twice(items, members, [(5, 4)])
    report = AgreementReport.objects.create(project=project, bootstrap_draws=1000, refresh_queued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        agreement_reports.agreement_report_enqueue(report_id=report.pk)
    assert queued == []
    lost = timezone.now() - agreement_reports.LOST_AFTER - dt.timedelta(seconds=1)
    AgreementReport.objects.filter(pk=report.pk).update(refresh_queued_at=lost)
    with django_capture_on_commit_callbacks(execute=True):
        agreement_reports.agreement_report_enqueue(report_id=report.pk)
    assert queued == [("report", report.pk)]
    assert AgreementReport.objects.get(pk=report.pk).refresh_queued_at > lost


def test_a_large_projects_policy_change_re_decides_its_items_in_a_task(
    project, members, items, client_for, queued, settings, django_capture_on_commit_callbacks
):
    rated_twice(items, members, [(1, 3), (1, 3)])
    for item in items[:2]:
        item.refresh_from_db()
        assert item.status == ItemStatus.NEEDS_REVIEW, "two points apart is beyond the default tolerance"
    settings.INLINE_WORK_LIMIT = 2 * approval.WORK_PER_ITEM  # 2 items: this project of 5 is large
    url = f"/api/v1/projects/{project.pk}/approval-policy/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(members["manager"]).patch(url, {"numeric_tolerance": 0.75}, format="json")
    assert response.status_code == 200
    assert response.json()["items_reevaluation"] == "queued"
    assert response.json()["numeric_tolerance"] == 0.75
    assert ("evaluate", project.pk) in queued
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW, "not re-decided inside the request"

    tasks.project_items_decide.apply(args=(project.pk,))
    tasks.project_items_decide.apply(args=(project.pk,))  # a redelivery changes nothing
    for item in items[:2]:
        item.refresh_from_db()
        assert item.status == ItemStatus.APPROVED
        assert item.consensus["helpfulness"] == 1


def test_a_small_projects_policy_change_re_decides_its_items_at_once(project, members, items, client_for, queued):
    rated_twice(items, members, [(1, 3)])
    response = client_for(members["manager"]).patch(
        f"/api/v1/projects/{project.pk}/approval-policy/", {"numeric_tolerance": 0.75}, format="json"
    )
    assert response.json()["items_reevaluation"] == "done"
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED
    assert queued == []
    policy_update(project=project, numeric_tolerance=0.25)
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW


@pytest.mark.parametrize(("inline_max", "status", "decided_in_request"), [(5_000, 200, True), (2, 202, False)])
def test_approval_refresh_re_decides_at_once_or_in_a_task_by_project_size(
    project, members, items, client_for, queued, settings, django_capture_on_commit_callbacks,
    inline_max, status, decided_in_request,
):  # fmt: skip
    rated_twice(items, members, [(1, 3), (1, 3)])
    # The rules change behind the items' back (as after a trust change): they still need review.
    ApprovalPolicy.objects.filter(project=project).update(numeric_tolerance=0.75)
    settings.INLINE_WORK_LIMIT = inline_max * approval.WORK_PER_ITEM
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(members["manager"]).post(f"/api/v1/projects/{project.pk}/approval/refresh/")

    assert response.status_code == status
    assert response.json() == (
        {"changed": 2, "items_reevaluation": "done"} if decided_in_request else
        {"changed": None, "items_reevaluation": "queued"}
    )  # fmt: skip
    assert (("evaluate", project.pk) in queued) is not decided_in_request
    if not decided_in_request:
        items[0].refresh_from_db()
        assert items[0].status == ItemStatus.NEEDS_REVIEW, "not re-decided inside the request"
        tasks.project_items_decide.apply(args=(project.pk,))
    for item in items[:2]:
        item.refresh_from_db()
        assert item.status == ItemStatus.APPROVED


@pytest.mark.parametrize(
    ("requested", "ratings", "used"),
    [(1000, 1_100_002, 200), (1000, 100_000, 1000), (1000, 400_000, 500), (150, 5_000_000, 150), (0, 10**6, 0)],
)
def test_it_draws_fewer_bootstrap_samples_only_on_large_projects(requested, ratings, used):
    assert bootstrap_draws_used(requested=requested, ratings=ratings) == used
