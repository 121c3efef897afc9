"""The judge list API and the judges page read in a number of queries that does not grow with the
number of judges: spend in one grouped query, current versions in one, the page's run estimates
from the cache while nothing they read has changed (judges/services/estimate_cache.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.services.items import items_import
from judges.models import JudgeRun
from judges.services import estimate_cache
from judges.services.judges import judge_update
from judges.services.runs import judge_run_start

pytestmark = [pytest.mark.django_db, pytest.mark.both_databases]

API_QUERIES = 5  # session, user, judges (with their projects), current versions, spend
PAGE_QUERIES = 15  # warm: the reviewer's page (13) + the estimates' fingerprint + the cache read


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.fixture
def estimates_made(monkeypatch):
    """The (judge id, selection) of every estimate actually computed."""
    made = []
    real = estimate_cache.judge_run_estimate

    def counting(**kwargs):
        made.append((kwargs["judge"].pk, kwargs["items"]))
        return real(**kwargs)

    monkeypatch.setattr(estimate_cache, "judge_run_estimate", counting)
    return made


def test_the_judge_list_reads_spend_in_one_query_whatever_the_number_of_judges(
    client_for, project, items, members, make_judge
):
    client = client_for(members["reviewer"])
    url = f"/api/v1/judges/?project={project.pk}"
    first = make_judge("openai", name="first")
    one = queries(client, url)
    judges = [first, *(make_judge("openai", name=f"judge {n}") for n in range(3))]
    for n, judge in enumerate(judges[:3]):  # two runs for one judge, one for another, none for the last
        for cost in ([1_250_000, 500_000] if n == 0 else [20_000] if n == 1 else []):
            run = judge_run_start(actor=None, project=project, judge=judge, items="all")
            JudgeRun.objects.filter(pk=run.pk).update(status="succeeded", cost_spent_micros=cost)
    judge_update(judge=judges[2], temperature=0.5)  # a second version: spend counts every version
    run = judge_run_start(actor=None, project=project, judge=judges[2], items="all")
    JudgeRun.objects.filter(pk=run.pk).update(cost_spent_micros=3)

    assert one == queries(client, url) <= API_QUERIES, "one judge or four: the same queries"
    listed = {j["name"]: j for j in client.get(url).json()}
    assert [listed[j.name]["cost_spent_usd"] for j in judges] == ["1.750000", "0.020000", "0.000003", "0.000000"]
    assert listed["judge 1"]["version"] == 2
    assert client.get(f"/api/v1/judges/{judges[0].pk}/").json()["cost_spent_usd"] == "1.750000"


def test_the_judges_page_estimates_once_then_reads_them_from_the_cache(
    client, project, items, members, make_judge, estimates_made
):
    client.force_login(members["manager"])
    url = f"/projects/{project.pk}/judges/"
    first = make_judge("openai", name="first")
    queries(client, url)
    assert estimates_made == [(first.pk, "unjudged"), (first.pk, "all")], "computed on the first view"
    one = queries(client, url)
    assert len(estimates_made) == 2, "the second view reads them from the cache"

    more = [make_judge("openai", name=f"judge {n}") for n in range(3)]
    queries(client, url)
    assert len(estimates_made) == 2 + 2 * len(more), "only the new judges' estimates are computed"
    assert one == queries(client, url) <= PAGE_QUERIES, "one judge or four: the same queries"
    html = client.get(url).content.decode()
    assert html.count("5 items") >= 8, "each judge's two estimates are on the page"


def test_the_estimates_follow_what_they_read(client, project, items, members, make_judge, estimates_made):
    client.force_login(members["manager"])
    url = f"/projects/{project.pk}/judges/"
    judge, other = make_judge("openai", name="first"), make_judge("openai", name="second")
    queries(client, url)
    assert len(estimates_made) == 4

    judge_update(judge=judge, price_input_per_mtok="3")  # a price is the judge's own: only its estimates
    queries(client, url)
    assert estimates_made[4:] == [(judge.pk, "unjudged"), (judge.pk, "all")]

    items_import(project=project, rows=[{"external_id": "new", "data": {"prompt": "p"}}])  # more to judge
    assert "6 items" in client.get(url).content.decode()
    assert len(estimates_made) == 10

    judge_run_start(actor=None, project=project, judge=other, items="all")
    queries(client, url)  # a run alone writes no verdict yet: nothing changed for the estimates
    assert len(estimates_made) == 10
