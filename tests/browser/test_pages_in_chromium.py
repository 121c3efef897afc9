"""The annotate and review pages in headless Chromium: keyboard rating, drafts, skip, review, XSS."""

import pytest

from annotation.models import Draft, Gold, Rater, RaterKind, Rating, Skip
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_VALUES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def leased_item_id(page) -> int:
    return int(page.locator("#rating-form input[name=item]").get_attribute("value"))


def wait_for_helpfulness_focus(page) -> None:
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")


def open_annotate(open_page, user, project):
    """The annotate page as ``user``, its first criterion focused; returns it and the leased item's id."""
    page = open_page(user)
    page.goto(f"/projects/{project.pk}/annotate/")
    item_id = leased_item_id(page)
    wait_for_helpfulness_focus(page)
    return page, item_id


def checked_value(page, key: str) -> str | None:
    return page.evaluate(
        "key => { const r = document.querySelector(`input[name='value-${key}']:checked`); return r && r.value; }", key
    )


def test_it_logs_in_and_rates_two_items_with_the_keyboard_only(open_page, members, project, rich_items, screenshots):
    user = members["annotator"]
    page = open_page()
    page.goto(f"/projects/{project.pk}/annotate/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "correct-horse-battery")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{project.pk}/annotate/")
    wait_for_helpfulness_focus(page)

    rated = []
    for helpfulness in (4, 2):
        item_id = leased_item_id(page)
        rated.append(item_id)
        keyboard = page.keyboard
        keyboard.press(str(helpfulness))  # focused criterion: helpfulness; on to its required rationale
        keyboard.type("Rated 1 of 5? Skip nothing: s S ? 3")  # digits, s and ? are text here
        keyboard.press("Tab")  # on to "correct"
        keyboard.press("1")  # Yes, and on to "tone" by itself
        keyboard.press("Shift+Tab")  # back to "correct"
        keyboard.press("2")  # No, and on to "tone"
        keyboard.press("2")  # rude; the optional notes are passed over, on to the submit button
        assert checked_value(page, "helpfulness") == str(helpfulness), "typing in the rationale changed nothing"
        assert not page.locator("dialog[open]").count()
        if helpfulness == 4:
            page.get_by_text("Draft saved").wait_for()
            page.evaluate("window.scrollTo(0, 0)")  # the focus moved down to the submit button
            page.screenshot(path=str(screenshots / "annotate.png"), full_page=True)
        with page.expect_navigation():
            keyboard.press("Enter")  # submits
        assert page.get_by_text("Saved your rating").is_visible()

    ratings = {r.item_id: r for r in Rating.objects.filter(rater__user=user)}
    assert sorted(ratings) == sorted(rated)
    first, second = ratings[rated[0]], ratings[rated[1]]
    assert first.values == {"helpfulness": 4, "correct": False, "tone": "rude"}
    assert second.values["helpfulness"] == 2
    assert first.rationales == {"helpfulness": "Rated 1 of 5? Skip nothing: s S ? 3"}
    assert first.seconds_spent and first.seconds_spent > 0
    assert first.source == "ui"
    assert leased_item_id(page) not in rated


def test_it_restores_a_draft_after_a_refresh_from_the_server_or_the_browser(open_page, members, project, rich_items):
    user = members["annotator"]
    page, item_id = open_annotate(open_page, user, project)
    page.keyboard.press("3")  # and on to the required rationale
    page.keyboard.type("half way")
    page.get_by_text("Draft saved").wait_for()
    draft = Draft.objects.get(item_id=item_id, user=user)
    assert draft.values == {"helpfulness": 3}
    assert draft.rationales == {"helpfulness": "half way"}

    page.reload()
    assert leased_item_id(page) == item_id
    assert checked_value(page, "helpfulness") == "3"
    assert page.locator("textarea[name=rationale-helpfulness]").input_value() == "half way"

    # The server is unreachable: the answer is kept in localStorage and wins on the next load.
    page.route("**/draft/", lambda route: route.abort())
    page.locator("input[name=value-tone][value=ok]").focus()
    page.keyboard.press("1")
    page.get_by_text("Saved in this browser only").wait_for()
    page.unroute("**/draft/")
    page.reload()
    assert checked_value(page, "tone") == "ok"
    assert checked_value(page, "helpfulness") == "3"
    page.get_by_text("Draft saved").wait_for()  # and it reaches the server once it is back
    assert Draft.objects.get(item_id=item_id, user=user).values == {"helpfulness": 3, "tone": "ok"}


def test_it_skips_with_s_and_shows_the_shortcuts_with_a_question_mark(open_page, members, project, rich_items):
    user = members["annotator"]
    page, item_id = open_annotate(open_page, user, project)
    page.keyboard.press("?")
    assert page.locator("dialog#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("dialog#shortcuts").is_visible()
    page.keyboard.press("s")
    assert page.locator("dialog#skip-dialog").is_visible()
    page.keyboard.type("outside my expertise")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert Skip.objects.get(item_id=item_id, user=user).reason == "outside my expertise"
    assert leased_item_id(page) != item_id


def test_a_reviewer_adjudicates_side_by_side(open_page, members, project, rich_items, screenshots):
    item = rich_items[0]
    people = [(members["annotator"], 2, "Misses the date range."), (members["annotator2"], 5, "Exactly right.")]
    for user, helpfulness, why in people:
        rating_submit(
            item=item,
            rater=rater_for_user(user=user),
            values={**GOOD_VALUES, "helpfulness": helpfulness},
            rationales={"helpfulness": why},
        )
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge · gpt-5 v2")
    rating_submit(item=item, rater=judge, values={**GOOD_VALUES, "helpfulness": 4}, rationales={"helpfulness": "Good."})

    page = open_page(members["reviewer"])
    page.goto(f"/projects/{project.pk}/review/")
    table = page.locator("#ratings")
    assert table.locator(".badge.machine").count() == 1
    assert "Exactly right." in table.inner_text()

    page.keyboard.press("e")  # edit the adjudicated values
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    page.keyboard.press("4")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    gold = Gold.objects.get(item=item)
    assert gold.values["helpfulness"] == 4
    assert gold.reviewer == members["reviewer"]
    assert page.get_by_text("Saved the adjudicated values").is_visible()


def test_hostile_item_content_executes_nothing(open_page, members, project):
    items_import(
        project=project,
        rows=[
            {
                "external_id": "hostile",
                "data": {
                    "prompt": "<script>window.__xss=1</script>",
                    "response": 'Look: <img src=x onerror="window.__xss=1"> and **bold** <script>alert(1)</script>',
                    "context": "</textarea><script>window.__xss=1</script><svg onload=alert(1)>",
                    "messages": [{"role": "user<script>alert(1)</script>", "content": "<img src=x onerror=alert(1)>"}],
                    "trace": [{"kind": "tool_output", "content": "<script>window.__xss=1</script>"}],
                },
            }
        ],
    )
    page = open_page(members["annotator"])
    page.goto(f"/projects/{project.pk}/annotate/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.get_by_text("<script>window.__xss=1</script>").first.is_visible(), "shown as text"
