"""Consent (issue 16, point 9): nobody becomes a member, or is credited with imported ratings,
without saying yes. Managers invite and the invited person accepts; only staff add an account
directly; imported labels of anyone who is not a member go to an external rater of the project."""

import json

from annotation.models import Invitation, Membership, Rater, Rating, Role
from annotation.services.projects import membership_set, project_create

P = "/api/v1"


def _import_row(external_id, rater):
    return {
        "external_id": external_id,
        "rater": rater,
        "values": {"helpfulness": 4, "correct": True, "tone": "ok"},
        "rationales": {"helpfulness": "fine"},
    }


def test_a_manager_cannot_add_an_account_without_its_consent(client_for, project, members, make_user):
    victim = make_user("victim")
    response = client_for(members["manager"]).post(
        f"{P}/projects/{project.pk}/members/", {"user": "victim", "role": "annotator"}, format="json"
    )
    assert response.status_code == 403
    assert "invite" in response.json()["detail"]
    assert not Membership.objects.filter(project=project, user=victim).exists()


def test_staff_still_add_an_account_directly(client_for, project, staff, make_user):
    newcomer = make_user("newcomer")
    response = client_for(staff).post(
        f"{P}/projects/{project.pk}/members/", {"user": "newcomer", "role": "reviewer"}, format="json"
    )
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=newcomer).role == Role.REVIEWER


def test_a_manager_still_changes_the_role_of_a_member(client_for, project, members):
    response = client_for(members["manager"]).post(
        f"{P}/projects/{project.pk}/members/", {"user": "annotator", "role": "reviewer"}, format="json"
    )
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=members["annotator"]).role == Role.REVIEWER


def test_an_invitation_makes_a_member_only_once_accepted(client_for, project, members, make_user):
    invitee = make_user("invitee")
    manager = client_for(members["manager"])
    response = manager.post(
        f"{P}/projects/{project.pk}/invitations/", {"invitee": "invitee", "role": "reviewer"}, format="json"
    )
    assert response.status_code == 201, response.json()
    invitation_id = response.json()["id"]
    assert not Membership.objects.filter(project=project, user=invitee).exists()
    # Nobody else can answer it: not the manager, not another user.
    for other in (members["manager"], members["outsider"]):
        assert client_for(other).post(f"{P}/invitations/{invitation_id}/accept/").status_code == 404
    assert not Membership.objects.filter(project=project, user=invitee).exists()

    mine = client_for(invitee).get(f"{P}/invitations/").json()
    assert [(i["project_name"], i["role"]) for i in mine] == [("Project A", "reviewer")]
    assert client_for(invitee).post(f"{P}/invitations/{invitation_id}/accept/").status_code == 200
    assert Membership.objects.get(project=project, user=invitee).role == Role.REVIEWER
    # Answered: it cannot be answered again.
    assert client_for(invitee).post(f"{P}/invitations/{invitation_id}/decline/").status_code == 404


def test_a_declined_or_withdrawn_invitation_makes_nobody_a_member(client_for, project, members, make_user):
    invitee = make_user("invitee")
    manager = client_for(members["manager"])
    first = manager.post(f"{P}/projects/{project.pk}/invitations/", {"invitee": "invitee"}, format="json").json()
    assert client_for(invitee).post(f"{P}/invitations/{first['id']}/decline/").status_code == 200
    second = manager.post(f"{P}/projects/{project.pk}/invitations/", {"invitee": "invitee"}, format="json").json()
    assert manager.post(f"{P}/projects/{project.pk}/invitations/{second['id']}/cancel/").status_code == 204
    assert client_for(invitee).post(f"{P}/invitations/{second['id']}/accept/").status_code == 404
    assert not Membership.objects.filter(project=project, user=invitee).exists()


