"""The agentic workflow in headless Chromium, on the demo's 50 tasks and 200 traces.

Takes the screenshots in docs/screenshots/: task-review.png, tasks.png, trace-annotate.png, report.png.
"""

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Project
from demo.agentic import TASKS_PROJECT, TRACES_PROJECT, agentic_demo_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(staff):
    User = get_user_model()
    for name in ("alice", "bob", "carol", "rita"):
        User.objects.create_user(username=name, password="correct-horse-battery")
    agentic_demo_seed(owner=staff, annotators=["alice", "bob", "carol"], reviewer="rita")
    return Project.objects.get(name=TASKS_PROJECT), Project.objects.get(name=TRACES_PROJECT)


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def open_watched(open_page, user, path: str):
    """``path`` opened as ``user``; returns the page and the list its console errors go to."""
    page = open_page(user)
    problems = watch(page)
    page.goto(path)
    return page, problems


def test_a_reviewer_reads_a_disputed_task_and_the_buckets(open_page, demo, screenshots):
    tasks, _ = demo
    rita = get_user_model().objects.get(username="rita")
    page, problems = open_watched(open_page, rita, f"/projects/{tasks.pk}/review/")
    card = page.locator("details.review-item").first
    card.wait_for()
    text = card.inner_text().lower()
    assert all(part in text for part in ("instruction", "environment", "tests", "solution"))
    # The Dockerfile and the tests are shown as code, highlighted by language.
    assert page.locator(".review-item code[data-lang=dockerfile]").first.locator("span[class^=tok-]").count() >= 1
    assert page.locator(".review-item code[data-lang=python]").count() >= 1
    page.screenshot(path=str(screenshots / "task-review.png"), full_page=False)

    page.goto(f"/projects/{tasks.pk}/tasks/?bucket=rejected")
    tabs = page.locator("nav.tabs a")
    assert tabs.count() == 3
    assert page.locator("nav.tabs a.active").inner_text().lower() == "rejected 18"
    rows = page.locator("li.task")
    assert rows.count() >= 5
    assert "Reason:" in rows.first.inner_text()
    assert rows.first.locator(".gate.fail").count() >= 1
    rows.first.get_by_text("Show the task").click()
    assert rows.first.locator(".task-body code").first.is_visible()
    page.screenshot(path=str(screenshots / "tasks.png"), full_page=False)
    assert problems == []


def test_an_annotator_reads_a_trace_with_collapsible_steps(open_page, demo, screenshots):
    _, traces = demo
    carol = get_user_model().objects.get(username="carol")
    page, problems = open_watched(open_page, carol, f"/projects/{traces.pk}/annotate/")
    steps = page.locator("ol.trace > li.step > details")
    assert steps.count() >= 7, "each trace step is a collapsible section"
    first = steps.first
    assert first.get_attribute("open") is not None
    first.locator("summary").first.click()
    assert first.get_attribute("open") is None
    assert page.locator("input[name='value-failure_mode']").count() == 9
    page.screenshot(path=str(screenshots / "trace-annotate.png"), full_page=False)
    assert problems == []


def test_the_quality_signal_report_draws_its_charts(open_page, demo, screenshots, staff):
    _, traces = demo
    page, problems = open_watched(open_page, staff, f"/projects/{traces.pk}/report/")
    chart = page.locator("svg.diverging")
    assert chart.is_visible()
    assert chart.locator("rect.bar").count() == 9, "one bar per failure mode"
    assert chart.locator("line.ci").count() == 9
    assert page.locator("svg.split-bar").count() == 2
    assert page.locator("table.reasons tr").count() >= 3
    page.screenshot(path=str(screenshots / "report.png"), full_page=True)
    assert problems == []
