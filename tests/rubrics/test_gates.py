"""Acceptance gates are criteria marked as such: only binary ones, the template marks its four,
and the data migration marks the template rubrics that existed before the flag."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from rubrics.gates import gates_of
from rubrics.models import Criterion as CriterionNow
from rubrics.models import RubricVersion
from rubrics.templates import rubric_from_template


def test_a_gate_is_a_binary_criterion_marked_gate(client_for, staff):
    criteria = [
        {"key": "passes", "scale": {"kind": "binary"}, "gate": True},
        {"key": "concise", "scale": {"kind": "binary"}},
        {"key": "score", "scale": {"kind": "ordinal", "min": 1, "max": 3}},
    ]
    response = client_for(staff).post("/api/v1/rubrics/", {"name": "R", "criteria": criteria}, format="json")
    assert response.status_code == 201, response.json()
    assert [c["gate"] for c in response.json()["criteria"]] == [True, False, False]
    assert gates_of(RubricVersion.objects.get(pk=response.json()["version_id"])).keys == ("passes",)


def test_only_a_binary_criterion_can_be_a_gate(client_for, staff):
    criteria = [{"key": "score", "scale": {"kind": "ordinal", "min": 1, "max": 3}, "gate": True}]
    response = client_for(staff).post("/api/v1/rubrics/", {"name": "R", "criteria": criteria}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["criteria"] == [
        "criteria[0].gate: only a binary (yes/no) criterion can be an acceptance gate."
    ]
    bad_flag = [{"key": "ok", "scale": {"kind": "binary"}, "gate": "yes"}]
    response = client_for(staff).post("/api/v1/rubrics/", {"name": "R", "criteria": bad_flag}, format="json")
    assert response.json()["errors"]["criteria"] == ["criteria[0].gate: gate must be true or false."]


def test_the_task_acceptance_template_marks_its_four_gates(staff):
    version = rubric_from_template(actor=staff, template="agentic-task-acceptance")
    assert [c.key for c in version.criteria.all() if c.gate] == [
        "achievable",
        "non_trivial",
        "functionally_correct",
        "reliable",
    ]
    assert not gates_of(rubric_from_template(actor=staff, template="agent-failure-mode"))


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_the_gates_of_template_rubrics_only():
    executor = MigrationExecutor(connection)
    executor.migrate([("rubrics", "0001_initial")])
    apps = executor.loader.project_state([("rubrics", "0001_initial")]).apps
    Rubric, Version, Criterion = (apps.get_model("rubrics", m) for m in ("Rubric", "RubricVersion", "Criterion"))

    def version_with(name: str, criteria: list[tuple[str, dict]]):
        version = Version.objects.create(rubric=Rubric.objects.create(name=name), number=1)
        for position, (key, scale) in enumerate(criteria):
            Criterion.objects.create(version=version, position=position, key=key, title=key, scale=scale)
        return version.pk

    binary = {"kind": "binary"}
    reason = {"kind": "categorical", "choices": ["trivial", "other"]}
    template = version_with("from the template", [("achievable", binary), ("rejection_reason", reason)])
    four = version_with(
        "four gate keys",
        [(k, binary) for k in ("achievable", "non_trivial", "functionally_correct", "reliable", "tidy")],
    )
    plain = version_with("plain", [("correct", binary), ("reliable", binary)])

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    gates = set(CriterionNow.objects.filter(gate=True).values_list("version_id", "key"))
    assert gates == {
        (template, "achievable"),
        (four, "achievable"),
        (four, "non_trivial"),
        (four, "functionally_correct"),
        (four, "reliable"),
    }
    assert not any(version == plain for version, _ in gates)
