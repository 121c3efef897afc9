"""The triage parts of the policy page and the dashboard, as a (non-staff) manager uses them in
Chromium: who labels the audit (previewed, then saved), Fit now for the posterior rule, and the
audit's progress with its link to a review round of audit items only."""

import pytest

from annotation.models import Gold, Rater, RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from quality.selectors.policy import policy_for
from quality.services.audit import audit_sample_draw
from tests.conftest import GOOD_RATIONALES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}


def test_a_manager_sends_the_audit_to_a_reviewer_fits_the_rule_and_follows_the_audit(
    open_page, members, project, screenshots
):
    assert not members[Role.MANAGER].is_staff
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(10)])
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge <b>v1</b>", version=1)
    dist = {"helpfulness": {"4": 0.9, "3": 0.1}, "correct": {"true": 0.9, "false": 0.1}, "tone": {"ok": 1.0}}
    audit_sample_draw(project=project, size=3, seed=11)
    for item in project.items.filter(audit_rank__isnull=True).order_by("id")[:6]:
        Rating.objects.create(item=item, rater=judge, rubric_version=project.rubric_version, values=VALUES,
                              source="judge", distribution=dist, confidence=0.9)  # fmt: skip
        for who in (Role.ANNOTATOR, "annotator2"):
            rating_submit(item=item, rater=rater_for_user(user=members[who]), values=VALUES,
                          rationales=GOOD_RATIONALES)  # fmt: skip
        Gold.objects.create(item=item, rubric_version=project.rubric_version, values=VALUES)

    page = open_page(members[Role.MANAGER])
    assert page.goto(f"/projects/{project.pk}/settings/policy/").status == 200
    assert page.locator("#fit-when").inner_text() == "Never fitted yet."
    page.get_by_label("A reviewer only").check()
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview-audit").inner_text()
    assert preview == "Of the audit sample's 3 items, 3 would wait for a reviewer's gold."
    assert page.get_by_label("A reviewer only").is_checked(), "the previewed choice stays chosen"
    page.get_by_role("button", name="Save policy").click()
    assert "Policy saved" in page.locator(".flash-success").inner_text()
    assert policy_for(project=project).audit_labelled_by == "reviewer"

    page.get_by_role("button", name="Fit now").click()
    assert (
        "Posterior rule fitted on 6 gold item(s) and 12 human rating(s)" in page.locator(".flash-success").inner_text()
    )
    card = page.locator("#posterior-fit")
    assert "judge <b>v1</b>" in card.inner_text(), "the judge's name is shown as text, not markup"
    assert "on 6 gold items and 12 human ratings" in card.locator("#fit-when").inner_text()
    assert card.locator("#fit-criteria tbody tr").count() == 3
    page.evaluate("document.querySelector('header.top').style.position = 'static'")
    card.screenshot(path=str(screenshots / "policy-posterior-fit.png"))

    page.goto(f"/projects/{project.pk}/dashboard/")
    progress = page.locator("#audit-progress")
    assert "3 items drawn" in progress.inner_text()
    assert "(a reviewer labels the audit alone)" in progress.inner_text()
    waiting = int(progress.locator("[data-field=audit-waiting]").inner_text())
    assert waiting == 3
    progress.get_by_role("link", name="Review the audit's items").click()
    assert f"{waiting} left to review in the audit sample" in page.locator("#review-left").inner_text()
    shown = page.locator("h1 .mono").inner_text()
    assert project.items.get(external_id=shown).audit_rank is not None
