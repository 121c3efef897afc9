"""Task acceptance buckets: each approval path, the API filter, the pages and the export."""

import csv
import io
import json

import pytest

from annotation.models import ApprovedBy, ItemStatus, Rater, RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from quality.models import RaterTrust
from quality.selectors.acceptance import BUCKETS, acceptance_of, bucket_filter
from quality.services.approval import item_reject, items_decide
from quality.services.policy import policy_update
from rubrics.gates import gates_of
from rubrics.templates import rubric_from_template

GATES = ("achievable", "non_trivial", "functionally_correct", "reliable")
WHY = dict.fromkeys(GATES, "checked")


def verdict(*, fail: str | None = None, reason: str | None = None) -> dict:
    values = dict.fromkeys(GATES, True)
    if fail:
        values[fail] = False
    if reason:
        values["rejection_reason"] = reason
    return values


@pytest.fixture
def tasks_project(staff):
    version = rubric_from_template(actor=staff, template="agentic-task-acceptance")
    return project_create(actor=staff, name="Tasks", rubric=version, annotations_per_item=2)


@pytest.fixture
def people(tasks_project, make_user):
    people = {name: make_user(name) for name in ("ann", "ben", "rev", "outsider")}
    membership_set(project=tasks_project, user=people["ann"], role=Role.ANNOTATOR)
    membership_set(project=tasks_project, user=people["ben"], role=Role.ANNOTATOR)
    membership_set(project=tasks_project, user=people["rev"], role=Role.REVIEWER)
    return people


@pytest.fixture
def tasks(tasks_project):
    rows = [{"external_id": f"t{i}", "data": {"instruction": f"do {i}", "tests": "def test(): pass"}} for i in range(6)]
    items_import(project=tasks_project, rows=rows)
    return list(tasks_project.items.order_by("id"))


def rate(item, user, values):
    rating_submit(item=item, rater=rater_for_user(user=user), values=values, rationales=WHY)
    item.refresh_from_db()


def bucket(item):
    item.refresh_from_db()
    return acceptance_of(gates=gates_of(item.project.rubric_version), status=item.status, consensus=item.consensus)


def test_the_built_in_acceptance_rubric_has_four_gates_and_a_reason(tasks_project):
    gates = gates_of(tasks_project.rubric_version)
    assert gates.keys == GATES
    assert gates.reason_key == "rejection_reason"


def test_agreeing_humans_accept_a_task_when_every_gate_passes(tasks, people):
    rate(tasks[0], people["ann"], verdict())
    assert bucket(tasks[0]) == {"bucket": "undecided", "failing": [], "reason": None}
    rate(tasks[0], people["ben"], verdict())
    assert tasks[0].status == ItemStatus.APPROVED
    assert bucket(tasks[0]) == {"bucket": "accepted", "failing": [], "reason": None}


def test_agreeing_humans_reject_a_task_with_the_failing_criterion_and_reason(tasks, people):
    rate(tasks[1], people["ann"], verdict(fail="reliable", reason="implicit dependency"))
    rate(tasks[1], people["ben"], verdict(fail="reliable", reason="implicit dependency"))
    assert tasks[1].status == ItemStatus.APPROVED, "the decision is approved: the humans agree it fails"
    assert bucket(tasks[1]) == {"bucket": "rejected", "failing": ["reliable"], "reason": "implicit dependency"}


def test_disagreeing_humans_leave_it_undecided_until_a_reviewer_decides(tasks, people):
    rate(tasks[2], people["ann"], verdict())
    rate(tasks[2], people["ben"], verdict(fail="achievable", reason="underspecified requirement"))
    assert tasks[2].status == ItemStatus.NEEDS_REVIEW
    assert bucket(tasks[2])["bucket"] == "undecided"
    gold_set(
        item=tasks[2],
        reviewer=people["rev"],
        values=verdict(fail="achievable", reason="underspecified requirement"),
        rationales=WHY,
    )
    assert bucket(tasks[2]) == {"bucket": "rejected", "failing": ["achievable"], "reason": "underspecified requirement"}
    assert tasks[2].approved_by == ApprovedBy.REVIEWER


