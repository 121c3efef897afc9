"""The run progress page and the run_judge management command."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Project, Rating
from config.celery import app as celery_app
from demo.judge import DEMO_JUDGE
from demo.summaries import DEMO_PROJECT, demo_seed
from judges.models import Judge, JudgeRun, RunStatus
from judges.services import runs
from judges.services.runs import judge_run_start
from quality.models import RaterTrust
from testbed import Reply
from tests.judges.conftest import run_now

pytestmark = pytest.mark.django_db


@pytest.mark.urls("tests.judges.urls")
def test_it_renders_the_progress_page_for_members(client, project, items, members, make_judge):
    run = judge_run_start(actor=None, project=project, judge=make_judge("openai"), items="all")
    client.force_login(members["manager"])
    page = client.get(f"/judge-runs/{run.id}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-api="/api/v1/judge-runs/{run.id}/"' in html and "judges/run-progress.js" in html
    assert "<script>" not in html  # no inline script: the page works under a strict CSP
    assert "Cancel run" in html
    client.force_login(members["annotator"])
    assert "Cancel run" not in client.get(f"/judge-runs/{run.id}/").content.decode()
    client.force_login(members["outsider"])
    assert client.get(f"/judge-runs/{run.id}/").status_code == 403


@pytest.fixture
def eager_tasks(monkeypatch):
    """No worker here: run the chunk tasks in-process as soon as they are enqueued."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr(runs.transaction, "on_commit", lambda callback, *args, **kwargs: callback())


def test_it_starts_a_run_from_the_command_line_and_waits(llm, project, items, make_judge, eager_tasks, capsys):
    make_judge("anthropic", name="Claude")
    call_command("run_judge", str(project.id), "Claude", "--items", "all", "--wait", "--poll", "0.05")

    run = JudgeRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    assert "5 judged" in capsys.readouterr().out


def test_it_refuses_unknown_judges_and_empty_runs(project, items, make_judge):
    with pytest.raises(CommandError, match="no judge"):
        call_command("run_judge", str(project.id), "nobody")
    judge = make_judge("openai")
    call_command("run_judge", project.name, str(judge.id))
    with pytest.raises(CommandError, match="already has a queued or running run"):
        call_command("run_judge", project.name, str(judge.id))


@pytest.mark.urls("tests.judges.urls")
def test_the_page_and_the_command_list_why_items_were_not_rated(
    llm, client, project, items, members, make_judge, eager_tasks
):
    make_judge("openai", name="GPT", output_mode="json_schema")  # a fixed mode: a 400 is the item's failure
    llm.script(Reply.error(400, headers={}, message="<b>bad</b> request"))
    out = io.StringIO()
    call_command("run_judge", str(project.id), "GPT", "--items", "all", "--wait", "--poll", "0.05", stdout=out)

    assert re.search(r"1 failed: HTTP 400 from the provider: .*<b>bad</b> request", out.getvalue())
    client.force_login(members["annotator"])
    html = client.get(f"/judge-runs/{JudgeRun.objects.get().id}/").content.decode()
    assert "Why items were not rated" in html
    assert "&lt;b&gt;bad&lt;/b&gt; request" in html and "<b>bad</b>" not in html


def test_the_project_judges_page_lists_judges_runs_and_trust_to_reviewers(
    client, project, items, members, make_judge, django_assert_max_num_queries
):
    judges = [make_judge("openai", name=f"<b>judge {i}</b>") for i in range(3)]
    run = judge_run_start(actor=None, project=project, judge=judges[0], items="all")
    version = judges[0].current_version()
    RaterTrust.objects.create(
        project=project, rater_id=version.rater_id, rubric_version=project.rubric_version,
        criterion_key="helpfulness", trusted=True, judge_alpha=0.81, human_alpha=0.78, items=40,
    )  # fmt: skip
    url = f"/projects/{project.pk}/judges/"

    client.force_login(members["reviewer"])
    with django_assert_max_num_queries(13):  # not one query per judge (+1: this month's judge spend)
        html = client.get(url).content.decode()
    assert html.count("&lt;b&gt;judge ") == 4 and "<b>judge" not in html  # 3 judges + the run's judge
    assert f'href="/judge-runs/{run.pk}/"' in html and "waiting for a worker" in html, "statuses in words"
    assert ">helpfulness<" in html
    assert "not measured yet" in html
    assert "/run/" not in html  # reviewers watch; managers start runs
    client.force_login(members["manager"])
    assert html.count("/run/") == 0 and client.get(url).content.decode().count('/run/"') == 3
    client.force_login(members["annotator"])
    assert client.get(url).status_code == 403


