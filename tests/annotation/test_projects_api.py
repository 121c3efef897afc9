from annotation.models import Membership, Project, Role


def test_it_creates_a_project_pinned_to_the_latest_version_with_the_creator_as_manager(
    client_for, staff, rubric_version
):
    response = client_for(staff).post(
        "/api/v1/projects/",
        {"name": "P", "rubric": rubric_version.rubric_id, "guidelines": "# Be kind", "annotations_per_item": 3},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rubric_version"] == 1
    assert body["annotations_per_item"] == 3
    assert Membership.objects.get(project_id=body["id"], user=staff).role == Role.MANAGER


def test_it_validates_project_fields(client_for, staff, rubric_version):
    response = client_for(staff).post(
        "/api/v1/projects/", {"name": "", "rubric": 999, "annotations_per_item": 0}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"name", "annotations_per_item"}
    response = client_for(staff).post("/api/v1/projects/", {"name": "P", "rubric": 999}, format="json")
    assert response.status_code == 400
    assert "rubric" in response.json()["errors"]
    assert not Project.objects.exists()


def test_it_lists_only_my_projects(client_for, project, members, make_user):
    assert [p["name"] for p in client_for(members["annotator"]).get("/api/v1/projects/").json()] == ["Project A"]
    assert client_for(members["outsider"]).get("/api/v1/projects/").json() == []
    assert client_for(members["outsider"]).get(f"/api/v1/projects/{project.pk}/").status_code == 403


def test_it_lets_staff_add_members_and_managers_change_roles(client_for, project, members, make_user, staff):
    newcomer = make_user("newcomer")
    manager = client_for(members["manager"])
    url = f"/api/v1/projects/{project.pk}/members/"
    # Managers invite; only staff add an account directly (tests/security/test_consent.py).
    assert manager.post(url, {"user": "newcomer", "role": "annotator"}, format="json").status_code == 403
    response = client_for(staff).post(url, {"user": "newcomer", "role": "annotator"}, format="json")
    assert response.status_code == 201
    assert manager.post(url, {"user": newcomer.pk, "role": "reviewer"}, format="json").status_code == 201
    assert Membership.objects.get(project=project, user=newcomer).role == Role.REVIEWER
    assert manager.post(url, {"user": "nobody", "role": "annotator"}, format="json").status_code == 400
    assert manager.post(url, {"user": "newcomer", "role": "owner"}, format="json").status_code == 400


def test_it_stops_annotators_from_raising_their_own_role(client_for, project, members):
    annotator = members["annotator"]
    response = client_for(annotator).post(
        f"/api/v1/projects/{project.pk}/members/", {"user": annotator.pk, "role": "manager"}, format="json"
    )
    assert response.status_code == 403
    assert Membership.objects.get(project=project, user=annotator).role == Role.ANNOTATOR


def test_it_upgrades_a_project_to_another_rubric_version_only_when_asked(client_for, project, members, staff):
    from rubrics.services import rubric_version_copy

    v2 = rubric_version_copy(actor=staff, version=project.rubric_version)
    manager = client_for(members["manager"])
    response = manager.patch(f"/api/v1/projects/{project.pk}/", {"rubric_version": 2}, format="json")
    assert response.status_code == 200, response.json()
    project.refresh_from_db()
    assert project.rubric_version_id == v2.pk
    assert manager.patch(f"/api/v1/projects/{project.pk}/", {"rubric_version": 9}, format="json").status_code == 400
