"""The dataset's quality estimate on the dashboard, as a (non-staff) manager sees it in Chromium."""

import re

import numpy as np
import pytest

from annotation.models import ApprovedBy, Item, ItemStatus, Rater, RaterKind, Rating
from annotation.services.items import items_import
from quality.services.audit import audit_sample_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _interval(text: str) -> tuple[float, float]:
    low, high = re.findall(r"-?\d+\.\d+", text)
    return float(low), float(high)


def test_a_manager_sees_the_estimate_beside_human_only_and_judge_only(open_page, members, project, screenshots):
    assert not members["manager"].is_staff
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(80)])
    # The audit is drawn from the item ids, which differ from run to run (PostgreSQL's sequences go
    # on): the labels are dealt in audit order, so the audited and the other items' labels, and
    # with them every figure below, are the same in every run.
    audit_sample_draw(project=project, size=30, seed=5)
    items = sorted(project.items.all(), key=lambda i: (i.audit_rank is None, i.audit_rank or 0, i.pk))
    rng = np.random.default_rng(2)
    truth = {i.pk: bool(rng.random() < 0.7) for i in items}
    said = {pk: t if rng.random() < 0.8 else not t for pk, t in truth.items()}  # a judge right 80 % of the time
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge <b>v1</b>", version=1)
    Rating.objects.bulk_create(
        Rating(
            item=i,
            rater=judge,
            rubric_version=project.rubric_version,
            values={"helpfulness": 4 if truth[i.pk] else 2, "correct": said[i.pk], "tone": "ok"},
            source="judge",
        )
        for i in items
    )
    for item in project.items.filter(audit_rank__isnull=False):
        Item.objects.filter(pk=item.pk).update(
            status=ItemStatus.APPROVED,
            approved_by=ApprovedBy.REVIEWER,
            consensus={"helpfulness": 4 if truth[item.pk] else 2, "correct": truth[item.pk], "tone": "ok"},
        )

    page = open_page(members["manager"])
    response = page.goto(f"/projects/{project.pk}/dashboard/")
    assert response.status == 200
    card = page.locator("#estimate")
    assert "judge <b>v1</b>" in card.inner_text(), "the judge's name is shown as text, not markup"
    assert "30 decided by people" in card.inner_text()
    table = card.locator("table.estimate-table").nth(1)  # Correct: share yes (helpfulness comes first)
    assert "Correct: share yes" in card.locator("h3").nth(1).inner_text()
    cells = {row.locator("td").first.inner_text(): row.locator("td") for row in table.locator("tbody tr").all()}
    assert list(cells) == [
        "PPI++ (judge + audit)",
        "PPI (judge + audit)",
        "audit only (people)",
        "judge only (unchecked)",
    ]
    ppi_low, ppi_high = _interval(cells["PPI++ (judge + audit)"].nth(2).inner_text())
    human_low, human_high = _interval(cells["audit only (people)"].nth(2).inner_text())
    assert 0 <= ppi_low < ppi_high <= 1
    assert ppi_high - ppi_low < human_high - human_low, "the judge narrows the interval on the same audit"
    true_share = np.mean(list(truth.values()))
    assert ppi_low <= true_share <= ppi_high
    # The chart draws a point and an interval per estimate.
    chart = card.locator("svg.estimate-chart").nth(1)
    assert chart.locator("circle").count() == 4 and chart.locator("line.ci").count() == 4
    page.evaluate("document.querySelector('header.top').style.position = 'static'")  # not over the card
    card.screenshot(path=str(screenshots / "dashboard-estimate.png"))
