"""Stored agreement reports: readers get one at once; a Celery task recomputes it after changes.

Computing a report reads every rating of the project, so on a million ratings it takes tens of
seconds; reading a stored one takes one COUNT/MAX over the ratings (the live state) and one row.

- Read (:func:`agreement_report_read`): the stored report, marked ``stale`` when its state
  differs from the live one. A small project (see :func:`computes_inline`) is recomputed in the
  request instead; a large one gets its stale report (or, the first time, nothing) while a
  recompute is queued.
- Change (:func:`agreement_reports_refresh_after_change`, called by the approval service after
  ratings, the policy or the rubric version change): after commit, queue a recompute of the
  project's stored default report.
- Compute (:func:`agreement_report_compute`, the task's one call): recompute unless current.

Coalescing, by two timestamps on the report row, each claimed with a conditional UPDATE:
``refresh_queued_at`` is set by whoever queues a task and cleared by the task when it starts,
so a thousand ratings in a row queue one task (plus, at most, one more for ratings arriving
while it runs); ``computing_since`` lets one computation run per report at a time (a second
task retries later). A timestamp older than LOST_AFTER (longer than the task's time limit) is
taken for a task lost with its worker or broker, and the next change or read queues a new one.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import Project
from quality import dispatch
from quality.models import AgreementReport
from quality.selectors.agreement import agreement_for_project, live_overlay, ratings_state
from quality.selectors.intervals import interval_read
from quality.selectors.live import live_agreement
from quality.selectors.policy import policy_for
from quality.services.intervals import agreement_interval_enqueue

logger = logging.getLogger(__name__)

DEFAULT_DRAWS = 1000
"""The API's and the dashboard's default; the only report recomputed eagerly after a change."""


REFRESH_DELAY_SECONDS = 5
"""A queued recompute waits this long, so one burst of ratings (a judge run's end, an import,
a busy annotation hour) is read once, after it settles."""

_VISIBILITY = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
TASK_TIME_LIMIT = min(900, max(60, int(_VISIBILITY * 0.8)))
LOST_AFTER = timedelta(seconds=TASK_TIME_LIMIT + 60)


@dataclass(frozen=True)
class AgreementAnswer:
    """What a reader gets. ``payload`` is None only when nothing has been computed yet."""

    payload: dict | None
    computed_at: datetime | None
    stale: bool
    refreshing: bool
    interval_lag: int | None = 0  # the humans' bootstrap intervals
    report_lag: int | None = 0  # the per-annotator and judge figures (the stored report)


def computes_inline(*, ratings: int, bootstrap_draws: int) -> bool:
    """Whether a report on ``ratings`` ratings is cheap enough to compute inside a request:
    ratings x (100 + draws) within settings.INLINE_WORK_LIMIT, about a second here (2 vCPUs):
    100,000 ratings without an interval, 9,000 with 1,000 draws."""
    return dispatch.fits_inline(work=ratings * (100 + bootstrap_draws))


def agreement_report_read(*, project: Project, bootstrap_draws: int = DEFAULT_DRAWS) -> AgreementAnswer:
    """The project's agreement report, at once: current, recomputed here when small, or the
    stored one with the live point estimates (quality/selectors/live.py) laid over it.

    A stale or missing report of a large project has a recompute queued (after the current
    transaction commits); the answer says so with ``refreshing``. With live tallies, alpha is
    never stale: only the bootstrap interval, the per-annotator and the judge figures lag, by
    ``report_lag`` ratings (None when no report was ever computed). The humans' interval lags by
    ``interval_lag``: the report's, or that of the interval kept by changes
    (quality/services/intervals.py, refreshed on a worker in seconds) when that one is fresher.
    """
    report = AgreementReport.objects.filter(project=project, bootstrap_draws=bootstrap_draws).first()
    read_at = timezone.now()
    policy = policy_for(project=project)
    live = ratings_state(project=project, policy=policy, judge_ids=report.state.get("judges", {}) if report else ())
    if report is not None and report.payload is not None and report.state == live:
        return AgreementAnswer(_live(report.payload, project), report.computed_at, stale=False, refreshing=False)
    if report is None:
        report = _report_row(project=project, bootstrap_draws=bootstrap_draws)
    if computes_inline(ratings=live["ratings"], bootstrap_draws=bootstrap_draws):
        payload, computed_at = _compute_and_store(
            report_id=report.pk, project=project, draws=bootstrap_draws, state=live, read_at=read_at, policy=policy
        )
        return AgreementAnswer(_live(payload, project), computed_at, stale=False, refreshing=False)
    agreement_report_enqueue(report_id=report.pk)
    figures = live_agreement(project=project)
    if figures is None:
        return AgreementAnswer(report.payload, report.computed_at, stale=True, refreshing=True)
    agreement_interval_enqueue(project_id=project.pk, create=True)
    lag, stale = None, False
    if report.payload is not None and "writes" in report.state:
        lag = max(0, figures.writes - int(report.state["writes"]))
        # New ratings are live; a change of policy, rubric version or a judge's examples is not.
        stale = _without_counts(report.state) != _without_counts(live)
    payload = live_overlay(payload=report.payload, project=project, figures=figures)
    report_lag = lag
    kept = interval_read(project=project)
    if kept is not None and (lag is None or figures.writes - kept[1] < lag):
        # The humans' intervals kept by changes are fresher than the report's.
        payload, lag = _with_intervals(payload, kept[0]), max(0, figures.writes - kept[1])
    return AgreementAnswer(
        payload, report.computed_at, stale=stale, refreshing=True, interval_lag=lag, report_lag=report_lag
    )


def _with_intervals(payload: dict, intervals: dict[str, dict]) -> dict:
    criteria = []
    for entry in payload["criteria"]:
        kept = intervals.get(entry["key"])
        if kept is not None:
            entry = {**entry, "humans": {**entry["humans"], **kept, "ci_live": True}}
        criteria.append(entry)
    return {**payload, "criteria": criteria}


def _live(payload: dict, project: Project) -> dict:
    """A current report with the live figures too (the judges' ``judges_live``), so every answer
    has the same shape."""
    figures = live_agreement(project=project)
    return payload if figures is None else live_overlay(payload=payload, project=project, figures=figures, humans=False)


def _without_counts(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in ("writes", "ratings", "last_id", "updated_at")}


def agreement_report_current(*, project: Project, min_draws: int = 0) -> dict:
    """A current report of the project with at least ``min_draws`` bootstrap draws, computed (with
    ``min_draws`` draws) and stored when none is current. For judge trust, which needs intervals."""
    policy = policy_for(project=project)
    stored = AgreementReport.objects.filter(project=project, payload__isnull=False, bootstrap_draws__gte=min_draws)
    for report in stored.order_by("bootstrap_draws"):
        live = ratings_state(project=project, policy=policy, judge_ids=report.state.get("judges", {}))
        if report.state == live:
            return report.payload
    report = _report_row(project=project, bootstrap_draws=min_draws)
    read_at = timezone.now()
    live = ratings_state(project=project, policy=policy)
    payload, _ = _compute_and_store(
        report_id=report.pk, project=project, draws=min_draws, state=live, read_at=read_at, policy=policy
    )
    return payload


def _report_row(*, project: Project, bootstrap_draws: int) -> AgreementReport:
    try:
        with transaction.atomic():
            report, _ = AgreementReport.objects.get_or_create(project=project, bootstrap_draws=bootstrap_draws)
    except IntegrityError:  # another request created it between our read and our insert
        report = AgreementReport.objects.get(project=project, bootstrap_draws=bootstrap_draws)
    return report


def _compute_and_store(
    *, report_id: int, project: Project, draws: int, state: dict, read_at: datetime, policy
) -> tuple[dict, datetime]:
    """Compute from the data as it is now and store it, unless a computation that read the state
    later has stored its report already. ``state`` must have been read before the ratings are
    (at ``read_at``): then a report is never marked current for ratings it did not see."""
    started = time.perf_counter()
    payload, judges = agreement_for_project(project=project, bootstrap_draws=draws, policy=policy)
    computed_at = timezone.now()
    AgreementReport.objects.filter(pk=report_id).filter(
        Q(state_read_at__isnull=True) | Q(state_read_at__lt=read_at)
    ).update(
        payload=payload,
        state={**state, "judges": judges},
        ratings=state["ratings"],
        computed_at=computed_at,
        state_read_at=read_at,
        compute_seconds=round(time.perf_counter() - started, 3),
    )
    return payload, computed_at


def agreement_reports_refresh_after_change(*, project_id: int, reports: list[tuple[int, int]] | None = None) -> None:
    """Ratings (or the policy, or the rubric version) of a project changed: once the current
    transaction commits, queue a recompute of its stored default report, unless one is queued.

    Only a report too large to compute inline is queued: a small one is recomputed when read.
    A report nobody asked for is never computed. Costs one indexed SELECT per commit, unless the
    caller read the default report's (id, ratings) already in this transaction (``reports``, see
    :data:`REPORTS_SQL`; the approval gate does, in its own round trip). A report first stored
    between that read and the commit is not queued here; its next read finds it stale and queues it.
    """
    transaction.on_commit(lambda: _refresh_project(project_id, reports), robust=True)


REPORTS_SQL = (
    f"SELECT id, ratings FROM {AgreementReport._meta.db_table} WHERE project_id = %s AND bootstrap_draws = "
    f"{DEFAULT_DRAWS}"
)
"""The project's default report, as ``agreement_reports_refresh_after_change`` needs it."""


