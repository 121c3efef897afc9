"""The items browser and the item page through Django's test client: access, filters, cursor
pages, escaping, and the actions, which go through the approval services."""

import re

from django.test import Client

from annotation.models import ItemStatus, Rater, Rating
from annotation.services.items import items_import
from quality.services.approval import items_decide
from tests.quality.test_approval import judge_rater, rate


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(html: str) -> list[str]:
    return re.findall(r'class="mono">([^<]+)</a></td>', html)


def test_the_items_pages_are_for_reviewers_and_managers(project, members, items):
    for url in (f"/projects/{project.pk}/items/", f"/projects/{project.pk}/items/{items[0].pk}/"):
        assert page_client(members["annotator"]).get(url).status_code == 403
        assert page_client(members["outsider"]).get(url).status_code == 403
        assert page_client(members["reviewer"]).get(url).status_code == 200
        assert Client().get(url).status_code == 302


def test_it_filters_by_status_rater_disagreement_judge_and_external_id(project, members, items):
    rate(items[0], members["annotator"], helpfulness=4)
    rate(items[0], members["annotator2"], helpfulness=4)  # approved, no disagreement on helpfulness
    rate(items[1], members["annotator"], correct=True)
    rate(items[1], members["annotator2"], correct=False)  # needs review, disagreement 1 on correct
    judge = judge_rater()
    Rating.objects.create(
        item=items[0],
        rater=judge,
        rubric_version=project.rubric_version,
        values={"helpfulness": 1, "correct": True, "tone": "ok"},
        source="judge",
    )
    Rating.objects.create(
        item=items[2],
        rater=judge,
        rubric_version=project.rubric_version,
        values={"helpfulness": 1, "correct": True, "tone": "ok"},
        source="judge",
    )
    items_decide(project=project, item_ids=[i.pk for i in items])
    client = page_client(members["manager"])
    base = f"/projects/{project.pk}/items/"
    assert listed(client.get(base).content.decode()) == ["x0", "x1", "x2", "x3", "x4"]
    assert listed(client.get(base + "?status=approved").content.decode()) == ["x0"]
    assert listed(client.get(base + "?status=needs_review").content.decode()) == ["x1"]
    assert listed(client.get(base + "?disagreement=high").content.decode()) == ["x1"]
    # x2 has a judge but no consensus to disagree with; x0's judge says 1 where the humans say 4.
    assert listed(client.get(base + "?judge=disagrees").content.decode()) == ["x0"]
    annotator2 = Rater.objects.get(user=members["annotator2"])
    assert listed(client.get(base + f"?rater={annotator2.pk}").content.decode()) == ["x0", "x1"]
    assert listed(client.get(base + f"?rater={judge.pk}").content.decode()) == ["x0", "x2"]
    assert listed(client.get(base + "?q=X3").content.decode()) == ["x3"]
    assert listed(client.get(base + "?sort=-id").content.decode()) == ["x4", "x3", "x2", "x1", "x0"]
    page = client.get(base).content.decode()
    assert f'<option value="{judge.pk}">gpt-judge v1 (judge)</option>' in page
    bad = client.get(base + "?status=done&sort=nope")
    assert bad.status_code == 400
    assert "must be one of" in bad.content.decode()


def test_it_pages_by_cursor_in_any_sort(project, members, monkeypatch):
    from quality.selectors import items_browser

    monkeypatch.setattr(items_browser.items_page, "__kwdefaults__", {"cursor": "", "size": 2})
    items_import(project=project, rows=[{"external_id": f"e{9 - i}", "data": {"prompt": "p"}} for i in range(5)])
    client = page_client(members["manager"])
    for sort, expected in (("id", ["e9", "e8", "e7", "e6", "e5"]), ("external_id", ["e5", "e6", "e7", "e8", "e9"])):
        url, seen = f"/projects/{project.pk}/items/?sort={sort}", []
        while url:
            html = client.get(url).content.decode()
            seen += listed(html)
            assert len(listed(html)) <= 2
            found = re.search(r'<a href="(\?[^"]+)" rel="next"', html)
            url = f"/projects/{project.pk}/items/" + found.group(1).replace("&amp;", "&") if found else None
        assert seen == expected, sort
    assert client.get(f"/projects/{project.pk}/items/?cursor=!!notacursor").status_code == 400


