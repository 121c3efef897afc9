"""The annotate page knows where the annotator is: what is left and done today, what they did last
(each a link, the previous one under ←), their rating of an earlier item to change with its
history, a decided item closed, a skip to take back."""

import json
import re

from django.test import Client

from annotation.models import Item, Rating, RatingChange, Skip
from tests.annotation.test_pages import leased
from tests.conftest import GOOD_VALUES

ANSWERS = {"value-helpfulness": "4", "rationale-helpfulness": "Clear.", "value-correct": "true", "value-tone": "ok"}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def config(html: str) -> dict:
    return json.loads(re.search(r'<script id="annotate-config" type="application/json">(.*?)</script>', html).group(1))


def rate_next(client, project, **answers) -> int:
    """Rate the item the queue page shows; returns its id."""
    item_id = leased(client.get(f"/projects/{project.pk}/annotate/").content.decode())
    response = client.post(f"/projects/{project.pk}/annotate/", {"item": item_id, **ANSWERS, **answers})
    assert response.status_code == 302, response.content.decode()[:500]
    return item_id


def test_it_shows_what_is_left_and_done_today(members, items, project):
    client = page_client(members["annotator"])
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "5 left in my queue" in html and "0 done today" in html
    rate_next(client, project)
    rate_next(client, project)
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "3 left in my queue" in html and "2 done today" in html


def test_it_goes_back_to_the_previous_item_and_changes_the_rating_keeping_history(members, items, project):
    client = page_client(members["annotator"])
    first = rate_next(client, project, **{"value-helpfulness": "2"})
    second = rate_next(client, project)
    queue = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert config(queue)["previousUrl"] == f"/projects/{project.pk}/annotate/{second}/"
    recent = re.search(r'<section class="card recent".*?</section>', queue, re.S).group(0)
    assert recent.index(f"/annotate/{second}/") < recent.index(f"/annotate/{first}/"), "newest first"

    page = client.get(f"/projects/{project.pk}/annotate/{second}/").content.decode()
    assert "Change your rating of" in page and config(page)["mode"] == "edit"
    assert config(page)["draftUrl"] is None, "a stored rating has no draft"
    assert config(page)["previousUrl"] == f"/projects/{project.pk}/annotate/{first}/", "← goes on back"
    page = client.get(f"/projects/{project.pk}/annotate/{first}/").content.decode()
    assert re.search(r'name="value-helpfulness" value="2" data-index="2" checked', page), "the stored answers"
    assert f'action="/projects/{project.pk}/annotate/{first}/"' in page

    response = client.post(f"/projects/{project.pk}/annotate/{first}/", {**ANSWERS, "value-helpfulness": "5"})
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/annotate/"
    assert Rating.objects.get(item_id=first, rater__user=members["annotator"]).values["helpfulness"] == 5
    assert "Changed your rating" in client.get(response["Location"]).content.decode()
    page = client.get(f"/projects/{project.pk}/annotate/{first}/").content.decode()
    history = re.search(r'<section class="card history".*?</section>', page, re.S).group(0)
    assert "<del>2</del> → <ins>5</ins>" in history and "annotator" in history
    recent = re.search(r'<section class="card recent".*?</section>', page, re.S).group(0)
    assert "rated, changed" in recent


def test_a_refused_change_answers_at_the_items_page_and_changes_nothing(members, items, project):
    client = page_client(members["annotator"])
    item_id = rate_next(client, project)
    response = client.post(f"/projects/{project.pk}/annotate/{item_id}/", {**ANSWERS, "value-tone": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "this criterion is required." in html and config(html)["refused"] is True
    assert Rating.objects.get(item_id=item_id).values == GOOD_VALUES
    assert not RatingChange.objects.exists()


def test_a_decided_item_shows_the_rating_closed(members, items, project):
    client = page_client(members["annotator"])
    item_id = rate_next(client, project)
    other = page_client(members["annotator2"])
    other.post(f"/projects/{project.pk}/annotate/{item_id}/", ANSWERS)  # agrees: approved
    assert Item.objects.get(pk=item_id).status == "approved"
    page = client.get(f"/projects/{project.pk}/annotate/{item_id}/").content.decode()
    assert config(page)["mode"] == "closed" and "it has been approved" in page.lower()
    assert 'id="submit-rating"' not in page and re.search(r'name="value-tone" value="ok"[^>]*checked disabled', page)
    response = client.post(f"/projects/{project.pk}/annotate/{item_id}/", {**ANSWERS, "value-helpfulness": "1"})
    assert response.status_code == 302
    assert "can no longer be changed" in client.get(response["Location"]).content.decode()
    assert Rating.objects.get(item_id=item_id, rater__user=members["annotator"]).values["helpfulness"] == 4


def test_a_skipped_item_is_taken_back_and_rated(members, items, project):
    user = members["annotator"]
    client = page_client(user)
    item_id = leased(client.get(f"/projects/{project.pk}/annotate/").content.decode())
    client.post(f"/projects/{project.pk}/annotate/{item_id}/skip/", {"reason": "later"})
    queue = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert config(queue)["previousUrl"] == f"/projects/{project.pk}/annotate/{item_id}/", "← reaches the skip"
    assert "skipped" in re.search(r'<section class="card recent".*?</section>', queue, re.S).group(0)
    page = client.get(f"/projects/{project.pk}/annotate/{item_id}/").content.decode()
    assert config(page)["mode"] == "skipped" and "“later”" in page
    response = client.post(f"/projects/{project.pk}/annotate/{item_id}/unskip/")
    assert response["Location"] == f"/projects/{project.pk}/annotate/{item_id}/"
    assert not Skip.objects.filter(user=user).exists()
    page = client.get(response["Location"]).content.decode()
    assert config(page)["mode"] == "new" and leased(page) == item_id
    assert client.post(f"/projects/{project.pk}/annotate/{item_id}/", ANSWERS).status_code == 302
    assert Rating.objects.filter(item_id=item_id, rater__user=user).exists()


def test_the_empty_queue_still_leads_back(members, items, project):
    client = page_client(members["annotator"])
    for _ in items:
        last = rate_next(client, project)
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "Nothing left to annotate" in html
    assert config(html)["previousUrl"] == f"/projects/{project.pk}/annotate/{last}/"
    assert f'href="/projects/{project.pk}/annotate/{last}/"' in html


def test_only_members_open_an_items_page(members, items, project):
    url = f"/projects/{project.pk}/annotate/{items[0].pk}/"
    assert page_client(members["outsider"]).get(url).status_code == 403
    assert page_client(members["outsider"]).post(url, ANSWERS).status_code == 403
    assert page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/999999/").status_code == 404
    assert not Rating.objects.exists()
