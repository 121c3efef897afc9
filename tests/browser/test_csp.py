"""The Content-Security-Policy in headless Chromium: each page renders with nothing blocked.

A violation shows up as a console error ("Refused to ... because it violates the following
Content Security Policy directive") or, for eval, as a page error; either fails the test.
"""

import pytest

from annotation.selectors import rater_for_user
from annotation.services.ratings import rating_submit
from tests.conftest import GOOD_VALUES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def render_and_collect(page, path: str) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    assert response.headers.get("content-security-policy"), f"{path} has no Content-Security-Policy header"
    page.wait_for_load_state("networkidle")
    return messages


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "content security policy" in m.lower() or "refused to" in m.lower()]


def test_the_annotate_page_runs_under_the_policy(open_page, members, project, rich_items):
    page = open_page(members["annotator"])
    messages = render_and_collect(page, f"/projects/{project.pk}/annotate/")
    # annotate.js ran: it puts the focus on the first criterion.
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    assert csp_violations(messages) == [], messages


def test_the_review_page_runs_under_the_policy(open_page, members, project, rich_items):
    item = rich_items[0]
    for user, helpfulness in ((members["annotator"], 2), (members["annotator2"], 5)):  # they disagree
        rating_submit(
            item=item,
            rater=rater_for_user(user=user),
            values={**GOOD_VALUES, "helpfulness": helpfulness},
            rationales={"helpfulness": "Because."},
        )
    page = open_page(members["reviewer"])
    messages = render_and_collect(page, f"/projects/{project.pk}/review/")
    assert page.locator("#gold-form").get_attribute("action").endswith(f"/review/{item.pk}/")
    page.keyboard.press("e")  # review.js ran: E puts the focus in the edit form
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpfulness'")
    assert csp_violations(messages) == [], messages


def test_the_dashboard_renders_under_the_policy(open_page, members, project, rich_items):
    page = open_page(members["manager"])
    messages = render_and_collect(page, f"/projects/{project.pk}/dashboard/")
    assert csp_violations(messages) == [], messages


def test_the_admin_change_form_of_a_rubric_version_renders_under_the_policy(open_page, admin_user, rubric_version):
    page = open_page(admin_user)
    messages = render_and_collect(page, f"/admin/rubrics/rubricversion/{rubric_version.pk}/change/")
    assert csp_violations(messages) == [], messages


# /api/docs/ is SpectacularSwaggerSplitView (its start-up script is a same-origin file) under a
# csp_override that adds only the hash of drf-spectacular's inline <style> block (config/urls.py).
def test_swagger_ui_renders_under_the_policy(open_page, staff):
    page = open_page(staff)
    messages = render_and_collect(page, "/api/docs/")
    assert csp_violations(messages) == [], messages
    page.locator(".swagger-ui .opblock").first.wait_for()  # the bundle ran and loaded the schema
    assert csp_violations(messages) == [], messages
