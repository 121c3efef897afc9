"""A judge with no verdicts still shows in the agreement API and on the dashboard, with its run's
failure reason and a pointer to the test action (issue 21, point 4)."""

from testbed.llm_quirks import Quirks
from tests.judges.conftest import run_now


def test_a_judge_whose_run_failed_shows_in_agreement_with_the_reason(
    llm, project, items, make_judge, members, client_for, client
):
    llm.quirks = Quirks(refuse_json_schema=True)
    judge = make_judge("openai_compatible", name="Local", output_mode="json_schema")
    reviewer = client_for(members["reviewer"])
    url = f"/api/v1/projects/{project.pk}/agreement/?bootstrap=0"
    listed = reviewer.get(url).json()["judges_without_ratings"]
    assert [j["name"] for j in listed] == ["Local v1"] and listed[0]["status"].startswith("not run yet")

    run = run_now(project=project, judge=judge)
    assert run.status == "failed"
    listed = reviewer.get(url).json()["judges_without_ratings"]
    assert len(listed) == 1 and listed[0]["rater"] == judge.current_version().rater_id
    status = listed[0]["status"]
    assert f"run {run.pk} ended failed with no verdict" in status
    assert "Input should be 'text' or 'json_object'" in status and f"/api/v1/judges/{judge.pk}/test/" in status

    client.force_login(members["reviewer"])
    page = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert "Local v1" in page and "no verdicts" in page and f"/projects/{project.pk}/judges/" in page

    # Fixed: a new version (another mode) that gets verdicts; the failed version no longer speaks.
    client_for(members["manager"]).patch(f"/api/v1/judges/{judge.pk}/", {"output_mode": "auto"}, format="json")
    client_for(members["manager"]).patch(f"/api/v1/judges/{judge.pk}/", {"temperature": 0.1}, format="json")
    run_now(project=project, judge=judge)
    assert reviewer.get(url).json()["judges_without_ratings"] == []