def _refresh_project(project_id: int, reports: list[tuple[int, int]] | None = None) -> None:
    if reports is None:
        rows = AgreementReport.objects.filter(project_id=project_id, bootstrap_draws=DEFAULT_DRAWS)
        reports = list(rows.values_list("id", "ratings"))
    for report_id, ratings in reports:
        if not computes_inline(ratings=ratings, bootstrap_draws=DEFAULT_DRAWS):
            agreement_report_enqueue(report_id=report_id)
            agreement_interval_enqueue(project_id=project_id)


def _not_queued(now: datetime) -> Q:
    return Q(refresh_queued_at__isnull=True) | Q(refresh_queued_at__lt=now - LOST_AFTER)


def agreement_report_enqueue(*, report_id: int) -> None:
    """Queue a recompute of one stored report after commit, unless one is queued already."""
    now = timezone.now()
    if AgreementReport.objects.filter(_not_queued(now), pk=report_id).update(refresh_queued_at=now):
        transaction.on_commit(lambda: _publish(report_id, now), robust=True)


def _publish(report_id: int, queued_at: datetime) -> None:
    try:
        dispatch.agreement_report_refresh_later(report_id=report_id, countdown=REFRESH_DELAY_SECONDS)
    except Exception:
        # The broker is unreachable: forget the flag so the next change or read tries again.
        AgreementReport.objects.filter(pk=report_id, refresh_queued_at=queued_at).update(refresh_queued_at=None)
        raise


