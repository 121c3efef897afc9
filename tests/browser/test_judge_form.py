"""The judge form in Chromium, as a non-staff manager, by mouse and keyboard: add a judge on the
loopback fake LLM server (which refuses json_schema like llama-cpp-python), test it on one item
(the verdict, and the output mode "auto" found), disable it. Screenshot docs/screenshots/judge-form.png."""

import pytest

from judges.models import Judge
from testbed import FakeLLMServer
from testbed.llm_quirks import Quirks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def llm():
    with FakeLLMServer(quirks=Quirks(refuse_json_schema=True)) as server:
        yield server


def test_a_manager_adds_tests_and_disables_a_judge(open_page, members, project, rich_items, llm, settings, screenshots):
    settings.JUDGES_RATE_LIMIT_REDIS_URL = ""
    manager = members["manager"]
    assert not manager.is_staff
    page = open_page(manager)
    page.goto(f"/projects/{project.pk}/judges/")
    assert page.locator('a[href^="/admin/"]').count() == 0
    page.click('[data-role="add-judge"]')

    page.fill("#name", "Local Qwen")
    page.select_option("#provider", "openai_compatible")
    page.fill("#model", "Qwen/Qwen2.5-7B-Instruct")
    page.fill("#base_url", "http://169.254.169.254/v1")  # refused: shown on the field, nothing saved
    page.click('[data-role="save"]')
    assert "not allowed for judges" in page.locator("#base_url-errors").inner_text()
    assert page.locator("#name").input_value() == "Local Qwen"  # what was typed stays
    assert not Judge.objects.exists()

    page.fill("#base_url", llm.openai_base_url)
    page.locator("#samples").fill("1")
    page.locator("#samples").press("Enter")  # the keyboard submits the form
    page.wait_for_selector('[data-role="test-button"]')
    judge = Judge.objects.get()
    assert judge.output_mode == "auto" and judge.created_by == manager

    page.click('[data-role="test-button"]')
    result = page.locator('[data-role="test-result"]')
    assert "Verdict" in result.inner_text() and "helpfulness" in result.inner_text()
    assert page.locator('[data-field="mode-found"]').inner_text() == "json_object"
    assert llm.count() == 2  # json_schema refused once, then json_object
    page.screenshot(path=str(screenshots / "judge-form.png"), full_page=True)

    page.click('[data-role="toggle"]')
    page.wait_for_selector("text=disabled")
    judge.refresh_from_db()
    assert not judge.enabled
    page.goto(f"/projects/{project.pk}/judges/")
    assert page.locator(f'tr[data-judge="{judge.pk}"] button[type=submit]').is_disabled()
