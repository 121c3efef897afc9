"""Issue 16, item 2: the account page in headless Chromium, as an annotator (not staff): reached
from the navigation, it lists the API tokens by prefix and ends every token and session."""

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


def test_an_annotator_signs_out_everywhere_from_the_account_page(open_page, members, project, screenshots):
    annotator = members["annotator"]
    token, key = api_token_create(user=annotator, name="my notebook")
    page = open_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", annotator.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.click("header nav a.who")  # the username in the navigation
    page.wait_for_url("**/account/")
    assert page.locator("table.tokens").inner_text().count(token.prefix) == 1
    assert "my notebook" in page.content() and key not in page.content()
    page.screenshot(path=str(screenshots / "account.png"))
    page.click("#revoke-all")
    page.wait_for_url("**/accounts/login/**")
    assert "Signed out everywhere: 1 API token(s) revoked, 1 session(s) ended." in page.content()
    page.goto("/")
    assert "/accounts/login/" in page.url  # this session is over too
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/users/me/").status_code == 401
