"""The rubric builder in headless Chromium, as a manager who is not staff (with the 'add rubric'
permission, as the API asks): build a rubric with ordinal, binary and categorical criteria by
mouse and keyboard, watch the annotator form preview, fix an inline error, reorder by keyboard
and by drag, save a draft, publish, start a new version, compare, and pin a project to it.
Screenshots: docs/screenshots/rubric-builder.png, rubric-pin.png."""

import pytest
from django.contrib.auth.models import Permission

from annotation.models import Project, Role
from annotation.selectors import rater_for_user
from annotation.services.projects import membership_set
from annotation.services.ratings import rating_submit
from rubrics.models import Rubric
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_builds_publishes_and_pins_a_rubric(open_page, make_user, project, members, items, screenshots):
    manager = make_user("builder")
    manager.user_permissions.add(Permission.objects.get(codename="add_rubric"))
    membership_set(project=project, user=manager, role=Role.MANAGER)
    assert not manager.is_staff
    page = open_page(manager)
    page.goto("/rubrics/")
    page.click("text=New rubric")
    page.wait_for_url("**/rubrics/new/")
    page.fill("#name", "Answer quality")
    page.fill("#instructions", "Read the whole answer first.")

    first = page.locator("[data-card]").nth(0)
    first.locator('[data-role="title"]').fill("Helpfulness")
    assert first.locator('[data-role="key"]').input_value() == "helpfulness"  # filled from the title
    anchors = first.locator("input[data-point]")
    assert anchors.count() == 5  # 1..5, the default ordinal range
    for point, text in enumerate(["Useless", "Weak", "Adequate", "Good", "Excellent"]):
        anchors.nth(point).fill(text)
    first.locator('[data-role="max"]').fill("4")
    assert anchors.count() == 4, "one anchor field per point"
    page.locator("#preview").get_by_text("Adequate").wait_for()
    assert page.locator('#preview input[name="value-helpfulness"]').count() == 4

    page.click("#add-criterion")
    second = page.locator("[data-card]").nth(1)
    second.locator('[data-role="title"]').fill("Correct")
    second.locator('[data-role="kind"]').select_option("binary")
    assert second.locator('.kind-fields[data-kind="binary"]').is_visible()
    assert not second.locator('[data-role="min"]').is_visible(), "only the binary fields show"
    second.locator("input[name$=-label_true]").fill("No false claim")
    second.locator("input[name$=-gate]").check()

    page.click("#add-criterion")
    third = page.locator("[data-card]").nth(2)
    third.locator('[data-role="title"]').fill("Tone")
    third.locator('[data-role="kind"]').select_option("categorical")
    third.locator("textarea[name$=-choices]").fill("friendly\nneutral\nrude")
    third.locator('[data-role="key"]').fill("bad key")
    third.locator('[data-error-for="key"]').get_by_text("key must be a slug").wait_for()
    third.locator('[data-role="key"]').fill("tone")
    page.locator("#preview").get_by_text("rude").wait_for()
    assert third.locator('[data-error-for="key"]').inner_text() == ""

    # Keyboard: Tone up one place (Alt+↑); drag: Correct's grip back above Tone.
    third.locator('[data-role="title"]').focus()
    page.keyboard.press("Alt+ArrowUp")
    titles = page.locator('[data-card] [data-role="card-title"]')
    assert titles.all_inner_texts() == ["Helpfulness", "Tone", "Correct"]
    tone = page.locator("[data-card]").nth(1)
    tone.locator("header").scroll_into_view_if_needed()
    grip = page.locator('[data-card]:has-text("Correct") [data-role="grip"]').bounding_box()
    target = tone.locator("label[for$=-description]").bounding_box()  # below the page's sticky header
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 20, target["y"] + target["height"] / 2, steps=8)
    page.mouse.up()
    assert titles.all_inner_texts() == ["Helpfulness", "Correct", "Tone"]
    page.locator("#preview").get_by_text("friendly").wait_for()
    page.wait_for_timeout(500)  # the preview settles
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "rubric-builder.png"))

    page.click("#save-draft")
    page.wait_for_url("**/v/1/")
    rubric = Rubric.objects.get(name="Answer quality")
    version = rubric.latest_version()
    assert [c.key for c in version.criteria.all()] == ["helpfulness", "correct", "tone"]
    by_key = {c.key: c for c in version.criteria.all()}
    assert by_key["helpfulness"].scale["labels"] == {"1": "Useless", "2": "Weak", "3": "Adequate", "4": "Good"}
    assert by_key["correct"].gate and by_key["tone"].scale["choices"] == ["friendly", "neutral", "rude"]

    page.click("#publish")
    page.click("#publish-confirm")
    page.locator(".flash-success").get_by_text("is published").wait_for()
    assert page.locator('input[name^="c-"]').count() == 0, "a published version is read-only"
    page.click("#new-version")
    page.wait_for_url("**/v/2/")
    page.locator("[data-card]").nth(2).locator('[data-action="remove"]').click()
    page.click("#save-draft")
    page.wait_for_url("**/v/2/")
    page.click("text=Compare versions")
    page.wait_for_url("**/diff/")
    assert page.locator('tr[data-change="removed"]').inner_text().startswith("tone")

    rating_submit(item=items[0], rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES,
                  rationales=GOOD_RATIONALES)  # fmt: skip
    page.goto(f"/projects/{project.pk}/rubric/")
    page.select_option("#version", label="Answer quality · version 1")
    page.click("text=Continue…")
    page.locator("#pin-confirm").wait_for()
    assert "The 1 rating made under Quality v1 stays stored" in page.locator("#pin-confirm").inner_text()
    page.screenshot(path=str(screenshots / "rubric-pin.png"))
    page.click("#confirm-pin")
    page.get_by_text("now uses Answer quality v1").wait_for()
    assert Project.objects.get(pk=project.pk).rubric_version == version
    assert page.dialogs == []
