"""The Quality Signal report against a small example worked by hand.

Tasks: A1, A2 accepted; R1, R2 rejected by agreeing humans (reason: implicit dependency); R3
rejected by a manager (no reason); U1 undecided. Traces, with their decided failure modes:

    A1: logic error, logic error, edge-case failure     R1: test mismatch, test mismatch, environment issue
    A2: logic error, test mismatch                      R2: test mismatch, logic error

plus one trace of U1, one naming no known task and one whose mode is not decided yet.
So 5 traces count in each bucket. Logic error: 3/5 accepted, 1/5 rejected.

Wilson 95 % (z = 1.96, z² = 3.8415), n = 5, to four places:
    3/5: centre (0.6 + z²/10) / (1 + z²/5) = 0.9841 / 1.7683 = 0.5566,
         half  z·sqrt(0.6·0.4/5 + z²/100) / 1.7683 = 0.3258           → [0.2307, 0.8824]
    1/5: centre 0.5841 / 1.7683 = 0.3303, half 0.2941                → [0.0362, 0.6245]
    4/5 is the mirror of 1/5: [0.3755, 0.9638]; 0/5: [0, 0.4345]; 2/5 mirrors 3/5.
Newcombe (method 10) for 0.6 - 0.2 = 0.4:
    lower 0.4 - sqrt((0.6 - 0.2307)² + (0.6245 - 0.2)²) = 0.4 - 0.5626 = -0.1626
    upper 0.4 + sqrt((0.8824 - 0.6)² + (0.2 - 0.0362)²) = 0.4 + 0.3264 = 0.7264
"""

import pytest

from annotation.models import ItemStatus, Role
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from quality.selectors.failure_modes import failure_mode_report
from rubrics.templates import rubric_from_template

PASS = {"achievable": True, "non_trivial": True, "functionally_correct": True, "reliable": True}
DEPENDENCY = {**PASS, "reliable": False, "rejection_reason": "implicit dependency"}

TASKS = {
    "A1": (ItemStatus.APPROVED, PASS, {"pass_rate": 0.5, "tool_calls": 10, "output_tokens": 1000}, {}),
    "A2": (ItemStatus.APPROVED, PASS, {"pass_rate": 0.3, "tool_calls": 20}, {}),
    "R1": (ItemStatus.APPROVED, DEPENDENCY, {}, {"metadata": {"pass_rate": 0.0, "tool_calls": 4}}),
    "R2": (ItemStatus.APPROVED, DEPENDENCY, {"pass_rate": 1.0, "tool_calls": "n/a"}, {}),
    "R3": (ItemStatus.REJECTED, {}, {}, {}),
    "U1": (ItemStatus.NEEDS_REVIEW, {}, {"pass_rate": 0.9}, {}),
}
TRACES = [
    ("A1", "logic error"), ("A1", "logic error"), ("A1", "edge-case failure"),
    ("A2", "logic error"), ("A2", "test mismatch"),
    ("R1", "test mismatch"), ("R1", "test mismatch"), ("R1", "environment issue"),
    ("R2", "test mismatch"), ("R2", "logic error"),
    ("U1", "timeout"), ("nope", "logic error"), ("A1", None),
]  # fmt: skip


@pytest.fixture
def projects(staff):
    tasks = project_create(
        actor=staff, name="Tasks", rubric=rubric_from_template(actor=staff, template="agentic-task-acceptance")
    )
    traces = project_create(
        actor=staff,
        name="Traces",
        rubric=rubric_from_template(actor=staff, template="agent-failure-mode"),
        tasks_project=tasks,
    )
    items_import(
        project=tasks,
        rows=[
            {"external_id": k, "data": {"instruction": k, **data}, "metadata": meta}
            for k, (_, _, meta, data) in TASKS.items()
        ],
    )
    for key, (status, consensus, _, _) in TASKS.items():
        tasks.items.filter(external_id=key).update(status=status, consensus=consensus)
    items_import(
        project=traces,
        rows=[{"external_id": f"tr{i}", "data": {"task": task, "steps": []}} for i, (task, _) in enumerate(TRACES)],
    )
    for i, (_, mode) in enumerate(TRACES):
        if mode:
            traces.items.filter(external_id=f"tr{i}").update(
                status=ItemStatus.APPROVED, consensus={"failure_mode": mode}
            )
    return tasks, traces


def row(report, mode):
    return next(r for r in report["modes"] if r["mode"] == mode)


def test_it_counts_traces_by_the_bucket_of_their_task(projects):
    report = failure_mode_report(project=projects[1])
    assert report["traces"] == {"total": 13, "counted": 10, "unlinked": 1, "undecided": 1, "task_undecided": 1}
    assert report["buckets"] == {
        "accepted": {"tasks": 2, "traces": 5},
        "rejected": {"tasks": 3, "traces": 5},
        "undecided": {"tasks": 1, "traces": 1},
    }


