"""The dashboard's triage section says how far the audit sample has got, and links to a review
round that keeps to the audit's items."""

import re

from django.test import Client

from annotation.models import ItemStatus, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from quality.services.audit import audit_sample_draw
from tests.conftest import GOOD_RATIONALES

VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rate(item, user, **values):
    rating_submit(item=item, rater=rater_for_user(user=user), values={**VALUES, **values}, rationales=GOOD_RATIONALES)


def _audit_in_review(project, members):
    """Three audited items people agreed on (so each waits for a reviewer's gold), one of them
    already with gold, and one item outside the audit where the people disagree."""
    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(8)])
    audit_sample_draw(project=project, size=3, seed=7)
    audited = list(project.items.filter(audit_rank__isnull=False).order_by("id"))
    for item in audited:
        rate(item, members[Role.ANNOTATOR])
        rate(item, members["annotator2"])
    gold_set(item=audited[0], reviewer=members[Role.REVIEWER], values=VALUES, rationales=GOOD_RATIONALES)
    other = project.items.filter(audit_rank__isnull=True).order_by("id").first()
    rate(other, members[Role.ANNOTATOR], helpfulness=1)
    rate(other, members["annotator2"], helpfulness=5)
    return audited, other


def test_the_dashboard_counts_the_audit_and_links_to_its_review(project, members):
    _audit_in_review(project, members)
    for who in (Role.MANAGER, Role.REVIEWER):
        html = page_client(members[who]).get(f"/projects/{project.pk}/dashboard/").content.decode()
        fields = dict(re.findall(r'data-field="(audit-[a-z]+)">(\d+)<', html))
        assert fields == {"audit-drawn": "3", "audit-gold": "1", "audit-waiting": "2", "audit-people": "0"}, who
        assert f'id="audit-review-link" href="/projects/{project.pk}/review/?audit=1"' in html


def test_the_audit_review_round_keeps_to_the_audit(
    project,
    members,
):
    audited, other = _audit_in_review(project, members)
    client = page_client(members[Role.REVIEWER])
    everything = client.get(f"/projects/{project.pk}/review/").content.decode()
    assert "3 left to review" in everything
    first = client.get(f"/projects/{project.pk}/review/?audit=1").content.decode()
    assert "2 left to review in the audit sample" in first
    assert f"/review/{audited[1].pk}/?audit=1" in first, "the forms keep the filter"
    assert f"/review/{other.pk}/" not in first

    response = client.post(f"/projects/{project.pk}/review/{audited[1].pk}/?audit=1", {"decision": "majority"})
    assert response.status_code == 302 and response["Location"].endswith(f"?after={audited[1].pk}&audit=1")
    audited[1].refresh_from_db()
    assert audited[1].status == ItemStatus.APPROVED
    following = client.get(response["Location"]).content.decode()
    assert f"/review/{audited[2].pk}/?audit=1" in following and "1 left to review in the audit sample" in following
    client.post(f"/projects/{project.pk}/review/{audited[2].pk}/?audit=1", {"decision": "majority"})
    done = client.get(f"/projects/{project.pk}/review/?audit=1")
    assert "Nothing needs review in the audit sample" in done.content.decode()
    assert f"/review/{other.pk}/" in client.get(f"/projects/{project.pk}/review/").content.decode(), (
        "the disputed item outside the audit still waits in the full round"
    )


def test_the_dashboard_stands_when_people_agree_on_every_pair(project, members):
    """Human-human agreement of 1 is a bar no finite gold can show a judge clears: the judge keeps
    nothing, the page says why, and the dashboard and the threshold action do not fail."""
    from annotation.models import Gold, Rater, RaterKind, Rating

    items_import(project=project, rows=[{"external_id": f"e{i}", "data": {"prompt": f"p{i}"}} for i in range(4)])
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    for item in project.items.all():
        Rating.objects.create(item=item, rater=judge, rubric_version=project.rubric_version, values=VALUES,
                              source="judge", confidence=0.9)  # fmt: skip
        rate(item, members[Role.ANNOTATOR])
        rate(item, members["annotator2"])
        Gold.objects.create(item=item, rubric_version=project.rubric_version, values=VALUES)
    client = page_client(members[Role.MANAGER])
    response = client.get(f"/projects/{project.pk}/dashboard/")
    assert response.status_code == 200
    assert "the people agree on every pair so far" in response.content.decode()
    chosen = client.post(f"/projects/{project.pk}/dashboard/routing/", follow=True)
    assert chosen.status_code == 200 and "No threshold: the people agree on every pair" in chosen.content.decode()