class ComputeOutcome(StrEnum):
    DONE = "done"
    CURRENT = "current"
    BUSY = "busy"
    GONE = "gone"


def agreement_report_compute(*, report_id: int) -> str:
    """Recompute a stored report unless it is current; one computation per report at a time.

    Returns a ComputeOutcome: BUSY when another worker is computing it (the caller retries
    later: ratings may have arrived after that one read them). Idempotent: a redelivered task
    finds the report current and does nothing.
    """
    now = timezone.now()
    free = Q(computing_since__isnull=True) | Q(computing_since__lt=now - LOST_AFTER)
    # Clearing refresh_queued_at as the claim commits means any later change queues a new task,
    # and any earlier one is visible to the reads below.
    if not AgreementReport.objects.filter(free, pk=report_id).update(computing_since=now, refresh_queued_at=None):
        return ComputeOutcome.BUSY if AgreementReport.objects.filter(pk=report_id).exists() else ComputeOutcome.GONE
    try:
        report = AgreementReport.objects.select_related("project__rubric_version").get(pk=report_id)
        project = report.project
        read_at = timezone.now()
        policy = policy_for(project=project)
        live = ratings_state(project=project, policy=policy, judge_ids=report.state.get("judges", {}))
        if report.payload is not None and report.state == live:
            return ComputeOutcome.CURRENT
        _compute_and_store(
            report_id=report.pk,
            project=project,
            draws=report.bootstrap_draws,
            state=live,
            read_at=read_at,
            policy=policy,
        )
        logger.info("agreement report %s of project %s recomputed (%s ratings)", report_id, project.pk, live["ratings"])
        return ComputeOutcome.DONE
    finally:
        AgreementReport.objects.filter(pk=report_id, computing_since=now).update(computing_since=None)
