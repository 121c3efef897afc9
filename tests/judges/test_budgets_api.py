"""Estimates, caps, spend and resume through the REST API: status, JSON, database, who may do what."""

from decimal import Decimal

import pytest

from annotation.services.items import items_import
from judges.models import JudgeBudget, JudgeRun, RunStatus
from tests.judges.conftest import run_chunks

pytestmark = pytest.mark.django_db


@pytest.fixture
def judge(make_judge, project):
    items_import(project=project, rows=[{"external_id": f"a{i}", "data": {"prompt": f"a{i}"}} for i in range(4)])
    return make_judge("openai", price_input_per_mtok=3, price_output_per_mtok=15, samples=2, max_output_tokens=500)


def test_a_manager_gets_an_estimate_and_others_do_not(judge, members, client_for):
    url = f"/api/v1/judges/{judge.pk}/estimate/"
    response = client_for(members["manager"]).post(url, {"items": "all"}, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["items"], data["calls"], data["sampled_items"]) == (4, 8, 4)
    assert data["output_basis"] == "max_output_tokens" and data["output_tokens"] == 8 * 500
    assert Decimal(data["low_usd"]) <= Decimal(data["cost_usd"]) <= Decimal(data["high_usd"])
    # Never answered: output priced at its cap, 8 calls x 500 tokens x $15 / Mtok = $0.06, plus input.
    assert Decimal(data["cost_usd"]) > Decimal("0.06")
    assert not JudgeRun.objects.exists()  # nothing stored, nothing sent

    assert client_for(members[("reviewer")]).post(url, {}, format="json").status_code == 403
    assert client_for(members["outsider"]).post(url, {}, format="json").status_code in (403, 404)
    bad = client_for(members["manager"]).post(url, {"items": "most"}, format="json")
    assert bad.status_code == 400 and "items" in bad.json()["errors"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "greater than or equal to 0"), ("lots", "valid number"), ("1e20", "")],
)
def test_a_run_with_a_bad_cap_is_refused_field_by_field(judge, project, members, client_for, value, message):
    response = client_for(members["manager"]).post(
        f"/api/v1/projects/{project.pk}/judge-runs/", {"judge": judge.pk, "max_cost": value}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["max_cost"] and message in " ".join(errors["max_cost"])
    assert not JudgeRun.objects.exists()


def test_a_run_started_with_a_cap_shows_it_and_its_spend(judge, project, members, client_for):
    client = client_for(members["manager"])
    response = client.post(
        f"/api/v1/projects/{project.pk}/judge-runs/", {"judge": judge.pk, "max_cost": "2.5"}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["max_cost_usd"] == "2.500000" and response.json()["cost_spent_usd"] == "0.000000"
    run = JudgeRun.objects.get()
    run_chunks(run)
    data = client.get(f"/api/v1/judge-runs/{run.pk}/").json()
    assert data["status"] == RunStatus.SUCCEEDED and data["stop_reason"] == ""
    assert Decimal("0") < Decimal(data["cost_spent_usd"]) < Decimal("2.5")
    judge_data = client.get(f"/api/v1/judges/{judge.pk}/").json()
    assert judge_data["cost_spent_usd"] == data["cost_spent_usd"]


def test_the_monthly_cap_is_set_by_managers_and_read_by_reviewers(project, members, client_for):
    url = f"/api/v1/projects/{project.pk}/judge-budget/"
    manager = client_for(members["manager"])
    response = manager.patch(url, {"monthly_cap_usd": "40"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["monthly_cap_usd"] == "40.000000" and response.json()["left_usd"] == "40.000000"
    assert JudgeBudget.objects.get(project=project).monthly_cap_micros == 40_000_000
    seen = client_for(members["reviewer"]).get(url).json()
    assert seen["spent_usd"] == "0.000000" and seen["month"].endswith("-01")

    assert client_for(members["reviewer"]).patch(url, {"monthly_cap_usd": "1"}, format="json").status_code == 403
    assert client_for(members["annotator"]).get(url).status_code == 403
    for bad in ("-3", "x", True):
        response = manager.patch(url, {"monthly_cap_usd": bad}, format="json")
        assert response.status_code == 400 and list(response.json()["errors"]) == ["monthly_cap_usd"]
    assert manager.patch(url, {"monthly_cap_usd": None}, format="json").json()["monthly_cap_usd"] is None


def test_only_a_run_stopped_at_its_budget_resumes(judge, project, members, client_for, staff):
    client = client_for(members["manager"])
    run = JudgeRun.objects.get(
        pk=client.post(f"/api/v1/projects/{project.pk}/judge-runs/", {"judge": judge.pk}, format="json").json()["id"]
    )
    response = client.post(f"/api/v1/judge-runs/{run.pk}/resume/", {"max_cost": "5"}, format="json")
    assert response.status_code == 409

    JudgeRun.objects.filter(pk=run.pk).update(status=RunStatus.STOPPED_BUDGET, cost_spent_micros=1_000_000)
    too_low = client.post(f"/api/v1/judge-runs/{run.pk}/resume/", {"max_cost": "0.5"}, format="json")
    assert too_low.status_code == 400 and "max_cost" in too_low.json()["errors"]
    negative = client.post(f"/api/v1/judge-runs/{run.pk}/resume/", {"max_cost": "-5"}, format="json")
    assert negative.status_code == 400 and "max_cost" in negative.json()["errors"]
    assert client_for(members["reviewer"]).post(f"/api/v1/judge-runs/{run.pk}/resume/", {}).status_code == 403

    response = client.post(f"/api/v1/judge-runs/{run.pk}/resume/", {"max_cost": "5"}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == RunStatus.QUEUED and response.json()["max_cost_usd"] == "5.000000"
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 4
