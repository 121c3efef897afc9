"""A non-staff manager's pages in Chromium: the navigation bar by keyboard, the settings hub, the
items browser and an item's actions, the approval policy with its preview, and an export started,
finished and downloaded. Screenshots for docs/managing.md."""

import hashlib
import json
from pathlib import Path

import pytest

from annotation.models import ItemStatus, Rating, Role
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from config.celery import app as celery_app
from exports.models import ExportSnapshot
from quality.models import ReviewRequest
from quality.selectors.policy import policy_for
from tests.quality.test_approval import judge_rater, rate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager_page(open_page, members):
    """A tab as the project's (non-staff) manager that fails the test on any CSP violation."""
    pages = []

    def make():
        page = open_page(members["manager"])
        page.csp = []
        page.on("console", lambda m: page.csp.append(m.text) if "Content Security Policy" in m.text else None)
        pages.append(page)
        return page

    yield make
    for page in pages:
        assert page.csp == [], page.csp


@pytest.fixture
def rated(project, members):
    """Twelve items: x0-x3 approved (two people agree), x4-x5 in review (they disagree on helpfulness
    by 3 points), x6 rated once, the rest untouched; a judge on x0 that disagrees with the humans."""
    items_import(
        project=project,
        rows=[{"external_id": f"x{i}", "data": {"prompt": f"Question {i}: <b>not bold</b>?"}} for i in range(12)],
    )
    items = list(project.items.order_by("id"))
    for item in items[:4]:
        rate(item, members["annotator"], helpfulness=4)
        rate(item, members["annotator2"], helpfulness=4)
    for item in items[4:6]:
        rate(item, members["annotator"], helpfulness=2)
        rate(item, members["annotator2"], helpfulness=5)
    rate(items[6], members["annotator"])

    Rating.objects.create(
        item=items[0],
        rater=judge_rater(),
        rubric_version=project.rubric_version,
        values={"helpfulness": 1, "correct": True, "tone": "ok"},
        rationales={"helpfulness": "the answer misses the point"},
        source="judge",
    )
    return items


def test_the_navigation_bar_works_by_keyboard(manager_page, members, project, staff, rubric_version, screenshots):
    other = project_create(actor=staff, name="Second project", rubric=rubric_version, annotations_per_item=2)
    membership_set(project=other, user=members["manager"], role=Role.MANAGER)
    page = manager_page()
    page.goto(f"/projects/{project.pk}/dashboard/")
    assert page.locator(".project-links a.current").inner_text() == "Dashboard"
    page.locator(".project-links a", has_text="Settings").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/projects/{project.pk}/settings/")
    assert page.locator(".breadcrumbs").inner_text().split("\n")[-1].endswith("Settings")
    page.screenshot(path=str(screenshots / "settings.png"), full_page=True)
    # The switcher: a disclosure that opens with Enter and keeps you on the same page.
    page.locator(".switcher summary").focus()
    page.keyboard.press("Enter")
    assert page.locator(".switcher-menu").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator(".switcher-menu").is_visible(), "Escape closes the menu"
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Enter")
    page.locator(".switcher-menu a", has_text="Second project").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/projects/{other.pk}/settings/")
    # The skip link is the first stop of the tab order.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"


