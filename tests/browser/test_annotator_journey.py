"""An annotator's session in Chromium, by keyboard only: rate five items, go back to the last one,
change an answer and find the old one in its history, skip an item and take the skip back; and
the queue page that waits for an item someone else holds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Rating, RatingChange, Skip
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import project_update
from annotation.services.queue import assignment_claim_next, assignment_skip
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_item(page) -> int:
    return int(page.locator("#rating-form input[name=item]").get_attribute("value"))


def focused_name(page) -> str | None:
    return page.evaluate("() => document.activeElement && document.activeElement.name")


def rate_by_keyboard(page, helpfulness: int, why: str) -> None:
    """Pick a value per criterion; each choice moves the focus on by itself; Enter submits."""
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    keyboard = page.keyboard
    keyboard.press(str(helpfulness))
    assert focused_name(page) == "rationale-helpfulness", "a required rationale comes next"
    keyboard.type(why)
    keyboard.press("Tab")
    keyboard.press("1")  # correct: Yes
    assert focused_name(page) == "value-tone", "no Tab needed between criteria"
    keyboard.press("1")  # tone: ok
    with page.expect_navigation():
        keyboard.press("Enter")


def test_an_annotator_rates_goes_back_changes_an_answer_and_takes_a_skip_back(open_page, members, project):
    items_import(
        project=project, rows=[{"external_id": f"q{i}", "data": {"prompt": f"Question {i}?"}} for i in range(8)]
    )
    user = members["annotator"]
    page = open_page(user)
    page.goto(f"/projects/{project.pk}/annotate/")
    assert page.locator("#queue-left").inner_text() == "8 left in my queue"

    rated = []
    for n in range(5):
        rated.append(shown_item(page))
        rate_by_keyboard(page, 4, f"Reason {n}.")
        assert page.get_by_text("Saved your rating").is_visible()
    assert page.locator("#done-today").inner_text() == "5 done today"
    assert page.locator("#queue-left").inner_text() == "3 left in my queue"
    assert sorted(Rating.objects.filter(rater__user=user).values_list("item_id", flat=True)) == sorted(rated)

    # ← goes back to the item just submitted, with its answers.
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert page.url.endswith(f"/annotate/{rated[-1]}/")
    assert page.locator("#editing").is_visible()
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    page.keyboard.press("2")  # a change of mind: helpfulness 4 → 2 (its rationale is there, so on to "correct")
    assert focused_name(page) == "value-correct"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("Changed your rating").is_visible()
    assert Rating.objects.get(item_id=rated[-1], rater__user=user).values["helpfulness"] == 2

    # Back again (Backspace this time): the old answer is in the history.
    with page.expect_navigation():
        page.keyboard.press("Backspace")
    history = page.locator("#history")
    assert "4" in history.locator("del").first.inner_text() and "2" in history.locator("ins").first.inner_text()
    assert RatingChange.objects.get().values_before["helpfulness"] == 4
    with page.expect_navigation():
        page.keyboard.press("ArrowRight")  # back to the queue
    assert page.url.endswith(f"/projects/{project.pk}/annotate/")

    # Skip the next item, then take the skip back and rate it.
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    skipped = shown_item(page)
    page.keyboard.press("s")
    page.keyboard.type("need to check a source")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert Skip.objects.filter(item_id=skipped, user=user).exists()
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert page.locator("#skipped").is_visible()
    with page.expect_navigation():
        page.keyboard.press("u")
    assert not Skip.objects.filter(user=user).exists()
    assert shown_item(page) == skipped
    rate_by_keyboard(page, 5, "Checked the source.")
    assert Rating.objects.get(item_id=skipped, rater__user=user).values == {
        "helpfulness": 5,
        "correct": True,
        "tone": "ok",
    }
    assert page.get_by_text("Saved your rating").is_visible()
    assert page.dialogs == []


def test_the_queue_page_waits_for_an_item_someone_else_holds_then_shows_it(open_page, members, project):
    """Overlap 1, two items: one rated, the other leased by someone else. The page says it is
    waiting (not "all done") and asks again by itself; once the holder skips, the item shows."""
    project = project_update(project=project, annotations_per_item=1)
    items_import(project=project, rows=[{"external_id": f"w{i}", "data": {"prompt": f"Wait {i}?"}} for i in range(2)])
    held = assignment_claim_next(project=project, user=members["annotator2"])
    user = members["annotator"]
    mine = assignment_claim_next(project=project, user=user)
    rating_submit(item=mine.item, rater=rater_for_user(user=user), values=GOOD_VALUES, rationales=GOOD_RATIONALES)
    # A lease about to lapse keeps the page's retry short (retry_after follows the soonest lease).
    Assignment.objects.filter(pk=held.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    page = open_page(user)
    page.goto(f"/projects/{project.pk}/annotate/")
    assert page.locator("#queue-waiting").is_visible()
    assert page.get_by_text("Waiting for items others hold").is_visible()
    assert not page.get_by_text("Nothing left to annotate").is_visible()

    assignment_skip(project=project, user=members["annotator2"], item=held.item, reason="not mine")
    page.wait_for_selector("#rating-form", timeout=10_000)  # the page asked again and got the item
    assert shown_item(page) == held.item_id
    assert page.dialogs == []
