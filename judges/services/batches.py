"""Batch-mode judge runs: submit each JudgeBatch once, poll it, ingest its results once, then hand
what it left to the live path (docs/judges.md, "Batch mode").

Every step is a conditional UPDATE on the batch's status, so a step delivered twice (a killed
worker, a restarted broker, the sweeper) does nothing the second time:

- ``judge_batch_submit``: pending → submitting (the marker is already on the row) → submitted
  with the provider's batch id. A submission interrupted between the provider's answer and our
  UPDATE is found again by its marker (``find``) after a lease, never sent twice.
- ``judge_batch_poll``: the provider's state and counts; once it has ended: submitted → ingesting.
- ``judge_batch_ingest``: each line through the provider module's ``answer_read`` and the
  executor's ``answer_judge`` (the live path's reading and validation) into ``ResultWriter`` (the
  live path's one writer, keyed: a line written twice is stored once). Items that already have a
  verdict from the run are skipped. Lines that failed, expired or came back invalid are not
  stored: the live chunks retry them (with repair turns) after the release.
- ``judge_run_batches_release`` (in runs.py, so the beat sweep can call it too): once no batch
  of the run is open, exactly once, the run's chunks are sent for what the batches left; the
  run then ends the usual way.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from annotation.models import Item
from judges.executor import Result, answer_judge
from judges.models import (
    BATCH_OPEN_STATUSES,
    BatchStatus,
    JudgeBatch,
    JudgeRun,
    JudgeVerdict,
    Outcome,
    RunStatus,
)
from judges.prompts import SCHEMA_NAME
from judges.providers import Prompt
from judges.providers.anthropic_messages import MessagesBodies
from judges.providers.batches import BatchClient, BatchState
from judges.providers.batches_anthropic import AnthropicBatches
from judges.providers.batches_openai import OpenAIBatches
from judges.providers.openai_chat import ChatBodies
from judges.services.budgets import batch_budget_reserve
from judges.services.chunks import endpoint_modes, endpoint_refused, run_prompter, stored_samples
from judges.services.runs import judge_run_batches_release
from judges.services.verdicts import ResultWriter
from rubrics.scales import CriterionSpec

logger = logging.getLogger(__name__)
FLUSH_LINES = 500
# openai_compatible servers speak the OpenAI Batch API only sometimes (LiteLLM's proxy does; plain
# vLLM and Ollama answer 404): one without it refuses the upload for good and the items go live.
BATCH_CLIENTS: dict[str, type[OpenAIBatches] | type[AnthropicBatches]] = {
    "openai": OpenAIBatches,
    "anthropic": AnthropicBatches,
    "openai_compatible": OpenAIBatches,
}
_CUSTOM_ID = re.compile(r"^(?P<tag>[0-9a-f]{12})-item-(?P<item>\d+)-s(?P<sample>\d+)$")


@dataclass(frozen=True)
class BatchStep:
    """What the task should do next for this batch: "submit" or "poll", in ``seconds``."""

    kind: str
    seconds: float


def custom_id_for(*, marker: str, item_id: int, sample_index: int) -> str:
    return f"{marker[:12]}-item-{item_id}-s{sample_index}"


def custom_id_parse(*, marker: str, custom_id: str) -> tuple[int, int] | None:
    """(item id, sample index) of one of this batch's lines, or None for a line that is not ours."""
    match = _CUSTOM_ID.match(custom_id or "")
    if match is None or match["tag"] != marker[:12]:
        return None
    return int(match["item"]), int(match["sample"])


def submit_lease_seconds() -> float:
    """How long a submission may be under way before another delivery looks for its batch (an
    upload and a create, each within the request timeout)."""
    return 2 * settings.JUDGES_REQUEST_TIMEOUT + 30


def _load(batch_id: int) -> JudgeBatch | None:
    related = ("run__judge_version__judge", "run__project", "run__rubric_version")
    return JudgeBatch.objects.select_related(*related).filter(pk=batch_id).first()


def _bodies(provider: str) -> ChatBodies | MessagesBodies:
    return MessagesBodies() if provider == "anthropic" else ChatBodies(compatible=provider == "openai_compatible")


