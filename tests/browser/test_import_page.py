"""The import page in headless Chromium, as a manager who is not staff: a file with bad rows is
checked and every bad row listed (nothing imported); a 1,000-item JSONL file dropped on the page
is previewed, checked and imported with a summary; existing ratings from a file chosen with the
file input go to a member and to an external rater. Screenshot: docs/screenshots/import.png."""

import json

import pytest

from annotation.models import Item, Rating

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drop_file(page, section: str, name: str, content: str) -> None:
    """Drop a file on a section's drop zone, as a drag from the desktop does."""
    page.evaluate(
        """([selector, name, content]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([content], name, {type: "application/octet-stream"}));
            const zone = document.querySelector(selector);
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        [f'[data-kind="{section}"] [data-role="drop"]', name, content],
    )


def test_a_manager_imports_items_and_ratings_from_files(open_page, project, members, screenshots, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    manager = members["manager"]
    assert not manager.is_staff
    page = open_page(manager)
    page.goto(f"/projects/{project.pk}/import/")
    items = page.locator('[data-kind="items"]')

    bad = "\n".join(
        [
            json.dumps({"external_id": "ok-1", "data": {"prompt": "fine"}}),
            json.dumps({"external_id": "", "data": {}}),
            "{broken",
            json.dumps({"external_id": "ok-2", "data": "not an object"}),
        ]
    )
    drop_file(page, "items", "bad.jsonl", bad)
    items.locator('[data-role="preview"]').wait_for()
    items.locator('[data-role="check"]').click()
    table = items.locator('[data-role="bad"]')
    table.wait_for()
    rows = table.locator("tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows] == ["2", "3", "4"]
    assert "data is required" in rows[2]
    items.locator('[data-role="run"]').click()
    items.get_by_text("nothing was imported").wait_for()
    assert not Item.objects.exists()

    good = "\n".join(
        json.dumps({"external_id": f"q{i}", "data": {"prompt": f"Question {i}", "n": i}}) for i in range(1000)
    )
    drop_file(page, "items", "questions.jsonl", good)
    items.get_by_text("about 1000 rows").wait_for()
    assert items.locator('[data-role="fields"]').inner_text() == "external_id, data, data.prompt, data.n"
    assert items.locator('[data-role="rows"] tr').count() == 10
    items.locator('[data-role="check"]').click()
    items.get_by_text("Every row is fine").wait_for()
    assert not Item.objects.exists(), "a check writes nothing"
    items.locator('[data-role="run"]').click()
    items.get_by_text("Imported.").wait_for()
    assert items.locator('[data-count="created"] .summary-num').inner_text() == "1000"
    assert items.locator('[data-role="bar"]').evaluate("bar => bar.value === bar.max")
    assert Item.objects.filter(project=project).count() == 1000

    ratings = page.locator('[data-kind="ratings"]')
    values = {"helpfulness": 4, "correct": True, "tone": "ok"}
    lines = [
        {"external_id": "q0", "rater": "annotator", "values": values, "rationales": {"helpfulness": "clear"}},
        {"external_id": "q0", "rater": "Dr. <b>Historic</b>", "values": values, "rationales": {"helpfulness": "ok"}},
    ]
    path = tmp_path / "ratings.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    ratings.locator('input[type="file"]').set_input_files(str(path))
    ratings.locator('[data-role="preview"]').wait_for()
    assert "Dr. <b>Historic</b>" in ratings.locator('[data-role="rows"]').inner_text(), "shown as text, not markup"
    ratings.locator('[data-role="run"]').click()
    ratings.get_by_text("Imported.").wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "import.png"))
    assert Rating.objects.filter(rater__user=members["annotator"]).count() == 1
    assert Rating.objects.filter(rater__project=project, rater__name="Dr. <b>Historic</b>").count() == 1
    assert page.dialogs == []