def test_a_trusted_judge_decides_tasks_without_human_ratings_when_the_policy_allows(tasks_project, tasks):
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    Rating.objects.create(
        item=tasks[3], rater=judge, rubric_version=tasks_project.rubric_version, values=verdict(), source="judge"
    )
    Rating.objects.create(
        item=tasks[4],
        rater=judge,
        rubric_version=tasks_project.rubric_version,
        values=verdict(fail="non_trivial", reason="trivial"),
        source="judge",
    )
    for key in (*GATES, "rejection_reason"):
        RaterTrust.objects.create(
            project=tasks_project,
            rater=judge,
            rubric_version=tasks_project.rubric_version,
            criterion_key=key,
            trusted=True,
        )
    items_decide(project=tasks_project, item_ids=[tasks[3].pk, tasks[4].pk])
    assert bucket(tasks[3])["bucket"] == "undecided", "judges approve only when the policy says so"
    policy_update(project=tasks_project, judge_may_approve=True)
    assert bucket(tasks[3]) == {"bucket": "accepted", "failing": [], "reason": None}
    assert bucket(tasks[4]) == {"bucket": "rejected", "failing": ["non_trivial"], "reason": "trivial"}
    assert tasks[4].approved_by == ApprovedBy.JUDGE


def test_a_managers_outright_rejection_puts_the_task_in_rejected(tasks, people, staff):
    item_reject(item=tasks[5], actor=staff, reason="duplicate of t0")
    assert bucket(tasks[5]) == {"bucket": "rejected", "failing": [], "reason": None}


@pytest.mark.both_databases
def test_the_queryset_filter_and_the_per_item_rule_agree(tasks_project, tasks, people, staff):
    rate(tasks[0], people["ann"], verdict())
    rate(tasks[0], people["ben"], verdict())
    rate(tasks[1], people["ann"], verdict(fail="reliable", reason="broken environment"))
    rate(tasks[1], people["ben"], verdict(fail="reliable", reason="broken environment"))
    rate(tasks[2], people["ann"], verdict())
    rate(tasks[2], people["ben"], verdict(fail="achievable"))
    item_reject(item=tasks[5], actor=staff, reason="spam")
    gates = gates_of(tasks_project.rubric_version)
    for name in BUCKETS:
        by_filter = set(
            tasks_project.items.filter(bucket_filter(gates=gates, bucket=name)).values_list("pk", flat=True)
        )
        by_rule = {t.pk for t in tasks if bucket(t)["bucket"] == name}
        assert by_filter == by_rule, name
    assert {t.external_id for t in tasks if bucket(t)["bucket"] == "rejected"} == {"t1", "t5"}


def test_the_items_api_filters_by_bucket_for_reviewers_only(tasks_project, tasks, people, client_for):
    rate(tasks[0], people["ann"], verdict())
    rate(tasks[0], people["ben"], verdict())
    rate(tasks[1], people["ann"], verdict(fail="reliable", reason="broken environment"))
    rate(tasks[1], people["ben"], verdict(fail="reliable", reason="broken environment"))
    url = f"/api/v1/projects/{tasks_project.pk}/items/"
    reviewer = client_for(people["rev"])

    accepted = reviewer.get(url, {"bucket": "accepted"})
    assert accepted.status_code == 200
    assert [r["external_id"] for r in accepted.data["results"]] == ["t0"]
    rejected = reviewer.get(url, {"bucket": "rejected"}).data["results"]
    assert [(r["external_id"], r["acceptance"]) for r in rejected] == [
        ("t1", {"bucket": "rejected", "failing": ["reliable"], "reason": "broken environment"})
    ]
    undecided = reviewer.get(url, {"bucket": "undecided"}).data["results"]
    assert [r["external_id"] for r in undecided] == ["t2", "t3", "t4", "t5"]

    bad = reviewer.get(url, {"bucket": "maybe"})
    assert bad.status_code == 400 and "bucket" in bad.data["errors"]
    annotator = client_for(people["ann"])
    assert annotator.get(url, {"bucket": "accepted"}).status_code == 403
    assert all(r["acceptance"] is None for r in annotator.get(url).data["results"]), "annotators stay blind"