def batch_output_mode(*, judge, provider: str) -> tuple[str, bool]:
    """(output mode, logprobs) for batch lines: a batch cannot try modes one after the other, so
    it sends the judge's fixed mode, or what "auto" found, or the provider's first (which the
    provider accepts); a refusal comes back per line and goes down the live path, which adapts."""
    modes = endpoint_modes(judge=judge, provider=provider)
    available = _bodies(provider).modes
    if modes["output_mode"] != "auto":
        return modes["output_mode"], modes["logprobs"]
    found = modes["first_mode"]
    return (found if found in available else available[0]), modes["logprobs"]


def _client(batch: JudgeBatch) -> tuple[BatchClient | None, str]:
    """The provider's batch client for this batch, or why this worker must not call it."""
    version = batch.run.judge_version
    key_env = version.judge.api_key_env
    refused = endpoint_refused(version=version)
    api_key = os.environ.get(key_env, "") if key_env else ""
    if refused or (key_env and not api_key):
        return None, refused or f"the environment variable {key_env} is not set on the worker."
    timeout = float(settings.JUDGES_REQUEST_TIMEOUT)
    return batch_client_for(provider=batch.provider, base_url=version.base_url, api_key=api_key, timeout=timeout), ""


def batch_client_for(*, provider: str, base_url: str, api_key: str, timeout: float) -> BatchClient:
    if provider not in BATCH_CLIENTS:
        raise ValueError(f"provider {provider!r} has no batch API")
    return BATCH_CLIENTS[provider](base_url=base_url or None, api_key=api_key, timeout=timeout)


def _criteria(run: JudgeRun) -> tuple[list, list[CriterionSpec]]:
    rows = list(run.rubric_version.criteria.all())
    return rows, [CriterionSpec(c.key, c.scale, c.rationale_required, c.required) for c in rows]


def _lines(batch: JudgeBatch) -> list[tuple[str, bytes]]:
    """The request bodies of the samples still missing, built exactly as a live call builds them."""
    run = batch.run
    version, judge = run.judge_version, run.judge_version.judge
    finished = set(JudgeVerdict.objects.filter(run=run, item_id__in=batch.item_ids).values_list("item_id", flat=True))
    todo = [i for i in batch.item_ids if i not in finished]
    have = stored_samples(run=run, item_ids=todo)
    data = dict(Item.objects.filter(id__in=todo).values_list("id", "data"))
    rows, criteria = _criteria(run)
    prompt = run_prompter(run=run, criteria_rows=rows, criteria=criteria)
    mode, logprobs = batch_output_mode(judge=judge, provider=batch.provider)
    bodies = _bodies(batch.provider)
    return [
        (
            custom_id_for(marker=batch.marker, item_id=item_id, sample_index=index),
            bodies.request_body(
                prompt=prompt(item_id, data[item_id]),
                model=version.model,
                temperature=version.temperature,
                max_output_tokens=version.max_output_tokens,
                mode=mode,
                logprobs=logprobs,
            ),
        )
        for item_id in todo
        if item_id in data  # items deleted since the run started are skipped
        for index in range(version.samples)
        if index not in have.get(item_id, {})
    ]