def test_the_item_page_shows_escaped_content_every_rating_and_history(project, members):
    items_import(
        project=project,
        rows=[{"external_id": "<b>evil</b>", "data": {"prompt": "<script>window.__x=1</script>", "response": "r"}}],
    )
    item = project.items.get()
    rate(item, members["annotator"], correct=True)
    rate(item, members["annotator2"], correct=False)
    judge = judge_rater(name="<i>judge</i>")
    Rating.objects.create(
        item=item,
        rater=judge,
        rubric_version=project.rubric_version,
        values={"helpfulness": 2, "correct": False, "tone": "ok"},
        rationales={"correct": "the <em>second</em> claim is false"},
        source="judge",
    )
    html = page_client(members["reviewer"]).get(f"/projects/{project.pk}/items/{item.pk}/").content.decode()
    assert "<script>window.__x" not in html and "&lt;script&gt;window.__x=1" in html
    assert "<b>evil</b>" not in html and "&lt;b&gt;evil&lt;/b&gt;" in html
    assert "&lt;i&gt;judge&lt;/i&gt;" in html and "the &lt;em&gt;second&lt;/em&gt; claim is false" in html
    assert html.count("<tr class=") == 3, "two humans and the judge"
    assert "no consensus on correct" in html
    assert re.search(r'id="item-history">.*decided: needs review', html, re.S)


def test_the_item_actions_go_through_the_services_with_inline_errors(project, members, items):
    rate(items[0], members["annotator"])
    rate(items[0], members["annotator2"])
    client = page_client(members["reviewer"])
    url = f"/projects/{project.pk}/items/{items[0].pk}/"
    refused = client.post(url, {"action": "reject", "reason": "  "})
    assert refused.status_code == 400
    assert re.search(r'name="reason"[^>]*aria-invalid="true"', refused.content.decode())
    assert "say why the item is rejected" in refused.content.decode()
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED, "nothing saved"
    assert client.post(url, {"action": "send_to_review", "reason": "check <the> source"}).status_code == 302
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.NEEDS_REVIEW
    html = client.get(url).content.decode()
    assert "check &lt;the&gt; source" in html and 'value="reopen"' in html and 'value="send_to_review"' not in html
    assert client.post(url, {"action": "reopen"}).status_code == 302
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.APPROVED
    assert client.post(url, {"action": "reject", "reason": "duplicate"}).status_code == 302
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.REJECTED and items[0].decision_reason == "duplicate"
    conflict = client.post(url, {"action": "send_to_review", "reason": "x"})
    assert conflict.status_code == 409 and "rejected" in conflict.content.decode()
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(members["reviewer"])
    assert csrf.post(url, {"action": "reopen"}).status_code == 403
    assert page_client(members["annotator"]).post(url, {"action": "reopen"}).status_code == 403


def test_dashboard_and_home_counts_link_to_the_filtered_list(project, members, items):
    rate(items[1], members["annotator"], correct=True)
    rate(items[1], members["annotator2"], correct=False)
    client = page_client(members["manager"])
    home = client.get("/").content.decode()
    assert re.search(rf'href="/projects/{project.pk}/items/\?status=needs_review"[^>]*>1 item needs review', home)
    dashboard = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert f'href="/projects/{project.pk}/items/?status=needs_review"' in dashboard
    assert "needs review" not in page_client(members["annotator"]).get("/").content.decode()


def test_external_raters_can_be_filtered_by(project, members, items):
    from annotation.models import RaterKind

    external = Rater.objects.create(kind=RaterKind.HUMAN, name="vendor-7", project=project)
    Rating.objects.create(
        item=items[2],
        rater=external,
        rubric_version=project.rubric_version,
        values={"helpfulness": 3, "correct": True, "tone": "ok"},
        rationales={"helpfulness": "imported"},
        source="import",
    )
    client = page_client(members["manager"])
    html = client.get(f"/projects/{project.pk}/items/").content.decode()
    assert f'<option value="{external.pk}">vendor-7</option>' in html
    assert listed(client.get(f"/projects/{project.pk}/items/?rater={external.pk}").content.decode()) == ["x2"]


def test_the_items_api_takes_the_browsers_filters(project, members, items, client_for):
    rate(items[1], members["annotator"], correct=True)
    rate(items[1], members["annotator2"], correct=False)
    annotator2 = Rater.objects.get(user=members["annotator2"])
    url = f"/api/v1/projects/{project.pk}/items/"
    manager = client_for(members["manager"])
    ids = lambda r: [row["external_id"] for row in r.json()["results"]]  # noqa: E731
    assert ids(manager.get(url, {"disagreement": "high"})) == ["x1"]
    assert ids(manager.get(url, {"rater": annotator2.pk, "status": "needs_review"})) == ["x1"]
    assert ids(manager.get(url, {"q": "X4"})) == ["x4"]
    bad = manager.get(url, {"disagreement": "some", "judge": "agrees"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"disagreement", "judge"}
    assert client_for(members["annotator"]).get(url, {"q": "x"}).status_code == 403
    assert client_for(members["annotator"]).get(url).status_code == 200
