"""A reviewer's session in Chromium, by keyboard only: adjudicate five items (accept the majority,
take a rater's answer, edit the values), send one back to its raters and pass one over."""

import pytest

from annotation.models import Gold, Rater, RaterKind, SendBack
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_VALUES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def waiting(project, members):
    """Seven items three people disagree on (helpfulness 4, 4, 2), and a judge on each."""
    project.annotations_per_item = 3
    project.save(update_fields=["annotations_per_item"])
    items_import(
        project=project, rows=[{"external_id": f"d{i}", "data": {"prompt": f"Question {i}?"}} for i in range(7)]
    )
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1")
    people = [members["annotator"], members["annotator2"], members["manager"]]
    items = list(project.items.order_by("id"))
    for item in items:
        for user, helpfulness in zip(people, (4, 4, 2), strict=True):
            rating_submit(
                item=item,
                rater=rater_for_user(user=user),
                values={**GOOD_VALUES, "helpfulness": helpfulness},
                rationales={"helpfulness": f"{user.username}: {helpfulness}"},
            )
        rating_submit(item=item, rater=judge, values={**GOOD_VALUES, "helpfulness": 5}, rationales={"helpfulness": "5"})
    return items


def shown(page) -> int:
    return int(page.locator("#gold-form").get_attribute("action").rstrip("/").rsplit("/", 1)[1])


def decide(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_a_reviewer_adjudicates_five_items_by_keyboard(open_page, members, project, waiting, screenshots):
    page = open_page(members["reviewer"])
    page.goto(f"/projects/{project.pk}/review/")
    assert page.locator("#review-left").inner_text() == "7 left to review"
    assert shown(page) == waiting[0].pk
    assert page.locator("tr.disagree td.off-majority").count() == 2, "the 2 and the judge's 5 stand out"
    page.screenshot(path=str(screenshots / "review.png"), full_page=True)

    decide(page, "a")  # 1: accept the majority
    assert page.get_by_text("Saved the adjudicated values").is_visible()
    assert page.locator("#review-left").inner_text() == "6 left to review"

    assert shown(page) == waiting[1].pk
    decide(page, "3")  # 2: take the third rater's answer (the columns: annotator, annotator2, manager, judge)

    assert shown(page) == waiting[2].pk
    page.keyboard.press("e")  # 3: edit the values
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    page.keyboard.press("3")  # helpfulness 3, on to "correct"
    page.keyboard.press("2")  # correct: No, on to "tone"
    page.keyboard.press("Escape")  # leave the form: keys decide again
    page.keyboard.press("e")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("2")  # tone: rude
    decide(page, "Enter")

    assert shown(page) == waiting[3].pk
    page.keyboard.press("b")  # send back, with a note
    page.keyboard.type("Check the source for question 3.")
    decide(page, "Enter")
    assert page.get_by_text("Sent d3 back to its raters.").is_visible()

    assert shown(page) == waiting[4].pk
    decide(page, "n")  # pass this one over
    assert shown(page) == waiting[5].pk
    decide(page, "a")  # 4
    assert shown(page) == waiting[6].pk
    decide(page, "1")  # 5: the first rater's answer

    golds = {g.item_id: g for g in Gold.objects.all()}
    assert sorted(golds) == sorted(w.pk for w in (waiting[0], waiting[1], waiting[2], waiting[5], waiting[6]))
    assert golds[waiting[0].pk].values == {**GOOD_VALUES, "helpfulness": 4}
    assert golds[waiting[1].pk].values["helpfulness"] == 2 and golds[waiting[1].pk].note == "Took manager's answer."
    assert golds[waiting[2].pk].values == {"helpfulness": 3, "correct": False, "tone": "rude"}
    assert golds[waiting[6].pk].rationales == {"helpfulness": "annotator: 4"}
    assert SendBack.objects.get().item_id == waiting[3].pk
    # Only the item passed over is left; the page says so and wraps to it.
    assert page.locator("#review-left").inner_text() == "1 left to review"
    assert shown(page) == waiting[4].pk
    assert page.dialogs == []
