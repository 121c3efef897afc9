"""The run progress page and the run_judge management command."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from config.celery import app as celery_app
from judges.models import JudgeRun, RunStatus
from judges.services import runs
from judges.services.runs import judge_run_start
from tests.fakes.llm_replies import Reply

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
    make_judge("openai", name="GPT")
    llm.script(Reply.error(400, headers={}, message="<b>bad</b> request"))
    out = io.StringIO()
    call_command("run_judge", str(project.id), "GPT", "--items", "all", "--wait", "--poll", "0.05", stdout=out)

    assert re.search(r"1 failed: HTTP 400 from the provider: .*<b>bad</b> request", out.getvalue())
    client.force_login(members["annotator"])
    html = client.get(f"/judge-runs/{JudgeRun.objects.get().id}/").content.decode()
    assert "Why items were not rated" in html
    assert "&lt;b&gt;bad&lt;/b&gt; request" in html and "<b>bad</b>" not in html
