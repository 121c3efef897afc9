"""Batch-mode runs through the real openai / anthropic SDKs against the fake server's batch APIs."""

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count

from annotation.models import Rating
from judges.models import BatchStatus, JudgeBatch, JudgeRun, JudgeSample, JudgeVerdict, Outcome, RunMode, RunStatus
from judges.selectors import judge_run_batch_progress, judge_run_progress
from judges.services.batches import judge_batch_ingest, judge_batch_poll, judge_batch_submit, submit_lease_seconds
from judges.services.runs import judge_run_start
from judges.tasks import judge_batch_poll_run, judge_batch_submit_run
from testbed import Reply
from tests.judges.conftest import run_chunks

pytestmark = pytest.mark.django_db
NONCE = re.compile(r'id="[^"]*"')


def _start(project, judge, **kwargs):
    return judge_run_start(actor=None, project=project, judge=judge, items="all", mode=RunMode.BATCH, **kwargs)


def _drive(run, *, timeout: float = 10.0):
    """What the worker does: submit each batch, poll until none is open, then run the chunks the
    release sent (for what the batches left)."""
    batches = list(run.batches.order_by("index"))
    for batch in batches:
        judge_batch_submit_run.apply(args=[batch.pk])
    deadline = time.monotonic() + timeout
    while JudgeBatch.objects.filter(run=run, status__in=(BatchStatus.SUBMITTED, BatchStatus.INGESTING)).exists():
        assert time.monotonic() < deadline, "the batches never ended"
        for batch in batches:
            judge_batch_poll_run.apply(args=[batch.pk])
        time.sleep(0.05)
    run_chunks(run)
    run.refresh_from_db()
    return run


def _ratings(judge):
    return Rating.objects.filter(rater=judge.current_version().rater)


def _live_requests(llm):
    return [r for r in llm.requests if r.path in ("/v1/chat/completions", "/v1/messages")]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_it_judges_every_item_through_the_providers_batch_api(llm, project, items, make_judge, provider):
    judge = make_judge(provider, price_input_per_mtok=2, price_output_per_mtok=8)
    llm.batches.delay = 0.2
    run = _start(project, judge)
    assert run.mode == RunMode.BATCH and run.status == RunStatus.QUEUED
    assert judge_run_batch_progress(run=run)["state"] == "submitting"

    run = _drive(run)

    assert run.status == RunStatus.SUCCEEDED and (run.total, run.done, run.failed) == (5, 5, 0)
    assert len(llm.batches.created(provider)) == 1, "one provider batch"
    assert _live_requests(llm) == [], "nothing went through the live endpoint"
    assert _ratings(judge).count() == 5
    assert JudgeVerdict.objects.filter(run=run, outcome=Outcome.OK, rating__isnull=False).count() == 5
    batch = run.batches.get()
    assert (batch.status, batch.requests, batch.ingested, batch.sent_live) == (BatchStatus.DONE, 5, 5, 0)
    assert batch.provider_batch_id == llm.batches.created(provider)[0].id
    # Tokens recorded as live; the cost is half the list price.
    progress = judge_run_progress(run=run)
    assert run.input_tokens > 0 and run.batch_input_tokens == run.input_tokens
    full = (run.input_tokens * 2 + run.output_tokens * 8) / Decimal(1_000_000)
    assert progress.cost_usd_estimate == (full / 2).quantize(Decimal("0.000001"))
    assert judge_run_batch_progress(run=run)["state"] == "done"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_lines_are_exactly_the_live_request_bodies(llm, project, items, make_judge, provider):
    """The same judge settings, once live and once batched: the bodies differ only in the nonce."""
    live_judge = make_judge(provider, name="live", temperature=0.4, max_output_tokens=600, samples=2)
    batch_judge = make_judge(provider, name="batch", temperature=0.4, max_output_tokens=600, samples=2)
    judge_run_start(actor=None, project=project, judge=live_judge, items=[items[0].id])
    run_chunks(live_judge.current_version().runs.get())
    live = _live_requests(llm)[0].json
    _drive(_start(project, batch_judge))

    lines = dict(llm.batches.created(provider)[0].lines)
    assert len(lines) == 10  # 5 items x 2 samples
    first = lines[f"{JudgeBatch.objects.get().marker[:12]}-item-{items[0].id}-s0"]
    assert NONCE.sub("", str(first)) == NONCE.sub("", str(live))


