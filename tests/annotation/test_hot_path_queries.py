"""The annotator's hot path (next → submit, through the API with a token) in a bounded number of
queries: each one is a round trip, and on a busy host a round trip costs more than the query.
docs/benchmarks.md ("The `make run` server") lists them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import api_token_create
from annotation.models import Assignment, Role
from annotation.services.items import items_import
from annotation.services.projects import membership_set
from quality.selectors.live import live_agreement

# Queries per call, BEGIN and COMMIT included, once each annotator's first claim has created their
# rater. PostgreSQL runs some statements in one round trip (config/round_trips.py); SQLite does not.
BOUNDS = {"postgresql": {"next": 6, "submit": 9}, "sqlite": {"next": 11, "submit": 22}}


@pytest.mark.django_db(transaction=True)
@pytest.mark.both_databases
def test_next_and_submit_stay_within_their_query_budget(project, make_user):
    project.annotations_per_item = 3
    project.save()
    items_import(project=project, rows=[{"external_id": f"x{i}", "data": {"p": i}} for i in range(12)])
    clients = []
    for n in range(3):
        user = make_user(f"a{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='bench')[1]}")
        clients.append(client)
    counts: dict[str, list[int]] = {"next": [], "submit": []}
    for round_ in range(4):
        for client in clients:
            with CaptureQueriesContext(connection) as claimed:
                lease = client.post(f"/api/v1/projects/{project.pk}/queue/next/")
            assert lease.status_code == 200
            item = lease.json()["item"]["id"]
            values = {"helpfulness": 1 + item % 5, "correct": True, "tone": "ok"}
            with CaptureQueriesContext(connection) as submitted:
                rated = client.post(
                    f"/api/v1/items/{item}/ratings/",
                    {"values": values, "rationales": {"helpfulness": "because"}},
                    format="json",
                )
            assert rated.status_code == 201, rated.content
            if round_:  # the first round creates each person's rater and the project's policy
                counts["next"].append(len(claimed.captured_queries))
                counts["submit"].append(len(submitted.captured_queries))
    bounds = BOUNDS[connection.vendor]
    assert max(counts["next"]) <= bounds["next"], counts
    assert max(counts["submit"]) <= bounds["submit"], counts
    # ... and the work was done: every lease used up, the ratings counted live.
    assert not Assignment.objects.exists()
    assert live_agreement(project=project).ratings == 12
