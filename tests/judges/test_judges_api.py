"""Judge configuration and judge runs through the REST API: status, JSON, database, who may do what."""

import pytest

from annotation.models import Rater, RaterKind
from judges.models import Judge, JudgeRun, JudgeVersion, RunStatus
from judges.services.runs import judge_run_start
from testbed import Reply
from tests.judges.conftest import KEY_ENV, run_chunks

pytestmark = pytest.mark.django_db


def _body(project, llm, **extra):
    return {
        "project": project.id,
        "name": "GPT judge",
        "provider": "openai",
        "model": "gpt-x",
        "base_url": llm.openai_base_url,
        "api_key_env": KEY_ENV,
        "temperature": 0,
        "samples": 3,
        "few_shot": 2,
        "price_input_per_mtok": "2.50",
        "price_output_per_mtok": "10",
        **extra,
    }


def test_it_creates_a_judge_with_version_1_and_its_rater(project, members, client_for, llm):
    response = client_for(members["manager"]).post("/api/v1/judges/", _body(project, llm), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["version"] == 1 and data["samples"] == 3 and data["api_key_env"] == KEY_ENV
    assert "test-key" not in str(data) and "api_key" not in data
    rater = Rater.objects.get(pk=data["rater"])
    assert (rater.kind, rater.user, rater.name, rater.version) == (RaterKind.JUDGE, None, "GPT judge v1", 1)


@pytest.mark.parametrize(
    ("change", "new_version"),
    [
        ({"model": "gpt-y"}, True),
        ({"temperature": 0.7}, True),
        ({"system_prompt": "Be harsh."}, True),
        ({"samples": 5}, True),
        ({"base_url": "http://127.0.0.1:9/v1"}, True),
        ({"name": "Renamed"}, False),
        ({"price_input_per_mtok": "1.00", "requests_per_minute": 100}, False),
        ({"model": "gpt-x"}, False),
    ],
)
def test_it_versions_judges_on_verdict_affecting_changes_only(project, members, client_for, llm, change, new_version):
    client = client_for(members["manager"])
    judge_id = client.post("/api/v1/judges/", _body(project, llm), format="json").json()["id"]
    response = client.patch(f"/api/v1/judges/{judge_id}/", change, format="json")

    assert response.status_code == 200, response.json()
    versions = JudgeVersion.objects.filter(judge_id=judge_id).order_by("number")
    assert versions.count() == (2 if new_version else 1)
    assert response.json()["version"] == versions.last().number
    if new_version:
        assert versions.last().rater.name == "GPT judge v2" and versions.first().model == "gpt-x"
    if "name" in change:
        assert versions.get().rater.name == "Renamed v1"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"api_key_env": "sk-proj-abc123"}, "api_key_env"),
        ({"api_key_env": "1ABC"}, "api_key_env"),
        ({"samples": 0}, "samples"),
        ({"temperature": 3}, "temperature"),
        ({"provider": "gemini"}, "provider"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"provider": "openai_compatible", "base_url": ""}, "base_url"),
        ({"api_key_env": ""}, "api_key_env"),
        ({"max_output_tokens": 5}, "max_output_tokens"),
        ({"price_input_per_mtok": "-1"}, "price_input_per_mtok"),
    ],
)
def test_it_refuses_bad_judge_fields_with_field_errors(project, members, client_for, llm, extra, field):
    response = client_for(members["manager"]).post("/api/v1/judges/", _body(project, llm, **extra), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Judge.objects.exists()


def test_it_lets_only_managers_configure_judges(project, members, client_for, llm):
    for who in ("reviewer", "annotator", "outsider"):
        response = client_for(members[who]).post("/api/v1/judges/", _body(project, llm), format="json")
        assert response.status_code == 403
    judge_id = client_for(members["manager"]).post("/api/v1/judges/", _body(project, llm), format="json").json()["id"]
    assert client_for(members["annotator"]).patch(f"/api/v1/judges/{judge_id}/", {"model": "m"}).status_code == 403
    assert client_for(members["annotator"]).get(f"/api/v1/judges/{judge_id}/").status_code == 200
    assert client_for(members["outsider"]).get(f"/api/v1/judges/{judge_id}/").status_code == 403
    assert client_for(members["outsider"]).get("/api/v1/judges/").json() == []
    assert client_for().get("/api/v1/judges/").status_code in (401, 403)


def test_it_starts_and_reports_a_run(project, items, members, client_for, llm, make_judge):
    judge = make_judge("openai", price_input_per_mtok=1, price_output_per_mtok=4)
    manager = client_for(members["manager"])
    response = manager.post(
        f"/api/v1/projects/{project.id}/judge-runs/", {"judge": judge.id, "items": "all"}, format="json"
    )

    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and response.json()["total"] == 5
    run = JudgeRun.objects.get(pk=response.json()["id"])
    run_chunks(run)
    data = client_for(members["annotator"]).get(f"/api/v1/judge-runs/{run.id}/").json()
    assert data["status"] == "succeeded"
    assert (data["total"], data["done"], data["failed"], data["no_verdict"]) == (5, 5, 0, 0)
    expected = (data["input_tokens"] * 1 + data["output_tokens"] * 4) / 1_000_000
    assert abs(float(data["cost_usd_estimate"]) - expected) < 1e-5 and data["input_tokens"] > 0
    listed = manager.get(f"/api/v1/projects/{project.id}/judge-runs/").json()
    assert [r["id"] for r in listed] == [run.id]


def test_a_run_says_why_items_were_not_rated(project, items, members, client_for, llm, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.truncated(), Reply.truncated(), Reply.error(400, headers={}, message="context too long"))
    run = judge_run_start(actor=None, project=project, judge=judge, items="all")
    run_chunks(run)
    data = client_for(members["annotator"]).get(f"/api/v1/judge-runs/{run.id}/").json()

    assert (data["done"], data["failed"], data["no_verdict"]) == (2, 1, 2)
    assert [(p["outcome"], p["items"]) for p in data["problems"]] == [("no_verdict", 2), ("failed", 1)]
    budget = judge.current_version().max_output_tokens
    assert data["problems"][0]["reason"] == f"max_tokens: output hit max_output_tokens ({budget})"
    assert "context too long" in data["problems"][1]["reason"]


def test_it_refuses_runs_to_non_managers_and_bad_input(project, items, members, client_for, make_judge):
    judge = make_judge("openai")
    url = f"/api/v1/projects/{project.id}/judge-runs/"
    assert client_for(members["reviewer"]).post(url, {"judge": judge.id}, format="json").status_code == 403
    assert client_for(members["outsider"]).post(url, {"judge": judge.id}, format="json").status_code == 403
    manager = client_for(members["manager"])
    for body, field in [
        ({"judge": judge.id, "items": "some"}, "items"),
        ({"judge": judge.id, "items": [999999]}, "items"),
        ({"judge": judge.id, "items": ["x"]}, "items"),
        ({"judge": 999999, "items": "all"}, "judge"),
        ({"items": "all"}, "judge"),
    ]:
        response = manager.post(url, body, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], (body, response.json())
    assert manager.post(url, {"judge": judge.id, "items": "all"}, format="json").status_code == 202
    conflict = manager.post(url, {"judge": judge.id, "items": "all"}, format="json")
    assert conflict.status_code == 409 and conflict.json()["detail"]


def test_it_cancels_a_run(project, items, members, client_for, llm, make_judge):
    judge = make_judge("openai")
    manager = client_for(members["manager"])
    run_id = manager.post(f"/api/v1/projects/{project.id}/judge-runs/", {"judge": judge.id}, format="json").json()["id"]

    assert client_for(members["annotator"]).post(f"/api/v1/judge-runs/{run_id}/cancel/").status_code == 403
    response = manager.post(f"/api/v1/judge-runs/{run_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    run = JudgeRun.objects.get(pk=run_id)
    run_chunks(run)  # chunks delivered after the cancel do nothing
    assert llm.count() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert manager.post(f"/api/v1/judge-runs/{run_id}/cancel/").status_code == 409
    # A cancelled run no longer blocks a new one.
    assert (
        manager.post(f"/api/v1/projects/{project.id}/judge-runs/", {"judge": judge.id}, format="json").status_code
        == 202
    )


def test_it_shows_runs_to_members_only(project, items, members, client_for, make_judge):
    judge = make_judge("openai")
    run_id = (
        client_for(members["manager"])
        .post(f"/api/v1/projects/{project.id}/judge-runs/", {"judge": judge.id}, format="json")
        .json()["id"]
    )
    assert client_for(members["annotator"]).get(f"/api/v1/judge-runs/{run_id}/").status_code == 200
    assert client_for(members["outsider"]).get(f"/api/v1/judge-runs/{run_id}/").status_code == 403
    assert client_for(members["manager"]).get("/api/v1/judge-runs/999999/").status_code == 404