def test_failed_and_invalid_lines_go_down_the_live_path(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.batches.line_faults = {}
    run = _start(project, judge)
    marker = run.batches.get().marker[:12]
    llm.batches.line_faults = {
        f"{marker}-item-{items[0].id}-s0": "errored",
        f"{marker}-item-{items[1].id}-s0": "expired",
    }
    llm.script(Reply.json({"helpfulness": 99}), provider="openai")  # the first line answered: off the scale

    run = _drive(run)

    assert run.status == RunStatus.SUCCEEDED and (run.done, run.failed) == (5, 0)
    batch = run.batches.get()
    assert (batch.ingested, batch.sent_live) == (2, 3)
    assert len(_live_requests(llm)) == 3, "one live call for each line that failed"
    assert _ratings(judge).count() == 5
    assert JudgeSample.objects.filter(run=run).count() == 5
    # Live retries are at the list price; only the batch lines are discounted, the invalid one too
    # (paid for, though stored in no sample).
    assert batch.invalid_input_tokens > 0 and batch.invalid_output_tokens > 0
    samples_in = sum(JudgeSample.objects.filter(run=run).values_list("input_tokens", flat=True))
    assert run.input_tokens == samples_in + batch.invalid_input_tokens
    assert batch.invalid_input_tokens < run.batch_input_tokens < run.input_tokens


def test_a_provider_error_on_every_line_is_recorded_like_a_live_failure(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.fault_rate(400, rate=1.0, retry_after=None, provider="openai")  # batch lines and live calls alike
    run = _drive(_start(project, judge))

    assert run.status == RunStatus.FAILED and run.failed == 5 and run.done == 0
    assert {v.reason[:8] for v in JudgeVerdict.objects.filter(run=run)} == {"HTTP 400"}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_submission_interrupted_after_the_provider_accepted_it_is_not_sent_twice(
    llm, project, items, make_judge, provider
):
    """The worker dies between the provider's answer and our UPDATE: the row still says
    "submitting" with no provider id. The next delivery, after the lease, finds the batch by its
    marker and adopts it."""
    judge = make_judge(provider)
    run = _start(project, judge)
    batch = run.batches.get()
    judge_batch_submit(batch_id=batch.pk)
    assert len(llm.batches.created(provider)) == 1
    provider_id = JudgeBatch.objects.get().provider_batch_id
    # Undo what the dead worker could not write, and let its lease run out.
    started = JudgeBatch.objects.get().submit_started_at - timedelta(seconds=submit_lease_seconds() + 1)
    JudgeBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SUBMITTING, provider_batch_id="", submit_started_at=started
    )

    judge_batch_submit(batch_id=batch.pk)  # the redelivery

    assert len(llm.batches.created(provider)) == 1, "no second provider batch"
    assert JudgeBatch.objects.get().provider_batch_id == provider_id
    run = _drive(run)
    assert run.done == 5 and _ratings(judge).count() == 5


def test_a_submission_still_under_way_is_left_alone(llm, project, items, make_judge):
    judge = make_judge("openai")
    batch = _start(project, judge).batches.get()
    JudgeBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.SUBMITTING, submit_started_at=batch.run.created_at)

    step = judge_batch_submit(batch_id=batch.pk)

    assert step.kind == "submit" and step.seconds > 1
    assert llm.batches.created() == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_every_step_run_twice_changes_nothing(llm, project, items, make_judge, provider):
    judge = make_judge(provider, samples=2)
    run = _start(project, judge)
    batch_id = run.batches.get().pk
    judge_batch_submit(batch_id=batch_id)
    judge_batch_submit(batch_id=batch_id)
    assert len(llm.batches.created(provider)) == 1
    judge_batch_poll(batch_id=batch_id)  # ended (no delay): ingested
    judge_batch_poll(batch_id=batch_id)
    # An ingestion delivered again after it finished, and one interrupted midway and redone.
    judge_batch_ingest(batch_id=batch_id)
    JudgeBatch.objects.filter(pk=batch_id).update(status=BatchStatus.INGESTING)
    judge_batch_ingest(batch_id=batch_id)
    run_chunks(run)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    assert JudgeSample.objects.filter(run=run).count() == 10
    assert not JudgeVerdict.objects.values("item").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert _ratings(judge).count() == 5
    assert _live_requests(llm) == []