def judge_batch_submit(*, batch_id: int) -> BatchStep | None:
    """Send the batch to its provider once. Returns the next step (poll it, or look again when an
    earlier submission may still be under way), or None when there is nothing left to do.

    Raises the provider's error when the submission failed; the task decides whether to retry
    (the lease then makes the next try look for the batch by its marker first).
    """
    batch = _load(batch_id)
    if batch is None:
        return None
    run, now = batch.run, timezone.now()
    if batch.status == BatchStatus.SUBMITTED:
        # Its poll chain is alive unless it has been silent for a while (lost with a broker): a
        # second chain would double the polling for nothing. Never polled: the delivery that
        # submitted may have died before it sent the first poll (the redelivery is this call).
        last = batch.polled_at
        alive = last is not None and now - last < timedelta(seconds=2 * settings.JUDGES_BATCH_POLL_SECONDS + 30)
        return None if alive else BatchStep("poll", 0)
    if batch.status not in (BatchStatus.PENDING, BatchStatus.SUBMITTING):
        return None
    if not run.is_active():
        JudgeBatch.objects.filter(pk=batch.pk, status=batch.status).update(status=BatchStatus.CANCELLED)
        return None
    previous = None
    if batch.status == BatchStatus.PENDING:
        if not JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
            status=BatchStatus.SUBMITTING, submit_started_at=now
        ):
            return BatchStep("submit", submit_lease_seconds())  # another delivery claimed it just now
    else:
        # An earlier delivery began submitting: it is still under way (wait for its lease) or it
        # died, perhaps after the provider accepted the batch (look for it before sending again).
        started = batch.submit_started_at
        lease = timedelta(seconds=submit_lease_seconds())
        if started is not None and now - started < lease:
            return BatchStep("submit", (started + lease - now).total_seconds() + 1)
        if not JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTING, submit_started_at=started).update(
            submit_started_at=now
        ):
            return BatchStep("submit", submit_lease_seconds())
        previous = started or now
    JudgeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(status=RunStatus.RUNNING, started_at=now)
    lines = _lines(batch)
    if not lines:
        _close(batch, BatchStatus.DONE)
        return None
    refused = batch_budget_reserve(batch=batch, lines=lines)
    if refused:
        cap = "run's" if refused == "run" else "project's monthly"
        _close(batch, BatchStatus.FAILED, error=f"not sent: the {cap} budget cannot cover this batch's worst case "
                                                "(its items go the live path, which stops at the cap).")  # fmt: skip
        return None
    client, problem = _client(batch)
    if client is None:
        _close(batch, BatchStatus.FAILED, error=f"nothing was sent: {problem}")
        return None
    try:
        state = None
        if previous is not None:
            taken = set(
                JudgeBatch.objects.filter(provider=batch.provider)
                .exclude(pk=batch.pk)
                .exclude(provider_batch_id="")
                .values_list("provider_batch_id", flat=True)
            )
            state = client.find(marker=batch.marker, since=previous.timestamp(), requests=len(lines), taken=taken)
            if state is not None:
                logger.warning("judge batch %s: adopted provider batch %s found by its marker", batch.pk, state.id)
        if state is None:
            state = client.submit(marker=batch.marker, lines=lines)
    finally:
        client.close()
    if not JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTING).update(
        status=BatchStatus.SUBMITTED,
        provider_batch_id=state.id,
        provider_status=state.status,
        requests=len(lines),
        submitted_at=timezone.now(),
    ):
        # Closed meanwhile (its run was cancelled): the provider would work and bill for nothing.
        logger.warning("judge batch %s closed while it was submitted; cancelling %s", batch.pk, state.id)
        client, _ = _client(batch)
        if client is not None:
            try:
                client.cancel(batch_id=state.id)
            finally:
                client.close()
        return None
    return BatchStep("poll", settings.JUDGES_BATCH_POLL_SECONDS)


def judge_batch_poll(*, batch_id: int) -> BatchStep | None:
    """Ask the provider how the batch is doing; ingest it once it has ended, cancel it at the
    provider when its run was cancelled. Returns the next step, or None."""
    batch = _load(batch_id)
    if batch is None:
        return None
    if batch.status in (BatchStatus.PENDING, BatchStatus.SUBMITTING):
        return BatchStep("submit", 0)
    if batch.status == BatchStatus.INGESTING:  # an ingestion interrupted: do it again (keyed writes)
        judge_batch_ingest(batch_id=batch.pk)
        return None
    if batch.status != BatchStatus.SUBMITTED:
        return None
    client, problem = _client(batch)
    if client is None:
        _close(batch, BatchStatus.FAILED, error=f"cannot ask the provider: {problem}")
        return None
    try:
        if not batch.run.is_active():
            try:
                client.cancel(batch_id=batch.provider_batch_id)
            except Exception:  # the run is cancelled either way; the provider may have ended it already
                logger.warning("judge batch %s: cancelling at the provider failed", batch.pk, exc_info=True)
            _close(batch, BatchStatus.CANCELLED)
            return None
        state = client.poll(batch_id=batch.provider_batch_id)
    finally:
        client.close()
    seen = {
        "provider_status": state.status,
        "completed": state.completed,
        "failed": state.errored,
        "polled_at": timezone.now(),
        "polls": F("polls") + 1,
    }
    if not state.ended:
        JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTED).update(**seen)
        return BatchStep("poll", settings.JUDGES_BATCH_POLL_SECONDS)
    if state.failed:
        JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTED).update(**seen)
        _close(batch, BatchStatus.FAILED, error=f"the provider refused the batch: {state.detail}")
        return None
    if JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTED).update(
        status=BatchStatus.INGESTING,
        ended_at=timezone.now(),
        output_file_id=state.output_file_id,
        error_file_id=state.error_file_id,
        **seen,
    ):
        judge_batch_ingest(batch_id=batch.pk)
    return None


