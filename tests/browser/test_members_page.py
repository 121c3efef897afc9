"""The members page in headless Chromium, as a manager who is not staff: invite by username and by
e-mail, the invited people accept or decline on their invitations page, change a role, remove a
member; no way to add an account directly. Screenshot: docs/screenshots/members.png."""

import pytest

from annotation.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_invites_and_the_invited_accept(open_page, project, members, make_user, screenshots):
    manager = members["manager"]
    assert not manager.is_staff
    alice = make_user("alice")
    bob = make_user("bob")
    bob.email = "bob@example.org"
    bob.save()
    page = open_page(manager)
    page.goto(f"/projects/{project.pk}/settings/")
    page.click("#settings-members a")
    page.wait_for_url("**/members/")
    assert page.locator("#add-username").count() == 0, "only staff add an account directly"

    page.fill("#invitee", "nobody-here")
    page.press("#invitee", "Enter")
    page.locator("#invitee-errors").get_by_text("no user 'nobody-here'").wait_for()
    page.fill("#invitee", "alice")
    page.select_option("#invite-role", "reviewer")
    page.click("text=Send invitation")
    page.get_by_text("Invited alice as reviewer.").wait_for()
    page.fill("#invitee", "bob@example.org")
    page.click("text=Send invitation")
    page.get_by_text("Invited bob@example.org as annotator.").wait_for()
    assert page.locator("table.invitations tbody tr").count() == 2
    assert not Membership.objects.filter(user__in=[alice, bob]).exists()

    annotator = members["annotator"]
    page.select_option(f"#role-{annotator.pk}", "reviewer")
    page.locator('tr[data-user="annotator"] button:has-text("Change role")').click()
    page.get_by_text("annotator is now reviewer.").wait_for()
    page.click('button[aria-label="Remove annotator2"]')
    page.get_by_text("Member removed").wait_for()
    page.screenshot(path=str(screenshots / "members.png"), full_page=True)

    as_alice = open_page(alice)
    as_alice.goto("/")
    as_alice.click("text=Invitations")
    as_alice.wait_for_url("**/invitations/")
    as_alice.click(f'button[aria-label="Accept the invitation to {project.name}"]')
    as_alice.get_by_text(f"You joined {project.name} as reviewer.").wait_for()
    as_bob = open_page(bob)
    as_bob.goto("/invitations/")
    as_bob.click(f'button[aria-label="Decline the invitation to {project.name}"]')
    as_bob.get_by_text("You declined").wait_for()

    assert Membership.objects.get(project=project, user=alice).role == Role.REVIEWER
    assert not Membership.objects.filter(project=project, user=bob).exists()
    assert Membership.objects.get(project=project, user=annotator).role == Role.REVIEWER
    assert not Membership.objects.filter(project=project, user=members["annotator2"]).exists()
