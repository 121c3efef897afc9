"""The queue's third answer: "wait" (202) while the only items left for someone are held by other
people's leases, which may come back; "nothing left" (204) only when nothing can."""

import json
import re
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Assignment, Item
from annotation.services.projects import project_update
from annotation.services.queue_wait import WAIT_POLL_SECONDS, QueueWait, queue_wait
from tests.annotation.test_queue import claim, claimed_id, expire_leases, rate, skip


def rate_all_but_the_first(client, project, items) -> None:
    """With overlap 1 and annotator2 holding items[0]: ``client`` rates every other item."""
    for item in items[1:]:
        assert claimed_id(client, project) == item.pk
        assert rate(client, item.pk).status_code == 201


def test_it_answers_202_while_an_item_someone_else_holds_may_come_back(client_for, members, items, project):
    project = project_update(project=project, annotations_per_item=1)
    holder, client = client_for(members["annotator2"]), client_for(members["annotator"])
    assert claimed_id(holder, project) == items[0].pk
    rate_all_but_the_first(client, project, items)

    response = claim(client, project)
    assert response.status_code == 202, "items[0] is full only because of annotator2's lease"
    body = response.json()
    assert body["state"] == "waiting"
    assert WAIT_POLL_SECONDS - 1 <= body["retry_after"] <= WAIT_POLL_SECONDS, "the lease has minutes to run"
    assert response["Retry-After"] == str(body["retry_after"])
    assert not Assignment.objects.filter(user=members["annotator"]).exists(), "waiting holds nothing"

    # The holder skips late: the item comes back to the one who was told to wait.
    assert skip(holder, project, items[0].pk).status_code == 204
    assert claimed_id(client, project) == items[0].pk
    assert rate(client, items[0].pk).status_code == 201
    assert claim(client, project).status_code == 204, "now nothing is left that could come back"


def test_it_answers_204_once_the_holder_rates_the_item(client_for, members, items, project):
    project = project_update(project=project, annotations_per_item=1)
    holder, client = client_for(members["annotator2"]), client_for(members["annotator"])
    assert claimed_id(holder, project) == items[0].pk
    rate_all_but_the_first(client, project, items)
    assert claim(client, project).status_code == 202
    assert rate(holder, items[0].pk).status_code == 201
    assert claim(client, project).status_code == 204


def test_a_lapsed_lease_is_waited_for_then_taken(client_for, members, items, project):
    project = project_update(project=project, annotations_per_item=1)
    holder, client = client_for(members["annotator2"]), client_for(members["annotator"])
    assert claimed_id(holder, project) == items[0].pk
    rate_all_but_the_first(client, project, items)
    # The lease ran out a moment ago: "wait" says ask again at once, and asking takes the item.
    expire_leases(user=members["annotator2"])
    assert queue_wait(project=project, user=members["annotator"]) == QueueWait(retry_after=1)
    assert claimed_id(client, project) == items[0].pk


def test_it_never_waits_for_an_item_i_rated_or_skipped(client_for, members, items, project):
    """Other people's leases on items I am done with can bring me nothing: 204, not 202."""
    client = client_for(members["annotator"])
    assert skip(client, project, items[0].pk).status_code == 204
    for item in items[1:]:
        assert rate(client, item.pk).status_code == 201
    for name in ("annotator2", "reviewer"):
        assert claimed_id(client_for(members[name]), project) in {item.pk for item in items[1:]}
    assert Assignment.objects.count() == 2
    assert claim(client, project).status_code == 204


def test_it_says_wait_when_an_item_has_a_free_slot_the_claim_missed(members, items, project):
    """A claim can miss a free slot (its holder let go just after the claim looked, or the item was
    locked by another transaction): "ask again in a second", never "nothing left"."""
    assert queue_wait(project=project, user=members["annotator"]) == QueueWait(retry_after=1)


def test_the_wait_hint_follows_the_soonest_lease(members, items, project):
    project = project_update(project=project, annotations_per_item=1)
    now = timezone.now()
    for n, item in enumerate(items):
        expires_at = now + timedelta(seconds=5 + n)
        Assignment.objects.create(project=project, item=item, user=members["annotator2"], expires_at=expires_at)
    Item.objects.update(load=1)
    assert queue_wait(project=project, user=members["annotator"], now=now) == QueueWait(retry_after=5)


def test_the_waiting_answer_costs_one_query_after_the_claim(client_for, members, items, project):
    """Only the path that leases nothing pays for the look (the leasing path is pinned by
    tests/annotation/test_hot_path_queries.py)."""
    project = project_update(project=project, annotations_per_item=1)
    assert claimed_id(client_for(members["annotator2"]), project) == items[0].pk
    rate_all_but_the_first(client_for(members["annotator"]), project, items)
    with CaptureQueriesContext(connection) as looked:
        assert queue_wait(project=project, user=members["annotator"]) is not None
    assert len(looked.captured_queries) == 1


def test_the_annotate_page_waits_and_asks_again(client_for, members, items, project):
    project = project_update(project=project, annotations_per_item=1)
    holder = client_for(members["annotator2"])
    assert claimed_id(holder, project) == items[0].pk
    rate_all_but_the_first(client_for(members["annotator"]), project, items)
    page = Client()
    page.force_login(members["annotator"])

    html = page.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "Waiting for items others hold" in html
    assert "Nothing left to annotate" not in html
    config = json.loads(re.search(r'<script id="annotate-config" type="application/json">(.*?)</script>', html)[1])
    assert config["mode"] == "waiting"
    assert config["queueUrl"] == f"/projects/{project.pk}/annotate/"
    assert 1 <= config["retryAfter"] <= WAIT_POLL_SECONDS

    assert skip(holder, project, items[0].pk).status_code == 204
    html = page.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert f'name="item" value="{items[0].pk}"' in html, "asking again leases the item that came back"