def test_progress_shows_the_provider_counts_while_the_batch_runs(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.batches.delay = 30
    run = _start(project, judge)
    batch_id = run.batches.get().pk
    judge_batch_submit(batch_id=batch_id)
    assert judge_run_batch_progress(run=run)["state"] in ("submitted", "in_progress")
    llm.batches.batches[llm.batches.created()[0].id].created -= 15  # halfway through its delay

    step = judge_batch_poll(batch_id=batch_id)

    progress = judge_run_batch_progress(run=run)
    assert step.kind == "poll" and progress["state"] == "in_progress"
    assert progress["requests"] == 5 and 0 < progress["completed"] < 5


def test_a_cancelled_run_cancels_its_batch_at_the_provider(llm, project, items, make_judge, client_for, members):
    judge = make_judge("anthropic")
    llm.batches.delay = 30
    run = _start(project, judge)
    judge_batch_submit(batch_id=run.batches.get().pk)
    manager = client_for(members["manager"])
    assert manager.post(f"/api/v1/judge-runs/{run.pk}/cancel/").json()["status"] == "cancelled"

    assert judge_batch_poll(batch_id=run.batches.get().pk) is None

    assert llm.batches.created()[0].cancelled
    assert run.batches.get().status == BatchStatus.CANCELLED
    assert JudgeVerdict.objects.filter(run=run).count() == 0


def test_the_api_starts_a_batch_run_and_shows_its_state(llm, project, items, make_judge, client_for, members):
    judge = make_judge("openai")
    manager = client_for(members["manager"])
    response = manager.post(
        f"/api/v1/projects/{project.pk}/judge-runs/",
        {"judge": judge.pk, "items": "all", "mode": "batch"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["mode"] == "batch" and data["batch"]["state"] == "submitting" and data["batch"]["batches"] == 1

    _drive(JudgeRun.objects.get(pk=data["id"]))
    data = manager.get(f"/api/v1/judge-runs/{data['id']}/").json()
    assert data["status"] == "succeeded" and data["batch"]["state"] == "done" and data["batch"]["ingested"] == 5
    live = manager.post(
        f"/api/v1/projects/{project.pk}/judge-runs/", {"judge": judge.pk, "items": "all"}, format="json"
    )
    assert live.status_code == 400 and "items" in live.json()["errors"]  # all rated; default mode is live


def test_an_openai_compatible_server_with_the_batch_api_judges_through_it(llm, project, items, make_judge):
    """LiteLLM's proxy and others speak the OpenAI Batch API: the run goes through it, with the
    compatible request body (``max_tokens``) a live call to that server sends."""
    judge = make_judge("openai_compatible", api_key_env="")
    run = _drive(_start(project, judge))

    assert run.status == RunStatus.SUCCEEDED and (run.done, run.failed) == (5, 0)
    (created,) = llm.batches.created("openai")
    assert run.batches.get().provider_batch_id == created.id and _live_requests(llm) == []
    assert all("max_tokens" in body and "max_completion_tokens" not in body for _, body in created.lines)
    assert _ratings(judge).count() == 5 and run.batch_input_tokens == run.input_tokens > 0


def test_an_openai_compatible_server_without_a_batch_api_sends_the_items_live(llm, project, items, make_judge):
    """Plain vLLM and Ollama answer 404 on /v1/files: the batch is given up at once, saying why,
    and the items are judged live at the list price."""
    judge = make_judge("openai_compatible", api_key_env="")
    llm.batches.enabled = False
    run = _drive(_start(project, judge))

    batch = run.batches.get()
    assert batch.status == BatchStatus.FAILED and "this server has no batch API" in batch.error
    assert run.status == RunStatus.SUCCEEDED and (run.done, run.failed) == (5, 0)
    assert len(_live_requests(llm)) == 5 and _ratings(judge).count() == 5
    assert run.batch_input_tokens == 0 and run.input_tokens > 0


def test_a_manager_starts_a_batch_run_from_the_judges_page_and_watches_its_state(
    client, llm, project, items, members, make_judge
):
    judge = make_judge("anthropic", name="Claude")
    local = make_judge("openai_compatible", name="Local", api_key_env="")
    client.force_login(members["manager"])
    page = client.get(f"/projects/{project.pk}/judges/").content.decode()
    # Offered for every provider: an OpenAI-compatible server without a batch API sends the items live.
    assert page.count('name="mode"') == 2 and f"/judges/{local.pk}/run/" in page

    response = client.post(f"/projects/{project.pk}/judges/{judge.pk}/run/", {"items": "all", "mode": "batch"})
    run = JudgeRun.objects.get()
    assert response.status_code == 302 and run.mode == RunMode.BATCH
    html = client.get(f"/judge-runs/{run.pk}/").content.decode()
    assert "Batch mode" in html and "submitting to the provider" in html
    assert "batch: submitting to the provider" in client.get(f"/projects/{project.pk}/judges/").content.decode()

    _drive(run)
    html = client.get(f"/judge-runs/{run.pk}/").content.decode()
    assert "results read" in html
    assert "batch" in client.get(f"/projects/{project.pk}/judges/").content.decode()


def test_the_stalled_sweep_revives_a_lost_poll_and_never_sends_the_chunks_early(
    llm, project, items, make_judge, monkeypatch
):
    from judges import dispatch
    from judges.services.runs import judge_runs_requeue_stalled

    judge = make_judge("openai")
    run = _start(project, judge)
    batch = run.batches.get()
    judge_batch_submit(batch_id=batch.pk)
    sent = {"chunks": [], "batches": []}
    monkeypatch.setattr(dispatch, "chunks_run_later", lambda *, chunk_ids: sent["chunks"].extend(chunk_ids))
    monkeypatch.setattr(dispatch, "batches_submit_later", lambda *, batch_ids: sent["batches"].extend(batch_ids))
    past = run.created_at - timedelta(hours=3)
    JudgeRun.objects.filter(pk=run.pk).update(created_at=past)

    assert judge_runs_requeue_stalled(idle_seconds=3600) == 0  # submitted just now: alive
    JudgeBatch.objects.filter(pk=batch.pk).update(submit_started_at=past, submitted_at=past)
    assert judge_runs_requeue_stalled(idle_seconds=3600) == 1  # its poll chain was lost with the broker

    assert sent == {"chunks": [], "batches": [batch.pk]}
    assert judge_batch_submit(batch_id=batch.pk).kind == "poll"  # a silent submitted batch is polled again
    assert len(llm.batches.created()) == 1


def test_a_run_split_into_several_batches_goes_live_only_once_every_batch_is_read(
    llm, project, items, make_judge, settings, monkeypatch
):
    from judges import dispatch

    settings.JUDGES_BATCH_MAX_REQUESTS = 4  # 5 items x 2 samples: 2 items per batch, 3 batches
    judge = make_judge("anthropic", samples=2)
    run = _start(project, judge)
    batches = list(run.batches.order_by("index"))
    assert [len(b.item_ids) for b in batches] == [2, 2, 1]
    sent = []
    monkeypatch.setattr(dispatch, "chunks_run_later", lambda *, chunk_ids: sent.append(list(chunk_ids)))
    marker = batches[2].marker[:12]
    llm.batches.line_faults = {f"{marker}-item-{items[4].id}-s1": "expired"}
    for batch in batches:
        judge_batch_submit(batch_id=batch.pk)
    judge_batch_poll(batch_id=batches[2].pk)
    judge_batch_poll(batch_id=batches[0].pk)
    run.refresh_from_db()
    assert sent == [] and run.batch_released_at is None, "a batch is still at the provider"

    judge_batch_poll(batch_id=batches[1].pk)

    run.refresh_from_db()
    assert run.batch_released_at is not None
    unfinished = list(run.chunks.filter(finished_at__isnull=True).values_list("id", flat=True))
    assert sent == [unfinished] and len(unfinished) == 1, "only the chunk holding the expired line goes live"
    assert len(llm.batches.created()) == 3 and JudgeVerdict.objects.filter(run=run).count() == 4
    assert JudgeSample.objects.filter(run=run, item=items[4]).count() == 1  # s0 kept, s1 asked again live
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    assert len(_live_requests(llm)) == 1, "one live call: the missing sample only"


def test_the_stalled_sweep_releases_a_run_whose_last_batch_closed_without_releasing_it(
    llm, project, items, make_judge, monkeypatch
):
    from judges import dispatch
    from judges.services.runs import judge_runs_requeue_stalled

    judge = make_judge("openai")
    run = _start(project, judge)
    batch = run.batches.get()
    judge_batch_submit(batch_id=batch.pk)
    sent = []
    monkeypatch.setattr(dispatch, "chunks_run_later", lambda *, chunk_ids: sent.extend(chunk_ids))
    # The worker died right after closing the batch, before the release.
    past = run.created_at - timedelta(hours=3)
    JudgeBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, error="refused")
    JudgeRun.objects.filter(pk=run.pk).update(created_at=past)

    judge_runs_requeue_stalled(idle_seconds=3600)

    run.refresh_from_db()
    assert run.batch_released_at is not None and len(sent) == run.chunks.count() == 2


def test_a_batch_the_provider_refuses_for_good_sends_its_items_live(llm, project, items, make_judge):
    """A 404 on the batch API (a server without it, a wrong path): the task gives the batch up at
    once, and the live path records the same error on every item, as a live run would."""
    judge = make_judge("openai", base_url=f"{llm.url}/elsewhere/v1")
    run = _drive(_start(project, judge))

    batch = run.batches.get()
    assert batch.status == BatchStatus.FAILED and "HTTP 404" in batch.error
    assert llm.batches.created() == []
    assert run.status == RunStatus.FAILED and run.failed == 5
    assert all("HTTP 404" in v.reason for v in JudgeVerdict.objects.filter(run=run))
