"""Many workers reserving against one cap at once never overspend it (PostgreSQL row locks).

Each thread stands for a worker: its own database connection, reserving a call's worst case,
then settling a random actual cost, as fast as it can. The conditional UPDATEs in
judges/services/budgets.py are what is under test; SQLite has one writer at a time, so only
PostgreSQL shows a race if there is one.
"""

import random
import threading

import pytest
from django.db import connection, connections

from judges.models import JudgeRun, JudgeSpend
from judges.selectors import month_start
from judges.services.budgets import budget_reserve, budget_settle, project_budget_set, spend_month_ensure
from tests.judges.helpers import run_unreachable

WORKERS = 8
WORST = 1_000  # micro-dollars reserved per call


def _hammer(*, run, month, seed: int, counts: dict, lock: threading.Lock, start: threading.Barrier) -> None:
    rng = random.Random(seed)
    try:
        start.wait()
        refusals = 0
        while refusals < 20:  # the others may still give room back; then the cap is reached
            refused = budget_reserve(run_id=run.pk, project_id=run.project_id, month=month, micros=WORST)
            if refused:
                refusals += 1
                with lock:
                    counts[refused] += 1
                continue
            refusals = 0
            spent = rng.randint(100, WORST)
            budget_settle(run_id=run.pk, project_id=run.project_id, month=month, spent=spent, released=WORST)
            with lock:
                counts["calls"] += 1
                counts["spent"] += spent
    finally:
        connections.close_all()


def _run_threads(run, month) -> dict:
    counts = {"calls": 0, "spent": 0, "run": 0, "month": 0}
    lock = threading.Lock()
    start = threading.Barrier(WORKERS)
    threads = [
        threading.Thread(
            target=_hammer,
            kwargs={"run": run, "month": month, "seed": n, "counts": counts, "lock": lock, "start": start},
        )
        for n in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return counts


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: its row locks under concurrent UPDATEs are what is under test")


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_pass_the_runs_cap(postgresql, staff, project):
    run = run_unreachable(staff=staff, project=project, items=1)
    cap = 150_000
    JudgeRun.objects.filter(pk=run.pk).update(max_cost_micros=cap)
    month = month_start()
    spend_month_ensure(project_id=project.pk, month=month)

    counts = _run_threads(run, month)

    run.refresh_from_db()
    assert counts["calls"] > 150  # many calls answered, far below their worst case, until the cap
    assert run.cost_spent_micros == counts["spent"] <= cap
    assert run.cost_spent_micros + WORST > cap  # stopped only when the next worst case did not fit
    assert run.cost_reserved_micros == 0
    ledger = JudgeSpend.objects.get(project=project, month=month)
    assert (ledger.spent_micros, ledger.reserved_micros) == (run.cost_spent_micros, 0)
    assert counts["run"] > 0 and counts["month"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_of_two_runs_never_pass_the_monthly_cap(postgresql, staff, project):
    first = run_unreachable(staff=staff, project=project, items=1)
    second = JudgeRun.objects.create(
        project=project, judge_version=first.judge_version, rubric_version=first.rubric_version, items_selector="all"
    )
    project_budget_set(project=project, monthly_cap="0.2")
    month = month_start()
    spend_month_ensure(project_id=project.pk, month=month)

    counts = {"calls": 0, "spent": 0, "run": 0, "month": 0}
    results = []
    threads = [threading.Thread(target=lambda r=r: results.append(_run_threads(r, month))) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    for result in results:
        for key in counts:
            counts[key] += result[key]

    ledger = JudgeSpend.objects.get(project=project, month=month)
    spent = sum(JudgeRun.objects.filter(pk__in=[first.pk, second.pk]).values_list("cost_spent_micros", flat=True))
    assert ledger.spent_micros == spent == counts["spent"] <= 200_000
    assert ledger.spent_micros + WORST > 200_000 and ledger.reserved_micros == 0
    assert counts["month"] > 0 and counts["run"] == 0