def test_shares_and_their_intervals_match_the_hand_computed_example(projects):
    report = failure_mode_report(project=projects[1])
    logic = row(report, "logic error")
    assert logic["class"] == "meaningful"
    assert (logic["accepted"]["count"], logic["accepted"]["total"]) == (3, 5)
    assert logic["accepted"]["share"] == pytest.approx(0.6)
    assert logic["accepted"]["ci"] == pytest.approx([0.2307, 0.8824], abs=5e-5)
    assert logic["rejected"]["share"] == pytest.approx(0.2)
    assert logic["rejected"]["ci"] == pytest.approx([0.0362, 0.6245], abs=5e-5)
    assert logic["difference"]["value"] == pytest.approx(0.4)
    assert logic["difference"]["ci"] == pytest.approx([-0.1626, 0.7264], abs=5e-5)

    mismatch = row(report, "test mismatch")
    assert mismatch["class"] == "degenerate"
    assert mismatch["accepted"]["share"] == pytest.approx(0.2)
    assert mismatch["rejected"]["share"] == pytest.approx(0.6)
    assert mismatch["difference"]["value"] == pytest.approx(-0.4)
    assert mismatch["difference"]["ci"] == pytest.approx([-0.7264, 0.1626], abs=5e-5)

    timeout = row(report, "timeout")
    assert timeout["accepted"]["count"] == timeout["rejected"]["count"] == 0
    assert timeout["accepted"]["ci"] == pytest.approx([0.0, 0.4345], abs=5e-5)
    assert timeout["difference"]["value"] == 0
    assert sum(r["accepted"]["count"] for r in report["modes"]) == 5


def test_it_splits_degenerate_from_meaningful_failures_per_bucket(projects):
    classes = {r["class"]: r for r in failure_mode_report(project=projects[1])["classes"]}
    assert classes["meaningful"]["accepted"]["count"] == 4
    assert classes["meaningful"]["accepted"]["ci"] == pytest.approx([0.3755, 0.9638], abs=5e-5)
    assert classes["degenerate"]["accepted"]["count"] == 1
    assert classes["meaningful"]["rejected"]["count"] == 1
    assert classes["degenerate"]["rejected"]["count"] == 4
    assert classes["degenerate"]["difference"]["value"] == pytest.approx(-0.6)


def test_it_tabulates_task_metadata_and_rejection_reasons(projects):
    report = failure_mode_report(project=projects[1])
    metadata = {r["bucket"]: r for r in report["metadata"]}
    assert metadata["accepted"]["tasks"] == 2
    assert metadata["accepted"]["pass_rate"] == {"mean": pytest.approx(0.4), "n": 2}
    assert metadata["accepted"]["tool_calls"] == {"mean": 15.0, "n": 2}
    assert metadata["accepted"]["output_tokens"] == {"mean": 1000.0, "n": 1}
    # R1's metadata sits inside its data; R2's tool_calls is not a number and is left out.
    assert metadata["rejected"]["pass_rate"] == {"mean": pytest.approx(0.5), "n": 2}
    assert metadata["rejected"]["tool_calls"] == {"mean": 4.0, "n": 1}
    assert metadata["rejected"]["output_tokens"] == {"mean": None, "n": 0}
    assert report["rejection_reasons"] == [
        {"reason": "implicit dependency", "count": 2, "share": pytest.approx(2 / 3)},
        {"reason": "(no reason given)", "count": 1, "share": pytest.approx(1 / 3)},
    ]


def test_the_api_serves_the_report_to_reviewers_of_both_projects(projects, make_user, client_for, staff):
    tasks, traces = projects
    url = f"/api/v1/projects/{traces.pk}/reports/failure-modes/"
    response = client_for(staff).get(url)
    assert response.status_code == 200
    assert response.json()["traces"]["counted"] == 10

    reviewer = make_user("rev")
    membership_set(project=traces, user=reviewer, role=Role.REVIEWER)
    assert client_for(reviewer).get(url).status_code == 403, "the report shows the tasks project's buckets"
    membership_set(project=tasks, user=reviewer, role=Role.REVIEWER)
    assert client_for(reviewer).get(url).status_code == 200
    annotator = make_user("ann")
    membership_set(project=traces, user=annotator, role=Role.ANNOTATOR)
    membership_set(project=tasks, user=annotator, role=Role.ANNOTATOR)
    assert client_for(annotator).get(url).status_code == 403
    assert client_for().get(url).status_code in (401, 403)


def test_the_api_explains_a_project_that_is_not_a_traces_project(projects, client_for, staff):
    tasks, _ = projects
    response = client_for(staff).get(f"/api/v1/projects/{tasks.pk}/reports/failure-modes/")
    assert response.status_code == 400
    assert "tasks_project" in response.json()["errors"]


def test_the_report_page_draws_the_chart_and_tables(projects, client, staff):
    client.force_login(staff)
    page = client.get(f"/projects/{projects[1].pk}/report/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="chart diverging"' in html
    assert html.count('class="bar meaningful"') >= 3 and 'class="bar degenerate"' in html
    assert "implicit dependency" in html and "(no reason given)" in html
    assert "10 of 13 traces counted" in html
    problem = client.get(f"/projects/{projects[0].pk}/report/")
    assert problem.status_code == 200 and "cannot show the report yet" in problem.content.decode()


def test_the_project_api_links_traces_to_tasks_only_for_managers_of_both(projects, make_user, client_for, staff):
    tasks, traces = projects
    manager = make_user("mgr")
    membership_set(project=traces, user=manager, role=Role.MANAGER)
    url = f"/api/v1/projects/{traces.pk}/"
    refused = client_for(manager).patch(url, {"tasks_project": tasks.pk}, format="json")
    assert refused.status_code == 400 and "tasks_project" in refused.json()["errors"]
    membership_set(project=tasks, user=manager, role=Role.MANAGER)
    assert client_for(manager).patch(url, {"tasks_project": None}, format="json").json()["tasks_project"] is None
    assert (
        client_for(manager).patch(url, {"tasks_project": tasks.pk}, format="json").json()["tasks_project"] == tasks.pk
    )
    itself = client_for(staff).patch(url, {"tasks_project": traces.pk}, format="json")
    assert itself.status_code == 400
