"""Money on the judges page in headless Chromium, as a non-staff manager sees it: the Run form's
estimate for each selection, this month's spend meter against the cap, and a run's cost."""

import re

import pytest

from annotation.services.items import items_import
from judges.models import JudgeRun, RunStatus
from judges.selectors import month_start
from judges.services.budgets import budget_settle, project_budget_set, spend_month_ensure
from judges.services.judges import judge_update
from tests.judges.conftest import KEY_ENV
from tests.judges.helpers import judge_unreachable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_sees_the_run_estimate_and_the_spend_meter(
    open_page, members, project, staff, screenshots, settings, monkeypatch
):
    assert not members["manager"].is_staff
    # A hosted provider's judge (its Run form offers batch mode), with a key it may use.
    settings.JUDGE_KEYS = {**settings.JUDGE_KEYS, KEY_ENV: [("127.0.0.1", "*")]}
    monkeypatch.setenv(KEY_ENV, "test-key")
    items_import(
        project=project, rows=[{"external_id": f"c{i}", "data": {"prompt": "a question " * 40}} for i in range(1234)]
    )
    judge = judge_unreachable(staff=staff, project=project, name="GPT", provider="openai", api_key_env=KEY_ENV)
    judge = judge_update(judge=judge, price_input_per_mtok="2.5", price_output_per_mtok="10")
    project_budget_set(project=project, monthly_cap="5")
    run = JudgeRun.objects.create(
        project=project, judge_version=judge.current_version(), rubric_version=project.rubric_version,
        items_selector="all", status=RunStatus.STOPPED_BUDGET, total=10, max_cost_micros=1_500_000,
        stop_reason="stopped at the run's budget of $1.500000: $1.250000 spent, 4 items left.",
    )  # fmt: skip
    month = month_start()
    spend_month_ensure(project_id=project.pk, month=month)
    budget_settle(run_id=run.pk, project_id=project.pk, month=month, spent=1_250_000, released=0)

    page = open_page(members["manager"])
    assert page.goto(f"/projects/{project.pk}/judges/").status == 200

    options = page.locator('[data-role="run-items"] option').all_inner_texts()
    assert re.fullmatch(r"untried: 1,234 items · at most about \$\d+\.\d\d", options[0]), options
    assert options[1].startswith("all unrated: 1,234 items")
    page.locator('[data-role="run-items"]').select_option("all")
    assert page.locator('[data-role="run-items"]').input_value() == "all"
    # In batch mode the estimates are at the batch price: half of the live one (to the cent).
    live = float(re.search(r"\$(\d+\.\d\d)", options[0]).group(1))
    page.get_by_label("How GPT runs").select_option("batch")
    batch_text = page.locator('[data-role="run-items"] option').first.inner_text()
    assert re.fullmatch(r"untried: 1,234 items · at most about \$\d+\.\d\d", batch_text), batch_text
    assert abs(float(re.search(r"\$(\d+\.\d\d)", batch_text).group(1)) - live / 2) <= 0.006
    page.get_by_label("How GPT runs").select_option("live")
    assert page.locator('[data-role="run-items"] option').first.inner_text() == options[0]

    spend = page.locator('[data-role="spend"]')
    assert "$1.25 of $5.00 · $3.75 left" in spend.inner_text()
    meter = spend.locator("meter")
    assert meter.get_attribute("max") == "5000000" and meter.get_attribute("value") == "1250000"
    assert meter.evaluate("m => m.value / m.max") == 0.25  # the browser reads it as a quarter used

    row = page.locator("tr", has=page.locator('[data-role="stop-reason"]'))
    assert "stopped at the run's budget of $1.500000" in row.inner_text()
    assert "$1.25 of $1.50" in row.locator('[data-field="run-cost"]').inner_text()
    assert row.locator('[data-role="resume"] button').inner_text() == "Resume"
    page.evaluate("document.querySelector('header.top').style.position = 'static'")
    spend.screenshot(path=str(screenshots / "judges-spend.png"))
