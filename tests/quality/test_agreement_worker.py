"""A real Celery worker on Redis keeps a large project's agreement report current and re-decides
its items after a policy change, while the API answers at once.

Needs PostgreSQL (the worker shares pytest-django's test database) and a Redis broker:
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/2 .venv/bin/pytest tests/annotation -m worker
"""

import time

import pytest

from annotation.models import ItemStatus
from quality.services import agreement_reports
from tests.quality.test_agreement_reports import helpfulness, rated_twice
from tests.quality.test_approval import rate
from tests.workers import wait_for, worker_env, worker_kill, worker_services_or_skip, worker_start

RECOMPUTED = " recomputed ("


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_the_stored_report_current_and_re_decides_items(
    project, members, items, client_for, monkeypatch, settings, tmp_path
):
    broker = worker_services_or_skip()
    # This process decides what is "large" and when to queue; the worker only computes.
    settings.INLINE_WORK_LIMIT = 0
    monkeypatch.setattr(agreement_reports, "REFRESH_DELAY_SECONDS", 3)

    rated_twice(items, members, [(5, 4), (3, 3), (1, 3)])
    items[2].refresh_from_db()
    assert items[2].status == ItemStatus.NEEDS_REVIEW
    reviewer = client_for(members["reviewer"])
    url = f"/api/v1/projects/{project.pk}/agreement/"
    log = tmp_path / "worker.log"
    worker = worker_start(worker_env(broker), log)
    try:
        started = time.monotonic()
        first = reviewer.get(url)
        assert time.monotonic() - started < 2
        # No report yet: live alpha at once, the intervals on their way.
        assert first.status_code == 200
        assert (first.json()["interval_lag_ratings"], helpfulness(first.json())["units"]) == (None, 3)

        def report_current():
            # The report's own lag: the humans' interval kept by changes may be current sooner.
            return reviewer.get(url).json()["report_lag_ratings"] == 0

        wait_for(report_current, timeout=60, what="the first report", log=log)
        body = reviewer.get(url).json()
        assert (body["stale"], helpfulness(body)["units"]) == (False, 3)
        assert body["computed_at"] is not None

        for user in (members["annotator"], members["annotator2"]):  # two ratings: one recompute
            rate(items[3], user, helpfulness=2)
        body = reviewer.get(url).json()
        assert (body["stale"], body["refreshing"], body["report_lag_ratings"]) == (False, True, 2)
        assert helpfulness(body)["units"] == 4, "alpha is live"

        wait_for(report_current, timeout=60, what="the recomputed report", log=log)
        assert log.read_text().count(RECOMPUTED) == 2, log.read_text()[-3000:]

        response = client_for(members["manager"]).patch(
            f"/api/v1/projects/{project.pk}/approval-policy/", {"numeric_tolerance": 0.75}, format="json"
        )
        assert response.json()["items_reevaluation"] == "queued"

        def approved():
            items[2].refresh_from_db()
            return items[2].status == ItemStatus.APPROVED

        wait_for(approved, timeout=60, what="the background re-evaluation", log=log)
        # The report depends on the policy (judge trust), so it was recomputed too.
        wait_for(lambda: reviewer.get(url).json()["stale"] is False, timeout=60, what="the report", log=log)
    finally:
        worker_kill(worker)