def judge_batch_ingest(*, batch_id: int) -> int:
    """Store the results of an ended batch; returns the lines stored. Safe to run again (an
    interrupted ingestion): items with a verdict from the run and samples already stored are
    skipped, and every write is keyed."""
    batch = _load(batch_id)
    if batch is None or batch.status != BatchStatus.INGESTING:
        return 0
    run = batch.run
    version = run.judge_version
    _, criteria = _criteria(run)
    finished = set(JudgeVerdict.objects.filter(run=run, item_id__in=batch.item_ids).values_list("item_id", flat=True))
    wanted = {i for i in batch.item_ids if i not in finished}
    writer = ResultWriter(
        run=run, criteria=criteria, samples=version.samples, have=stored_samples(run=run, item_ids=sorted(wanted))
    )
    writer.flush()  # items whose samples were all stored by an interrupted ingestion
    mode, _ = batch_output_mode(judge=version.judge, provider=batch.provider)
    bodies = _bodies(batch.provider)
    prompt = Prompt(system="", user="", schema={}, schema_name=SCHEMA_NAME)
    budget = version.max_output_tokens
    client, problem = _client(batch)
    if client is None:
        _close(batch, BatchStatus.FAILED, error=f"cannot read the results: {problem}")
        return 0
    stored = left = invalid_in = invalid_out = 0
    state = BatchState(
        id=batch.provider_batch_id,
        status=batch.provider_status,
        ended=True,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
    )
    try:
        for line in client.results(state=state):
            key = custom_id_parse(marker=batch.marker, custom_id=line.custom_id)
            if key is None or key[0] not in wanted or key[1] >= version.samples:
                continue  # not a line of this batch, or an item finished meanwhile
            item_id, index = key
            if index in writer.have.get(item_id, {}):
                continue
            result = Result(item_id, index, Outcome.FAILED, attempts=1)
            if line.body is None:
                left += 1  # errored or expired: the live path asks again
                continue
            answer = bodies.answer_read(line.body, prompt=prompt, mode=mode, max_output_tokens=budget)
            if answer_judge(result=result, answer=answer, criteria=criteria) is not None:
                left += 1  # invalid output: the live path asks again, with a repair turn
                invalid_in, invalid_out = invalid_in + result.input_tokens, invalid_out + result.output_tokens
                continue
            writer.add([result])
            stored += 1
            if len(writer.new) >= FLUSH_LINES:
                writer.flush()
    finally:
        client.close()
    writer.flush()
    JudgeBatch.objects.filter(pk=batch.pk, status=BatchStatus.INGESTING).update(
        status=BatchStatus.DONE,
        ingested=F("ingested") + stored,
        sent_live=left,
        # Invalid lines are never stored, so a redone ingestion sees them all again: set, not add.
        invalid_input_tokens=invalid_in,
        invalid_output_tokens=invalid_out,
        ingested_at=timezone.now(),
    )
    judge_run_batches_release(run_id=run.pk)
    return stored


def judge_batch_fail(*, batch_id: int, reason: str) -> None:
    """Give a batch up (the provider refused it, or every retry failed): its items go live."""
    batch = _load(batch_id)
    if batch is not None and batch.is_open():
        _close(batch, BatchStatus.FAILED, error=reason)


def _close(batch: JudgeBatch, status: str, *, error: str = "") -> None:
    if JudgeBatch.objects.filter(pk=batch.pk, status__in=BATCH_OPEN_STATUSES).update(status=status, error=error[:2000]):
        if error:
            logger.warning("judge batch %s %s: %s", batch.pk, status, error)
        judge_run_batches_release(run_id=batch.run_id)
