import pytest
from django.core.exceptions import ValidationError

from annotation.models import Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.ratings import rating_submit
from rubrics.models import Rubric, RubricVersion
from rubrics.services import criteria_clean
from rubrics.templates import DEGENERATE_FAILURE_MODES, TEMPLATES, failure_class, rubric_from_template

BINARY_KEYS = ["achievable", "non_trivial", "functionally_correct", "reliable"]


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_it_ships_templates_that_pass_criteria_clean(key):
    template = TEMPLATES[key]
    assert template["name"] and template["instructions"]
    assert criteria_clean(template["criteria"])


def test_it_lists_templates_to_any_signed_in_user(client_for, make_user):
    response = client_for(make_user("someone")).get("/api/v1/rubric-templates/")
    assert response.status_code == 200
    body = response.json()
    assert [t["key"] for t in body] == ["agentic-task-acceptance", "agent-failure-mode"]
    assert {"key", "name", "instructions", "criteria"} <= set(body[0])
    assert client_for().get("/api/v1/rubric-templates/").status_code in {401, 403}


def test_it_creates_version_one_from_the_task_acceptance_template(client_for, staff):
    response = client_for(staff).post(
        "/api/v1/rubrics/from-template/", {"template": "agentic-task-acceptance"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["name"] == "Agentic task acceptance"
    criteria = {c["key"]: c for c in body["criteria"]}
    assert list(criteria) == [*BINARY_KEYS, "rejection_reason"]
    for key in BINARY_KEYS:
        assert criteria[key]["scale"]["kind"] == "binary"
        assert set(criteria[key]["scale"]["labels"]) == {"true", "false"}
        assert criteria[key]["rationale_required"] is True
    reason = criteria["rejection_reason"]
    assert reason["scale"]["kind"] == "categorical"
    assert reason["required"] is False
    assert "test mismatch" in reason["scale"]["choices"]
    version = RubricVersion.objects.get(pk=body["version_id"])
    assert version.rubric.created_by == staff
    assert version.criteria.count() == 5


def test_it_names_the_rubric_as_asked(client_for, staff):
    response = client_for(staff).post(
        "/api/v1/rubrics/from-template/", {"template": "agent-failure-mode", "name": "Failures Q4"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Failures Q4"
    assert [c["key"] for c in response.json()["criteria"]] == ["failure_mode", "note"]


def test_it_versions_a_template_rubric_like_any_other_once_rated(client_for, staff, make_user):
    version = rubric_from_template(actor=staff, template="agentic-task-acceptance")
    project = project_create(actor=staff, name="Tasks", rubric=version, annotations_per_item=1)
    annotator = make_user("reviewer1")
    membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
    items_import(project=project, rows=[{"external_id": "t1", "data": {"instruction": "Build it."}}])
    rating = rating_submit(
        item=project.items.get(),
        rater=rater_for_user(user=annotator),
        values={
            "achievable": False,
            "non_trivial": True,
            "functionally_correct": True,
            "reliable": True,
            "rejection_reason": "underspecified requirement",
        },
        rationales=dict.fromkeys(BINARY_KEYS, "Checked."),
    )
    criteria = client_for(staff).get(f"/api/v1/rubrics/{version.rubric_id}/").json()["criteria"]
    criteria[4]["scale"]["choices"].append("flaky tests")

    response = client_for(staff).put(
        f"/api/v1/rubrics/{version.rubric_id}/",
        {"name": "Agentic task acceptance", "criteria": criteria},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    assert "flaky tests" in response.json()["criteria"][4]["scale"]["choices"]
    rating.refresh_from_db()
    assert rating.rubric_version_id == version.pk
    assert "flaky tests" not in version.criteria.get(key="rejection_reason").scale["choices"]


def test_it_answers_an_unknown_template_with_400_naming_template(client_for, staff):
    response = client_for(staff).post("/api/v1/rubrics/from-template/", {"template": "nope"}, format="json")
    assert response.status_code == 400
    messages = response.json()["errors"]["template"]
    assert "agentic-task-acceptance" in messages[0] and "agent-failure-mode" in messages[0]
    assert not Rubric.objects.exists()


def test_it_raises_a_template_error_from_the_service(staff):
    with pytest.raises(ValidationError) as caught:
        rubric_from_template(actor=staff, template="nope")
    assert "template" in caught.value.error_dict


def test_it_lets_only_staff_or_permitted_users_create_from_a_template(client_for, members):
    response = client_for(members["annotator"]).post(
        "/api/v1/rubrics/from-template/", {"template": "agent-failure-mode"}, format="json"
    )
    assert response.status_code == 403
    assert not Rubric.objects.filter(name="Agent failure mode").exists()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("test mismatch", "degenerate"),
        ("environment issue", "degenerate"),
        ("logic error", "meaningful"),
        ("timeout", "meaningful"),
        ("other", "meaningful"),
    ],
)
def test_it_classes_failure_modes(mode, expected):
    assert failure_class(mode) == expected


def test_it_only_calls_template_choices_degenerate():
    choices = TEMPLATES["agent-failure-mode"]["criteria"][0]["scale"]["choices"]
    assert set(choices) >= DEGENERATE_FAILURE_MODES
    assert all(failure_class(c) == "meaningful" for c in set(choices) - DEGENERATE_FAILURE_MODES)


def test_it_links_the_admin_changelist_to_the_template_view(admin_client):
    page = admin_client.get("/admin/rubrics/rubric/")
    assert page.status_code == 200
    assert b"/admin/rubrics/rubric/from-template/" in page.content


def test_it_creates_a_rubric_from_a_template_in_the_admin(admin_client, admin_user):
    page = admin_client.get("/admin/rubrics/rubric/from-template/")
    assert page.status_code == 200
    assert b"Agentic task acceptance" in page.content and b"Agent failure mode" in page.content

    response = admin_client.post(
        "/admin/rubrics/rubric/from-template/", {"template": "agentic-task-acceptance", "name": "Batch 7"}
    )
    version = RubricVersion.objects.get(rubric__name="Batch 7")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/rubrics/rubricversion/{version.pk}/change/"
    assert version.number == 1
    assert version.rubric.created_by == admin_user
    assert [c.key for c in version.criteria.all()] == [*BINARY_KEYS, "rejection_reason"]


def test_it_rejects_an_unknown_template_in_the_admin(admin_client):
    response = admin_client.post("/admin/rubrics/rubric/from-template/", {"template": "nope"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Rubric.objects.exists()


def test_it_keeps_the_admin_template_view_from_users_who_cannot_add_rubrics(client, make_user):
    user = make_user("clerk", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/rubrics/rubric/from-template/").status_code == 403