def test_the_tasks_page_lists_a_bucket_with_its_failing_criteria(client, tasks_project, tasks, people):
    rate(tasks[1], people["ann"], verdict(fail="reliable", reason="broken environment"))
    rate(tasks[1], people["ben"], verdict(fail="reliable", reason="broken environment"))
    client.force_login(people["rev"])
    page = client.get(f"/projects/{tasks_project.pk}/tasks/", {"bucket": "rejected"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<h2 class="mono">t1</h2>' in html and "broken environment" in html
    assert "Failing: <strong>Reliable</strong>" in html
    assert '<h2 class="mono">t0</h2>' not in html  # not "t0" anywhere: a CSRF token may contain it
    client.force_login(people["ann"])
    assert client.get(f"/projects/{tasks_project.pk}/tasks/").status_code == 403


@pytest.mark.both_databases
def test_the_export_carries_the_bucket_in_every_format(tasks_project, tasks, people, client_for, staff):
    rate(tasks[0], people["ann"], verdict())
    rate(tasks[0], people["ben"], verdict())
    rate(tasks[1], people["ann"], verdict(fail="functionally_correct", reason="test mismatch"))
    rate(tasks[1], people["ben"], verdict(fail="functionally_correct", reason="test mismatch"))
    item_reject(item=tasks[5], actor=staff, reason="spam")
    client = client_for(staff)
    url = f"/api/v1/projects/{tasks_project.pk}/export/"
    # JSON Lines goes through the SQL path on PostgreSQL; CSV always through the Python records.
    jsonl = b"".join(client.get(url, {"status": "all"}).streaming_content).decode()
    from_jsonl = {r["external_id"]: r["acceptance"] for r in map(json.loads, jsonl.splitlines())}
    text = b"".join(client.get(url, {"status": "all", "format": "csv"}).streaming_content).decode()
    from_csv = {
        r["external_id"]: {
            "bucket": r["acceptance.bucket"],
            "failing": json.loads(r["acceptance.failing"]),
            "reason": r["acceptance.reason"] or None,
        }
        for r in csv.DictReader(io.StringIO(text))
    }
    assert from_jsonl == from_csv
    assert from_jsonl["t0"] == {"bucket": "accepted", "failing": [], "reason": None}
    assert from_jsonl["t1"] == {"bucket": "rejected", "failing": ["functionally_correct"], "reason": "test mismatch"}
    assert from_jsonl["t5"] == {"bucket": "rejected", "failing": [], "reason": None}
    assert from_jsonl["t2"] == {"bucket": "undecided", "failing": [], "reason": None}


def test_a_plain_project_has_no_acceptance_field_and_no_buckets(project, items, members, client_for, client, staff):
    """The shared fixture's rubric has an ordinary binary criterion ("correct"): not a gate. An
    approved item whose "correct" is false is simply approved, not a rejected task."""
    assert not gates_of(project.rubric_version)
    for user in (members["annotator"], members["annotator2"]):
        rating_submit(
            item=items[0],
            rater=rater_for_user(user=user),
            values={"helpfulness": 4, "correct": False, "tone": "ok"},
            rationales={"helpfulness": "fine"},
        )
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED and items[0].consensus["correct"] is False
    export = f"/api/v1/projects/{project.pk}/export/"
    api = client_for(staff)
    records = [json.loads(line) for line in b"".join(api.get(export).streaming_content).decode().splitlines()]
    assert [r["status"] for r in records] == ["approved"]
    assert "acceptance" not in records[0]
    header = b"".join(api.get(export, {"format": "csv"}).streaming_content).decode().splitlines()[0]
    assert "acceptance" not in header

    response = api.get(f"/api/v1/projects/{project.pk}/items/", {"bucket": "rejected"})
    assert response.status_code == 400
    assert response.data["errors"]["bucket"] == ["this project's rubric has no acceptance gates, so no buckets."]
    assert all(r["acceptance"] is None for r in api.get(f"/api/v1/projects/{project.pk}/items/").data["results"])
    client.force_login(staff)
    page = client.get(f"/projects/{project.pk}/tasks/").content.decode()
    assert "no acceptance gates" in page
    assert "Tasks</a>" not in client.get("/").content.decode(), "no Tasks button on the home page"


@pytest.mark.both_databases
def test_gate_keys_named_like_lookups_still_filter(staff):
    from rubrics.services import rubric_create

    version = rubric_create(
        actor=staff,
        name="Odd keys",
        criteria=[
            {"key": "in", "scale": {"kind": "binary"}, "gate": True},
            {"key": "contains", "scale": {"kind": "binary"}, "gate": True},
        ],
    )
    project = project_create(actor=staff, name="Odd", rubric=version, annotations_per_item=1)
    items_import(project=project, rows=[{"external_id": k, "data": {"x": k}} for k in ("yes", "no")])
    project.items.filter(external_id="yes").update(status=ItemStatus.APPROVED, consensus={"in": True, "contains": True})
    project.items.filter(external_id="no").update(status=ItemStatus.APPROVED, consensus={"in": True, "contains": False})
    gates = gates_of(version)
    accepted = project.items.filter(bucket_filter(gates=gates, bucket="accepted"))
    rejected = project.items.filter(bucket_filter(gates=gates, bucket="rejected"))
    assert [i.external_id for i in accepted] == ["yes"]
    assert [i.external_id for i in rejected] == ["no"]
