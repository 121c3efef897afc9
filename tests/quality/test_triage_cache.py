"""The dashboard's triage numbers are computed once and reused while nothing they read changes,
and recomputed as soon as something does (a rating, a decision, gold, the policy, the audit)."""

import re

import pytest
from django.test import Client

from annotation.models import Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from quality.selectors import triage_cache
from quality.selectors.policy import policy_for
from quality.services.audit import audit_sample_draw
from quality.services.policy import policy_update
from tests.conftest import GOOD_RATIONALES

VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}


@pytest.fixture
def computed(monkeypatch):
    """How many times the estimate was really computed."""
    calls = []
    real = triage_cache.project_estimate

    def counting(**kwargs):
        calls.append(kwargs["project"].pk)
        return real(**kwargs)

    monkeypatch.setattr(triage_cache, "project_estimate", counting)
    return calls


def _numbers(project):
    project.refresh_from_db()
    return triage_cache.triage_numbers(project=project, policy=policy_for(project=project))


def test_the_numbers_are_reused_until_something_they_read_changes(project, members, computed):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    audit_sample_draw(project=project, size=2, seed=7)
    first = _numbers(project)
    assert _numbers(project)["estimate"] == first["estimate"] and len(computed) == 1, "nothing changed: reused"
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("audit_rank"))

    def rate(user):
        rating_submit(item=audited[0], rater=rater_for_user(user=user), values=VALUES, rationales=GOOD_RATIONALES)

    changes = [
        lambda: rate(members[Role.ANNOTATOR]),
        lambda: rate(members["annotator2"]),  # the two agree: the item is decided (held for gold)
        lambda: gold_set(item=audited[0], reviewer=members[Role.REVIEWER], values=VALUES, rationales=GOOD_RATIONALES),
        lambda: policy_update(project=project, trust_margin=0.1),
        lambda: audit_sample_draw(project=project, size=3),
    ]
    for n, change in enumerate(changes, start=2):
        change()
        _numbers(project)
        assert len(computed) == n, f"change {n - 1} recomputes"
        _numbers(project)
        assert len(computed) == n, "and the new numbers are reused"
    assert _numbers(project)["estimate"]["audit"]["labelled"] == 1


def test_the_dashboard_shows_the_new_audit_label_on_the_next_view(project, members, computed):
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    audit_sample_draw(project=project, size=2, seed=7)
    client = Client()
    client.force_login(members[Role.MANAGER])
    url = f"/projects/{project.pk}/dashboard/"

    def decided() -> str:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(url).content.decode()))
        return re.search(r"audit sample of 2 items, (\d+) decided by people", text).group(1)

    assert decided() == "0" and decided() == "0"
    assert len(computed) == 1
    first = project.items.filter(audit_rank=1).get()
    gold_set(item=first, reviewer=members[Role.REVIEWER], values=VALUES, rationales=GOOD_RATIONALES)
    assert decided() == "1"
