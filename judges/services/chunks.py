"""One chunk of a judge run: call the provider for every missing sample, write what comes back.

Redelivery-safe: the chunk first looks at what is already stored and only asks for the missing
samples. Every write is keyed (see judges/services/verdicts.py), so running a chunk twice, or two
workers running it at once after a visibility timeout, never duplicates a sample or a verdict. An
item's verdict is written in the same transaction as its rating and last samples: an item with a
verdict of this run is finished, and is skipped by a redelivery.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent import futures
from typing import Any

from django.conf import settings
from django.utils import timezone

from annotation.models import Item
from judges.endpoints import endpoint_problem
from judges.executor import Endpoint, Job, Policy, Result, jobs_submit, results_drain
from judges.fewshot import examples_for
from judges.models import ACTIVE_STATUSES, JudgeRun, JudgeRunChunk, JudgeSample, JudgeVerdict, Outcome, RunStatus
from judges.modes import ModeFound, RunStop
from judges.prompts import prompt_build, system_prompt, verdict_schema
from judges.providers import Prompt
from judges.services.budgets import judge_run_stop_at_budget
from judges.services.judges import judge_output_mode_record
from judges.services.runs import judge_run_finish_if_complete
from judges.services.verdicts import ResultWriter
from judges.spending import RunBudget
from rubrics.scales import CriterionSpec

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.25
CANCEL_CHECK_SECONDS = 1.0


def policy_from_settings() -> Policy:
    return Policy(
        concurrency=settings.JUDGES_CONCURRENCY,
        transient_retries=settings.JUDGES_TRANSIENT_RETRIES,
        output_retries=settings.JUDGES_OUTPUT_RETRIES,
        backoff_base=settings.JUDGES_BACKOFF_BASE_SECONDS,
        backoff_max=settings.JUDGES_BACKOFF_MAX_SECONDS,
    )


def rate_limit_redis_url() -> str:
    return settings.JUDGES_RATE_LIMIT_REDIS_URL


def judge_chunk_execute(*, chunk_id: int) -> None:
    """Judge the items of one chunk that are still missing a verdict from this run, then finish it.

    Safe to call again for the same chunk at any point (redelivery, retry): see the module doc.
    """
    chunk = (
        JudgeRunChunk.objects.select_related("run__judge_version__judge", "run__project", "run__rubric_version")
        .filter(pk=chunk_id)
        .first()
    )
    if chunk is None:
        return
    run = chunk.run
    if chunk.finished_at is not None or run.status not in ACTIVE_STATUSES:
        judge_run_finish_if_complete(run_id=run.pk)
        return
    JudgeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    JudgeRunChunk.objects.filter(pk=chunk.pk).update(attempts=chunk.attempts + 1)

    version = run.judge_version
    judge = version.judge
    criteria_rows = list(run.rubric_version.criteria.all())
    criteria = [CriterionSpec(c.key, c.scale, c.rationale_required, c.required) for c in criteria_rows]
    finished = set(JudgeVerdict.objects.filter(run=run, item_id__in=chunk.item_ids).values_list("item_id", flat=True))
    todo = [i for i in chunk.item_ids if i not in finished]
    have = stored_samples(run=run, item_ids=todo)
    writer = ResultWriter(run=run, criteria=criteria, samples=version.samples, have=have)
    # Items whose samples are all stored already (a crash after the samples, before the verdict).
    writer.flush()

    data = dict(Item.objects.filter(id__in=todo).values_list("id", "data"))
    todo = [i for i in todo if i in data]  # items deleted since the run started are skipped
    prompt = run_prompter(run=run, criteria_rows=criteria_rows, criteria=criteria)
    jobs = [
        Job(item_id, index, prompt(item_id, data.get(item_id)))
        for item_id in todo
        for index in range(version.samples)
        if index not in have.get(item_id, {})
    ]
    refused = endpoint_refused(version=version)
    stopped = JudgeRun.objects.filter(pk=run.pk).values_list("error", flat=True).first()
    if stopped and not refused:
        # Another chunk found that every call would fail the same way (a refused parameter).
        writer.add([Result(j.item_id, j.sample_index, Outcome.FAILED, reason=stopped) for j in jobs])
        jobs = []
    api_key = os.environ.get(judge.api_key_env, "") if judge.api_key_env and not refused else ""
    if refused or (judge.api_key_env and not api_key):
        reason = refused or f"the environment variable {judge.api_key_env} is not set on the worker."
        writer.add([Result(j.item_id, j.sample_index, Outcome.FAILED, reason=reason) for j in jobs])
        if refused:
            JudgeRun.objects.filter(pk=run.pk, error="").update(error=f"Refused to run, nothing was sent: {reason}")
        jobs = []
    # Items left without a verdict (a cap refused them, or the run stopped meanwhile): the chunk is
    # not finished, so a resume sends it again; even if the run is active again by now (resumed
    # while this delivery was winding down: its new delivery must not find the chunk finished).
    cut_short = jobs and _calls_run(run=run, jobs=jobs, writer=writer, api_key=api_key, criteria=criteria)
    writer.flush()
    if not cut_short and JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
        # Committed on its own, before the check below, so the last chunk to finish sees them all.
        JudgeRunChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(finished_at=timezone.now())
    judge_run_finish_if_complete(run_id=run.pk)


def prompter(
    *, rubric_version, guidelines: str, version, pool, criteria_rows: list, criteria: list[CriterionSpec]
) -> Callable[[int, Any], Prompt]:
    """The prompt of one call on an item (a fresh nonce per call) as a run sends it: the system
    prompt and schema built once, the few-shot examples per item from ``pool``. Runs (live chunks,
    batches), the cost estimate and the Test action all build their prompts here."""
    system = system_prompt(
        rubric_instructions=rubric_version.instructions,
        guidelines=guidelines,
        criteria=criteria_rows,
        extra=version.system_prompt,
    )
    schema = verdict_schema(criteria)

    def prompt(item_id: int, data: Any) -> Prompt:
        examples = examples_for(item_id=item_id, pool=pool, k=version.few_shot)
        return prompt_build(system=system, schema=schema, data=data, examples=examples)

    return prompt


def run_prompter(*, run: JudgeRun, criteria_rows: list, criteria: list[CriterionSpec]) -> Callable[[int, Any], Prompt]:
    """``prompter`` for an item of ``run``: its rubric version and the few-shot pool it froze."""
    return prompter(
        rubric_version=run.rubric_version, guidelines=run.project.guidelines, version=run.judge_version,
        pool=run.fewshot, criteria_rows=criteria_rows, criteria=criteria,
    )  # fmt: skip


def endpoint_refused(*, version) -> str:
    """Why this worker must not call the judge (its host or key left ACCORD_JUDGE_HOSTS /
    ACCORD_JUDGE_KEYS after the run started, or this worker's settings differ from the web
    server's), or "" when it may."""
    key = version.judge.api_key_env
    problem = endpoint_problem(provider=version.provider, base_url=version.base_url, api_key_env=key)
    return f"refused on the worker: {problem}" if problem else ""


def stored_samples(*, run: JudgeRun, item_ids: list[int]) -> dict[int, dict[int, Result]]:
    """Samples worth keeping: valid ones from any run, and anything this run already stored.
    Failed / no-verdict samples from earlier runs are deleted so this run tries them again."""
    stored = JudgeSample.objects.filter(
        item_id__in=item_ids, judge_version=run.judge_version, rubric_version_id=run.rubric_version_id
    )
    stale = stored.exclude(outcome=Outcome.OK).exclude(run=run)
    if stale.exists():
        stale.delete()
    have: dict[int, dict[int, Result]] = defaultdict(dict)
    for s in stored.iterator():
        have[s.item_id][s.sample_index] = Result(
            s.item_id,
            s.sample_index,
            s.outcome,
            s.values,
            s.rationales,
            s.raw_output,
            s.reason,
            s.attempts,
            s.input_tokens,
            s.output_tokens,
            s.logprobs,
        )
    return have


def _calls_run(*, run: JudgeRun, jobs: list[Job], writer: ResultWriter, api_key: str, criteria) -> bool:
    """Make the calls and write what they answer; True when some were not made: a cap refused
    them, or the run stopped (cancelled, or stopped at a budget by another chunk)."""
    version, judge = run.judge_version, run.judge_version.judge
    endpoint = Endpoint(
        provider=version.provider,
        base_url=version.base_url,
        api_key=api_key,
        timeout=float(settings.JUDGES_REQUEST_TIMEOUT),
        model=version.model,
        temperature=version.temperature,
        max_output_tokens=version.max_output_tokens,
        requests_per_minute=judge.requests_per_minute,
        tokens_per_minute=judge.tokens_per_minute,
        **endpoint_modes(judge=judge, provider=version.provider),
    )
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    missing: dict[int, list[int]] = defaultdict(list)
    for job in jobs:
        missing[job.item_id].append(job.sample_index)
    budget = RunBudget(run=run, max_output_tokens=version.max_output_tokens, samples_missing=missing, stop=stop)
    future = jobs_submit(
        jobs=jobs,
        endpoint=endpoint,
        criteria=criteria,
        policy=policy_from_settings(),
        redis_url=rate_limit_redis_url(),
        results=results,
        stop=stop,
        slot_dir=slot_dir(),
        budget=budget,
    )
    next_check = time.monotonic() + CANCEL_CHECK_SECONDS
    run_stopped = False
    try:
        while not future.done():
            # Write every FLUSH_SECONDS, not as soon as a result arrives: a transaction's fixed cost
            # (BEGIN, two statements, COMMIT) is then shared by the tens of results that arrived
            # meanwhile instead of being paid for every one or two.
            if budget.capped:
                budget.serve(seconds=FLUSH_SECONDS, done=future.done)
            else:
                futures.wait([future], timeout=FLUSH_SECONDS)
            batch = _modes_record(run, judge, results_drain(results))
            if batch:
                writer.add(batch)
                writer.flush()
            budget.flush()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if not JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
                    run_stopped = True
                    stop.set()
        future.result()
    finally:
        stop.set()  # on a soft time limit or a database error, stop sending requests
        if not future.done():
            future.cancel()
        budget.close()
    writer.add(_modes_record(run, judge, results_drain(results)))
    if budget.refused:
        writer.flush()  # the verdicts finished before the stop are the run's, whole
        judge_run_stop_at_budget(run_id=run.pk, cap=budget.refused, since=budget.started_at)
    return bool(budget.refused) or run_stopped


def _modes_record(run: JudgeRun, judge, batch: list) -> list[Result]:
    """Results of the batch; a ModeFound among them is remembered on the judge, a RunStop on the run
    (its other chunks then send nothing)."""
    for found in (x for x in batch if isinstance(x, ModeFound)):
        judge_output_mode_record(judge_id=judge.pk, mode=found.mode, logprobs=found.logprobs, note=found.note)
    for stop in (x for x in batch if isinstance(x, RunStop)):
        JudgeRun.objects.filter(pk=run.pk, error="").update(error=stop.reason[:2000])
    return [x for x in batch if isinstance(x, Result)]


def endpoint_modes(*, judge, provider: str) -> dict:
    """The Endpoint fields that come from the judge's output mode and concurrency settings."""
    return {
        "output_mode": judge.output_mode,
        "first_mode": judge.output_mode_found,
        "logprobs": provider != "anthropic" and not judge.logprobs_refused,
        "max_concurrency": judge.concurrency(provider),
    }


def slot_dir() -> str:
    """Lock files for the calls-in-flight limit when there is no Redis (one machine)."""
    return str(settings.VAR_DIR / "judge-slots")
