"""Money on the judges page: the Run form's estimate, the monthly meter and cap form, run costs,
and resuming a run stopped at its budget (server-rendered, through Django's test client)."""

import re

import pytest

from annotation.services.items import items_import
from judges.costs import usd
from judges.models import JudgeBudget, JudgeRun, RunStatus
from judges.services.budgets import project_budget_set
from judges.services.runs import judge_run_start
from tests.judges.conftest import run_chunks

pytestmark = pytest.mark.django_db


@pytest.fixture
def judge(make_judge, project):
    items_import(project=project, rows=[{"external_id": f"g{i}", "data": {"prompt": f"g{i}"}} for i in range(7)])
    return make_judge("openai", price_input_per_mtok=3, price_output_per_mtok=15, max_output_tokens=500)


def _page(client, project) -> str:
    response = client.get(f"/projects/{project.pk}/judges/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_manager_sees_the_estimate_on_the_run_form_and_this_months_meter(judge, project, members, client):
    project_budget_set(project=project, monthly_cap="2")
    client.force_login(members["manager"])
    html = _page(client, project)

    # Never answered: priced at max_output_tokens, so an upper bound ("at most").
    assert re.search(r"untried: 7 items · at most about \$0\.0\d+", html)
    assert 'name="max_cost"' in html and 'data-role="monthly-cap"' in html
    assert "$0.00 of $2.00 · $2.00 left" in html and 'data-field="month-meter"' in html

    first_two = list(project.items.order_by("id").values_list("id", flat=True)[:2])
    run_chunks(judge_run_start(actor=members["manager"], project=project, judge=judge, items=first_two))
    html = _page(client, project)
    # Now with its own average output: a central figure and a bound.
    assert re.search(r"untried: 5 items · about \$0\.0\d+ \(≤ \$0\.0\d+\)", html)
    spent = JudgeRun.objects.get().cost_spent_micros
    assert 0 < spent < 10_000 and f"${usd(spent):.4f} of $2.00" in html


def test_a_reviewer_sees_the_spend_but_no_estimate_nor_forms(judge, project, members, client):
    client.force_login(members["reviewer"])
    html = _page(client, project)
    assert "no monthly cap" in html
    assert "items · about" not in html and "at most about" not in html
    assert 'data-role="monthly-cap"' not in html
    response = client.post(f"/projects/{project.pk}/judges/budget/", {"monthly_cap": "5"})
    assert response.status_code == 403 and not JudgeBudget.objects.exists()


def test_the_monthly_cap_form_saves_and_says_what_is_wrong(project, members, client):
    client.force_login(members["manager"])
    response = client.post(f"/projects/{project.pk}/judges/budget/", {"monthly_cap": "-4"}, follow=True)
    assert "Monthly budget: must be zero or more." in response.content.decode()
    assert not JudgeBudget.objects.exists()
    response = client.post(f"/projects/{project.pk}/judges/budget/", {"monthly_cap": "12.50"}, follow=True)
    assert "Monthly budget set to $12.500000." in response.content.decode()
    assert JudgeBudget.objects.get().monthly_cap_micros == 12_500_000


def test_a_run_started_from_the_page_with_a_budget_stops_and_resumes_there(judge, project, members, client):
    client.force_login(members["manager"])
    response = client.post(f"/projects/{project.pk}/judges/{judge.pk}/run/", {"items": "all", "max_cost": "abc"},
                           follow=True)  # fmt: skip
    assert "must be an amount in dollars" in response.content.decode() and not JudgeRun.objects.exists()

    client.post(f"/projects/{project.pk}/judges/{judge.pk}/run/", {"items": "all", "max_cost": "0.008"})
    run = JudgeRun.objects.get()
    assert run.max_cost_micros == 8_000
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED_BUDGET
    html = _page(client, project)
    assert "stopped at the run&#x27;s budget of $0.008000" in html and 'data-role="resume"' in html

    response = client.post(f"/judge-runs/{run.pk}/resume/", {"max_cost": ""})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.max_cost_micros is None
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 7
