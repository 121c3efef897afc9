"""The judge run page in headless Chromium: the progress bar and the "why items were not rated"
table follow the run as the worker writes verdicts (polling GET /api/v1/judge-runs/<id>/)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from judges.models import JudgeRun, JudgeVerdict, Outcome, RunStatus
from judges.services import runs
from judges.services.judges import judge_create
from quality.models import RaterTrust
from tests.judges.helpers import judge_unreachable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_follows_the_run_and_lists_why_items_were_not_rated(open_page, members, project, rich_items, staff):
    judge = judge_unreachable(staff=staff, project=project, name="GPT")
    version = judge.current_version()
    run = JudgeRun.objects.create(
        project=project,
        judge_version=version,
        rubric_version=project.rubric_version,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=20),
        items_selector="all",
        total=len(rich_items),
        created_by=staff,
    )
    page = open_page(members["annotator"])
    page.goto(f"/judge-runs/{run.pk}/")
    assert page.locator('[data-role="problems"]').is_hidden()

    # The worker writes two verdicts that are not ratings while the page is open, in one
    # transaction as a flush does (so the page's poll never sees one without the other).
    reason = "max_tokens: output hit max_output_tokens (64) <img src=x onerror=alert(1)>"
    JudgeVerdict.objects.bulk_create(
        JudgeVerdict(
            item=item,
            judge_version=version,
            rubric_version=project.rubric_version,
            run=run,
            outcome=Outcome.NO_VERDICT,
            reason=reason,
        )
        for item in rich_items[:2]
    )

    row = page.locator('[data-role="problems"] tbody tr')
    row.first.wait_for()
    assert page.locator('[data-role="problems"]').is_visible()
    assert row.count() == 1
    assert row.first.locator("td").all_inner_texts() == ["no verdict", reason, "2"], "outcomes in words"
    assert page.locator('[data-field="no_verdict"]').inner_text() == "2"
    assert page.locator('[data-field="bar"]').get_attribute("value") is not None
    assert page.evaluate("document.querySelector('[data-field=bar]').value") == 2
    assert page.locator('[data-role="problems"] img').count() == 0 and page.dialogs == []
    # 2 of the items took ~20 s: the rest is estimated at that pace.
    assert len(rich_items) > 2
    timing = page.locator('[data-field="timing"]').inner_text()
    assert re.fullmatch(r"2\d s so far, about \d+ (min \d+ )?s left", timing), timing


def test_a_manager_starts_a_run_from_the_judges_page(
    open_page, members, project, rich_items, staff, screenshots, monkeypatch
):
    # No worker here: the run stays queued (its chunks are not sent anywhere).
    monkeypatch.setattr(runs.transaction, "on_commit", lambda *args, **kwargs: None)
    gpt = judge_create(
        actor=staff, project=project, name="GPT-4.1 mini", provider="openai", model="gpt-4.1-mini",
        api_key_env="OPENAI_API_KEY", samples=3,
    )  # fmt: skip
    judge_create(
        actor=staff, project=project, name="Local Qwen", provider="openai_compatible",
        model="Qwen/Qwen2.5-7B-Instruct", base_url="http://127.0.0.1:8001/v1", few_shot=4,
    )  # fmt: skip
    for key, alpha, status, interval in (
        ("helpfulness", 0.82, "trusted", (-0.01, 0.06)),
        ("correct", 0.55, "not_enough_data", (-0.31, 0.02)),
    ):
        RaterTrust.objects.create(
            project=project, rater_id=gpt.current_version().rater_id, rubric_version=project.rubric_version,
            criterion_key=key, trusted=status == "trusted", status=status, judge_alpha=alpha, human_alpha=0.79,
            difference_low=interval[0], difference_high=interval[1], items=120,
        )  # fmt: skip
    page = open_page(members["manager"])
    page.goto("/")
    page.get_by_role("link", name="Judges").click()
    page.wait_for_url(f"**/projects/{project.pk}/judges/")
    row = page.locator(f'tr[data-judge="{gpt.pk}"]')
    assert "helpfulness" in row.inner_text().lower() and "never run" in row.inner_text()
    assert "correct: not enough data yet" in row.inner_text() and "-0.310 to 0.020" in row.inner_text()
    page.screenshot(path=str(screenshots / "judges.png"), full_page=True)

    row.locator("select[name=items]").select_option("all")
    row.get_by_role("button", name="Run").click()
    page.wait_for_url("**/judge-runs/*/")
    run = JudgeRun.objects.get()
    assert page.url.endswith(f"/judge-runs/{run.pk}/")
    assert (run.items_selector, run.total, run.judge_version.judge_id) == ("all", len(rich_items), gpt.pk)
    assert page.locator('[data-field="status"]').inner_text() == "waiting for a worker"
    assert page.locator('[data-field="timing"]').inner_text() == "not started"
    assert "waiting for a worker" in page.locator('[data-field="queued"]').inner_text()
