"""A batch-mode run's page in headless Chromium: the batch state and the provider's counts follow
the batch as the worker polls and reads it (polling GET /api/v1/judge-runs/<id>/)."""

import pytest
from playwright.sync_api import expect

from judges.models import BatchStatus, JudgeBatch, JudgeRun, RunMode, RunStatus
from tests.judges.helpers import judge_unreachable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _batch_run(*, staff, project, items, name, provider, **batch_fields):
    """A running batch-mode run with one provider batch in the given state."""
    judge = judge_unreachable(staff=staff, project=project, name=name)
    run = JudgeRun.objects.create(
        project=project, judge_version=judge.current_version(), rubric_version=project.rubric_version,
        status=RunStatus.RUNNING, items_selector="all", total=len(items), created_by=staff, mode=RunMode.BATCH,
    )  # fmt: skip
    batch = JudgeBatch.objects.create(
        run=run, index=0, provider=provider, item_ids=[i.pk for i in items], marker="m" * 32, **batch_fields
    )
    return run, batch


def test_the_run_page_follows_the_provider_batch(open_page, members, project, rich_items, staff):
    run, batch = _batch_run(
        staff=staff, project=project, items=rich_items, name="GPT", provider="openai",
        status=BatchStatus.SUBMITTED, provider_status="validating", requests=len(rich_items),
    )  # fmt: skip
    page = open_page(members["annotator"])
    page.goto(f"/judge-runs/{run.pk}/")
    state = page.locator('[data-field="batch_state"]')
    assert state.inner_text() == "submitted; the provider is validating it"

    JudgeBatch.objects.filter(pk=batch.pk).update(provider_status="in_progress", completed=2, failed=1)
    expect(state).to_have_text("the provider is working on it")
    counts = page.locator('[data-field="batch_counts"]').inner_text()
    assert counts == f"2 of {len(rich_items)} requests answered by the provider, 1 failed"

    JudgeBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, ingested=2, sent_live=1)
    expect(state).to_have_text("results read")
    assert page.locator('[data-field="batch_counts"]').inner_text() == (
        "2 answers stored, 1 sent again live (failed or invalid lines)"
    )
    assert page.locator('[data-role="batch-errors"]').is_hidden()


def test_the_run_page_says_why_a_batch_was_given_up(open_page, members, project, rich_items, staff):
    run, batch = _batch_run(
        staff=staff, project=project, items=rich_items, name="Local", provider="openai_compatible",
        status=BatchStatus.SUBMITTING,
    )  # fmt: skip
    page = open_page(members["annotator"])
    page.goto(f"/judge-runs/{run.pk}/")
    given_up = page.locator('[data-role="batch-errors"]')
    assert given_up.is_hidden()

    reason = "HTTP 404 from the provider: this server has no batch API (its /files answered 404): <b>Not Found</b>"
    JudgeBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, error=reason)
    expect(given_up).to_be_visible()
    assert page.locator('[data-field="batch_errors"]').inner_text() == reason  # text, never markup
    page.reload()
    assert page.locator('[data-field="batch_errors"]').inner_text() == reason