def test_a_manager_starts_a_run_from_the_judges_page(client, project, items, members, make_judge):
    judge = make_judge("openai", name="GPT")
    url = f"/projects/{project.pk}/judges/{judge.pk}/run/"
    client.force_login(members["reviewer"])
    assert client.post(url, {"items": "all"}).status_code == 403

    client.force_login(members["manager"])
    response = client.post(url, {"items": "all"})
    run = JudgeRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/judge-runs/{run.pk}/"
    assert run.items_selector == "all" and run.total == len(items)

    again = client.post(url, {"items": "unjudged"}, follow=True)  # one active run per judge version
    assert again.redirect_chain[-1][0] == f"/projects/{project.pk}/judges/"
    assert "already has a queued or running run" in again.content.decode()
    assert JudgeRun.objects.count() == 1


def test_the_demo_judge_runs_offline_against_the_fake_server(llm, project, staff, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    demo_seed()
    demo = Project.objects.get(name=DEMO_PROJECT)
    out = io.StringIO()
    call_command("seed_demo_judge", "--base-url", llm.openai_base_url, stdout=out)
    assert "Added" in out.getvalue()
    call_command("seed_demo_judge", "--base-url", llm.openai_base_url, stdout=out)  # once only
    judge = Judge.objects.get(project=demo)
    assert judge.name == DEMO_JUDGE and judge.api_key_env == ""  # no key needed

    run = run_now(project=demo, judge=judge)
    assert run.status == RunStatus.SUCCEEDED and run.done == demo.items.count() and run.failed == 0
    assert Rating.objects.filter(rater_id=judge.current_version().rater_id).count() == run.done


@pytest.mark.urls("tests.judges.urls")
def test_a_run_page_says_how_long_it_queued_and_ran_and_links_to_its_verdicts(
    client, project, items, members, make_judge
):
    from datetime import timedelta

    from annotation.models import Rater
    from judges.models import JudgeVerdict, Outcome

    judge = make_judge("openai", name="GPT")
    version = judge.current_version()
    run = JudgeRun.objects.create(
        project=project, judge_version=version, rubric_version=project.rubric_version, items_selector="all", total=2
    )
    created = run.created_at
    JudgeRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        started_at=created + timedelta(seconds=3.2),
        finished_at=created + timedelta(seconds=3.6),
        done=1,
        no_verdict=1,
    )
    rating = Rating.objects.create(
        item=items[0],
        rater=Rater.objects.get(pk=version.rater_id),
        rubric_version=project.rubric_version,
        values={"helpfulness": 4, "correct": True, "tone": "rude"},
        rationales={"helpfulness": "<b>solid</b> answer"},
        source="judge",
    )
    common = {"judge_version": version, "rubric_version": project.rubric_version, "run": run}
    JudgeVerdict.objects.create(item=items[0], outcome=Outcome.OK, rating=rating, **common)
    JudgeVerdict.objects.create(item=items[1], outcome=Outcome.NO_VERDICT, reason="refused", **common)

    client.force_login(members["reviewer"])
    html = client.get(f"/judge-runs/{run.pk}/").content.decode()
    assert "3.2 s before a worker took it" in html and ">0.4 s<" in html, "not 'took 0 s'"
    assert "finished" in html and "succeeded" not in html.split("data-words")[0], "status in words"
    assert f'href="/judge-runs/{run.pk}/verdicts/"' in html

    page = client.get(f"/judge-runs/{run.pk}/verdicts/").content.decode()
    assert "x0" in page and "x1" in page
    assert "judged" in page and "no verdict" in page and "refused" in page
    assert "<td>rude</td>" in page and "<td>Yes</td>" in page and "<td>4</td>" in page
    assert "&lt;b&gt;solid&lt;/b&gt; answer" in page and "<b>solid" not in page
    only = client.get(f"/judge-runs/{run.pk}/verdicts/", {"outcome": "no_verdict"}).content.decode()
    assert "x1" in only and ">x0<" not in only

    client.force_login(members["annotator"])
    assert "/verdicts/" not in client.get(f"/judge-runs/{run.pk}/").content.decode()
    assert client.get(f"/judge-runs/{run.pk}/verdicts/").status_code == 403, "verdicts are ratings: blind"