def test_the_items_browser_filters_and_the_item_page_acts(manager_page, members, project, rated, screenshots):
    page = manager_page()
    page.goto(f"/projects/{project.pk}/items/")
    assert page.locator("#items-table tbody tr").count() == 12
    assert page.locator("#items-table").get_by_text("<b>not bold</b>").first.is_visible(), "escaped, shown as text"
    page.select_option("select[name=status]", "needs_review")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert page.locator("#items-table tbody tr td:first-child").all_inner_texts() == ["x4", "x5"]
    page.select_option("select[name=status]", "")
    page.select_option("select[name=judge]", "disagrees")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert page.locator("#items-table tbody tr td:first-child").all_inner_texts() == ["x0"]
    page.goto(f"/projects/{project.pk}/items/")
    page.screenshot(path=str(screenshots / "items.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="x0", exact=True).click()
    assert page.locator("#ratings-table tbody tr").count() == 3, "two people and the judge"
    assert page.get_by_text("the answer misses the point").is_visible()
    reason = page.locator("#item-actions input[name=reason]").first
    reason.fill("The judge says it misses the point; check it.")
    with page.expect_navigation():
        reason.press("Enter")
    assert page.locator("#item-status").inner_text() == "needs review"
    assert ReviewRequest.objects.filter(item=rated[0]).exists()
    page.screenshot(path=str(screenshots / "item.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Reopen").click()
    assert page.locator("#item-status").inner_text() == "approved"
    # A reject without a reason is refused beside its field, and nothing changes.
    with page.expect_navigation():
        page.get_by_role("button", name="Reject").click()
    assert page.get_by_text("say why the item is rejected.").is_visible()
    rated[0].refresh_from_db()
    assert rated[0].status == ItemStatus.APPROVED


def test_the_policy_preview_then_save(manager_page, members, project, rated, screenshots):
    page = manager_page()
    page.goto(f"/projects/{project.pk}/settings/policy/")
    page.fill("#id_numeric_tolerance", "0.75")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    assert page.locator("#preview-sentence").inner_text() == (
        "Under this policy, 6 items would be approved, 0 sent to review."
    )
    assert policy_for(project=project).numeric_tolerance == 0.25
    page.screenshot(path=str(screenshots / "policy.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Save policy").click()
    assert page.get_by_text("Policy saved").is_visible()
    assert project.items.filter(status=ItemStatus.APPROVED).count() == 6


def test_an_export_is_started_and_downloaded(manager_page, members, project, rated, screenshots, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    celery_app.conf.task_always_eager = True
    try:
        page = manager_page()
        page.goto(f"/projects/{project.pk}/export/")
        page.check("input[name=format][value=csv]")
        page.check("input[name=format][value=jsonl]")
        page.check("input[name=status][value=needs_review]")
        page.check("input[name=include][value=ratings]")
        assert "status=approved,needs_review&include=ratings" in page.locator("#snippet-curl").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="Start export").click()
        row = page.locator("#snapshots tbody tr").first
        assert row.get_attribute("data-status") == "succeeded"
        page.screenshot(path=str(screenshots / "export.png"), full_page=True)
        with page.expect_download() as info:
            row.get_by_role("link", name="Download").click()
        body = Path(info.value.path()).read_bytes()
    finally:
        celery_app.conf.task_always_eager = False
    snapshot = ExportSnapshot.objects.get()
    assert hashlib.sha256(body).hexdigest() == snapshot.sha256
    records = [json.loads(line) for line in body.splitlines()]
    assert sorted(r["external_id"] for r in records) == ["x0", "x1", "x2", "x3", "x4", "x5"]
    assert all(len(r["ratings"]) == 2 for r in records), "the two people's ratings; judges not asked for"


def test_the_export_page_follows_a_snapshot_until_it_is_written(
    manager_page, members, project, rated, settings, tmp_path, monkeypatch
):
    """No worker picks the snapshot up until the page shows it queued; then it is written (as the
    worker's task would, by snapshot_run) and the page's polling brings up the download."""
    from exports import dispatch
    from exports.services import snapshot_run

    settings.VAR_DIR = tmp_path / "var"
    queued = []
    monkeypatch.setattr(dispatch, "snapshot_write_later", lambda *, snapshot_id: queued.append(snapshot_id))
    page = manager_page()
    page.goto(f"/projects/{project.pk}/export/")
    with page.expect_navigation():
        page.get_by_role("button", name="Start export").click()
    row = page.locator("#snapshots tbody tr").first
    assert row.get_attribute("data-status") == "queued"
    assert row.get_by_role("link", name="Download").count() == 0
    snapshot_run(snapshot_id=queued[0])
    page.locator("#snapshots tbody tr[data-status=succeeded]").get_by_role("link", name="Download").wait_for()
    assert page.locator("#snapshots .snapshot-status").first.inner_text() == "succeeded"
