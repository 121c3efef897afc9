"""The honest badge (quality/reliability.py): a claim only when the 95 % interval clears the bar on
enough items, else "not enough data yet" with the interval; the same rule for judge trust; and the
dashboard, the agreement API and trust all showing it. Plus the dashboard's words: statuses and
confusion matrices labelled with choice names and anchors, not codes."""

import numpy as np
import pytest

from annotation.services.items import items_import
from quality.reliability import RELIABILITY_MIN_ITEMS, criterion_badge, judge_trust, report_with_badges
from tests.quality.test_approval import judge_rate, judge_rater, rate


@pytest.mark.parametrize(
    ("alpha", "ci", "units", "status"),
    [
        (0.851, [0.514, 0.985], 11, "not_enough_data"),  # the example: 11 items prove nothing
        (0.851, [0.514, 0.985], 500, "not_enough_data"),  # enough items, but the interval spans both bars
        (0.90, [0.82, 0.95], 11, "not_enough_data"),  # a tight interval on too few items
        (0.90, [0.82, 0.95], RELIABILITY_MIN_ITEMS, "reliable"),
        (0.80, [0.70, 0.88], 200, "tentative"),  # at least tentative; reliability not shown
        (0.62, [0.55, 0.70], 200, "unreliable"),
        (0.40, [0.30, 0.50], 200, "unreliable"),
        (0.90, None, 200, "not_enough_data"),  # no interval (a report without bootstrap draws)
        (None, None, 0, "undefined"),
    ],
)
def test_a_criterion_is_reliable_only_when_the_interval_clears_the_bar(alpha, ci, units, status):
    badge = criterion_badge(alpha=alpha, ci=ci, units=units)
    assert badge.status == status
    if status == "not_enough_data":
        assert badge.label == "not enough data yet"
        assert ("interval" in badge.reason) or ("needed" in badge.reason)
    if ci:
        assert f"{ci[0]:.3f}" in badge.reason, "the interval is shown"


@pytest.mark.parametrize(
    ("difference_ci", "units", "status"),
    [
        ([-0.02, 0.04], 60, "trusted"),
        ([-0.02, 0.04], 30, "not_enough_data"),
        ([-0.30, -0.10], 60, "not_trusted"),
        ([-0.12, 0.03], 60, "not_enough_data"),  # could be as good as the humans, or worse
        (None, 60, "not_enough_data"),
    ],
)
def test_judge_trust_follows_the_same_rule(difference_ci, units, status):
    assert judge_trust(difference_ci=difference_ci, units=units, margin=0.05, min_units=50).status == status


def test_the_badges_replace_point_figures_in_a_report_and_leave_the_figures_alone():
    payload = {
        "criteria": [
            {
                "key": "q",
                "humans": {"alpha": 0.851, "ci": [0.514, 0.985], "units": 11, "status": "reliable", "reason": None},
                "judges": [{"items": 11, "trusted": True, "trust_reason": None, "alpha_difference_ci": [0.0, 0.1]}],
            }
        ]
    }
    badged = report_with_badges(payload, margin=0.05, min_units=50)
    humans = badged["criteria"][0]["humans"]
    assert humans["status"] == "not_enough_data" and humans["alpha"] == 0.851
    assert humans["reliability"]["label"] == "not enough data yet"
    judge = badged["criteria"][0]["judges"][0]
    assert judge["trusted"] is False and judge["trust"]["status"] == "not_enough_data"
    assert payload["criteria"][0]["humans"]["status"] == "reliable", "the stored report is not changed"


@pytest.fixture
def eleven_agreeing_items(project, members):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"n": i}} for i in range(11)])
    items = list(project.items.order_by("id"))
    for n, item in enumerate(items):
        score = 1 + n % 5
        rate(item, members["annotator"], helpfulness=score, tone="ok" if n % 2 else "rude")
        rate(item, members["annotator2"], helpfulness=score if n != 3 else score + 1, tone="ok" if n % 2 else "rude")
    return items


def test_the_dashboard_and_the_api_say_not_enough_data_on_eleven_items(
    client, client_for, project, members, eleven_agreeing_items
):
    body = client_for(members["reviewer"]).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    helpfulness = next(c for c in body["criteria"] if c["key"] == "helpfulness")
    assert helpfulness["humans"]["alpha"] > 0.8, "the point estimate alone would say reliable"
    assert helpfulness["humans"]["status"] == "not_enough_data"
    assert "at least 50 are needed" in helpfulness["humans"]["reliability"]["reason"]

    client.force_login(members["reviewer"])
    html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert "not enough data yet" in html
    assert ">reliable</span>" not in html
    low, high = helpfulness["humans"]["ci"]
    assert f"{low:.3f} to {high:.3f}" in html, "the interval is shown"


def test_the_dashboard_names_statuses_and_confusion_cells_in_words(client, project, members, eleven_agreeing_items):
    judge = judge_rater("judge v1")
    rng = np.random.default_rng(1)
    for n, item in enumerate(eleven_agreeing_items):
        judge_rate(item, judge, helpfulness=int(rng.integers(1, 6)), tone="ok" if n % 3 else "rude")
    items_import(project=project, rows=[{"external_id": "fresh", "data": {"n": 99}}])
    client.force_login(members["reviewer"])
    html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert "not started 1" in html and "needs review" in html, "statuses in words"
    assert "</span>needs_review" not in html and "needs_review:" not in html, "no slugs"
    assert '<th scope="col">ok</th>' in html and '<th scope="row">rude</th>' in html, "choice names"
    assert '<th scope="col">1 — Useless.</th>' in html and '<th scope="row">5 — Perfect.</th>' in html, "anchors"
    assert '<th scope="col">0.0</th>' not in html and '<th scope="col">1.0</th>' not in html, "no codes"
