"""The new-project, members and invitations pages through Django's test client: who may use them,
inline field errors with nothing saved, escaping, and the same consent rules as the API."""

from django.contrib.auth.models import Permission
from django.test import Client

from annotation.models import Invitation, InvitationStatus, Membership, Project, Role


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_new_project_page_is_for_those_the_api_lets_create_projects(project, members, rubric_version):
    manager = members["manager"]
    assert page_client(manager).get("/projects/new/").status_code == 403
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    page = page_client(manager).get("/projects/new/")
    assert page.status_code == 200
    # The rubric is visible to the manager through project A, so it is offered.
    assert f'value="{rubric_version.pk}"' in page.content.decode()


def test_the_new_project_page_shows_errors_beside_fields_and_saves_nothing(staff, rubric_version):
    client = page_client(staff)
    response = client.post(
        "/projects/new/", {"name": " ", "rubric_version": rubric_version.pk, "annotations_per_item": "99"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="name-errors"' in html and "name is required" in html
    response = client.post(
        "/projects/new/", {"name": "X", "rubric_version": rubric_version.pk, "annotations_per_item": "99"}
    )
    assert response.status_code == 400 and "from 1 to 50" in response.content.decode()
    assert not Project.objects.exists()
    response = client.post(
        "/projects/new/",
        {"name": "<b>New</b>", "rubric_version": rubric_version.pk, "annotations_per_item": "2", "lease_minutes": "30"},
    )
    project = Project.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/members/"
    assert (project.name, project.annotations_per_item, project.rubric_version) == ("<b>New</b>", 2, rubric_version)
    assert Membership.objects.get(project=project).role == Role.MANAGER
    members_page = client.get(response["Location"]).content.decode()
    assert "&lt;b&gt;New&lt;/b&gt;" in members_page and "<b>New</b>" not in members_page


def test_a_rubric_the_user_cannot_see_is_refused(project, make_user, staff):
    from rubrics.services import rubric_create
    from tests.conftest import CRITERIA

    creator = make_user("creator")
    creator.user_permissions.add(Permission.objects.get(codename="add_project"))
    hidden = rubric_create(actor=staff, name="Hidden", criteria=CRITERIA)
    response = page_client(creator).post("/projects/new/", {"name": "Mine", "rubric_version": hidden.pk})
    assert response.status_code == 400 and "choose a rubric version" in response.content.decode()
    assert not Project.objects.filter(name="Mine").exists()


def test_the_members_page_is_for_managers(project, members):
    url = f"/projects/{project.pk}/members/"
    for role in ("annotator", "reviewer", "outsider"):
        assert page_client(members[role]).get(url).status_code == 403
    assert page_client(members["manager"]).get(url).status_code == 200


def test_a_manager_invites_changes_roles_and_removes_but_cannot_add_directly(project, members, make_user):
    newcomer = make_user("newcomer")
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/members/"
    assert client.post(url, {"action": "add", "username": "newcomer", "role": "annotator"}).status_code == 403
    assert not Membership.objects.filter(user=newcomer).exists()
    assert client.post(url, {"action": "invite", "invitee": "newcomer", "role": "reviewer"}).status_code == 302
    assert Invitation.objects.get(user=newcomer).status == InvitationStatus.PENDING
    assert not Membership.objects.filter(user=newcomer).exists()
    bad = client.post(url, {"action": "invite", "invitee": "<i>ghost</i>", "role": "annotator"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'id="invitee-errors"' in html and "&lt;i&gt;ghost&lt;/i&gt;" in html and "<i>ghost</i>" not in html
    annotator = members["annotator"]
    assert client.post(url, {"action": "role", "user": annotator.pk, "role": "reviewer"}).status_code == 302
    assert Membership.objects.get(project=project, user=annotator).role == Role.REVIEWER
    assert client.post(url, {"action": "remove", "user": annotator.pk}).status_code == 302
    assert not Membership.objects.filter(project=project, user=annotator).exists()
    # The last manager stays (the project's creator, staff, is its other manager).
    assert client.post(url, {"action": "remove", "user": project.created_by_id}).status_code == 302
    last = client.post(url, {"action": "remove", "user": members["manager"].pk})
    assert last.status_code == 400 and "at least one manager" in last.content.decode()


def test_the_invited_person_accepts_on_their_invitations_page(project, members, make_user):
    newcomer = make_user("newcomer")
    page_client(members["manager"]).post(
        f"/projects/{project.pk}/members/", {"action": "invite", "invitee": "newcomer", "role": "reviewer"}
    )
    invitation = Invitation.objects.get()
    # Someone else cannot answer it.
    page_client(members["outsider"]).post(f"/invitations/{invitation.pk}/answer/", {"answer": "accept"})
    assert not Membership.objects.filter(user=members["outsider"], project=project).exists()
    client = page_client(newcomer)
    assert "Project A" in client.get("/invitations/").content.decode()
    response = client.post(f"/invitations/{invitation.pk}/answer/", {"answer": "accept"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=newcomer).role == Role.REVIEWER


def test_forms_are_csrf_protected(project, members):
    client = Client(enforce_csrf_checks=True)
    client.force_login(members["manager"])
    url = f"/projects/{project.pk}/members/"
    assert client.post(url, {"action": "invite", "invitee": "outsider", "role": "annotator"}).status_code == 403
    assert not Invitation.objects.exists()
    assert 'name="csrfmiddlewaretoken"' in client.get(url).content.decode()


def test_the_members_page_lists_external_raters_escaped(client_for, project, members, items):
    row = {
        "external_id": "x0",
        "rater": "<b>Dr. Old</b>",
        "values": {"helpfulness": 4, "correct": True, "tone": "ok"},
        "rationales": {"helpfulness": "fine"},
    }
    client_for(members["manager"]).post(f"/api/v1/projects/{project.pk}/ratings/import/", [row], format="json")
    html = page_client(members["manager"]).get(f"/projects/{project.pk}/members/").content.decode()
    section = html[html.index('id="external-raters"') :]
    assert "&lt;b&gt;Dr. Old&lt;/b&gt;</td><td>1</td>" in section and "<b>Dr. Old</b>" not in html