def test_an_invitation_by_e_mail_is_answered_by_the_account_with_that_address(client_for, project, members, make_user):
    owner = make_user("owner")
    owner.email = "Person@Example.org"
    owner.save()
    response = client_for(members["manager"]).post(
        f"{P}/projects/{project.pk}/invitations/", {"invitee": "person@example.org"}, format="json"
    )
    assert response.status_code == 201
    assert client_for(members["outsider"]).get(f"{P}/invitations/").json() == []
    assert client_for(owner).post(f"{P}/invitations/{response.json()['id']}/accept/").status_code == 200
    assert Membership.objects.get(project=project, user=owner).role == Role.ANNOTATOR


def test_invitations_refuse_bad_input_with_field_messages(client_for, project, members):
    manager = client_for(members["manager"])
    url = f"{P}/projects/{project.pk}/invitations/"
    assert "no user 'ghost'" in manager.post(url, {"invitee": "ghost"}, format="json").json()["errors"]["invitee"][0]
    assert (
        "already a member" in manager.post(url, {"invitee": "annotator"}, format="json").json()["errors"]["invitee"][0]
    )
    assert manager.post(url, {"invitee": "not@an@address"}, format="json").status_code == 400
    assert manager.post(url, {"invitee": "outsider"}, format="json").status_code == 201
    twice = manager.post(url, {"invitee": "outsider"}, format="json")
    assert twice.status_code == 400 and "pending invitation" in twice.json()["errors"]["invitee"][0]
    assert client_for(members["annotator"]).post(url, {"invitee": "outsider"}, format="json").status_code == 403
    assert Invitation.objects.count() == 1


def test_imported_ratings_are_never_credited_to_an_account_that_is_not_a_member(client_for, project, members, items):
    outsider = members["outsider"]
    response = client_for(members["manager"]).post(
        f"{P}/projects/{project.pk}/ratings/import/",
        [_import_row("x0", "outsider"), _import_row("x0", "Dr. Historic"), _import_row("x1", "annotator")],
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert not Rating.objects.filter(rater__user=outsider).exists()
    assert not Membership.objects.filter(project=project, user=outsider).exists()
    external = Rater.objects.filter(project=project).order_by("name")
    assert [(r.name, r.user_id, r.kind) for r in external] == [
        ("Dr. Historic", None, "human"),
        ("outsider", None, "human"),
    ]
    assert Rating.objects.get(item=items[1]).rater.user == members["annotator"]  # a member's own


def test_external_raters_are_scoped_to_their_project(client_for, project, members, items, staff, rubric_version):
    other = project_create(actor=staff, name="Project B", rubric=rubric_version)
    membership_set(project=other, user=members["manager"], role=Role.MANAGER)
    other.items.create(external_id="x0", data={"prompt": "p"})
    manager = client_for(members["manager"])
    for target in (project, other):
        response = manager.post(
            f"{P}/projects/{target.pk}/ratings/import/", [_import_row("x0", "Dr. Historic")], format="json"
        )
        assert response.status_code == 201, response.json()
    raters = Rater.objects.filter(name="Dr. Historic")
    assert sorted(r.project_id for r in raters) == sorted([project.pk, other.pk])


def test_export_pseudonyms_cover_external_raters(client_for, project, members, items, staff):
    response = client_for(members["manager"]).post(
        f"{P}/projects/{project.pk}/ratings/import/",
        [_import_row("x0", "Dr. Historic"), _import_row("x0", "annotator")],
        format="json",
    )
    assert response.status_code == 201
    exported = client_for(staff).get(f"{P}/projects/{project.pk}/export/", {"include": "ratings", "status": "all"})
    assert exported.status_code == 200
    raw = b"".join(exported.streaming_content).decode()
    assert "Dr. Historic" not in raw and '"annotator"' not in raw
    record = next(r for r in map(json.loads, raw.splitlines()) if r["external_id"] == "x0")
    pseudonyms = [r["rater"] for r in record["ratings"]]
    assert len(pseudonyms) == 2 and len(set(pseudonyms)) == 2
