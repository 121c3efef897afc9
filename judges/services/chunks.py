"""One chunk of a judge run: call the provider for every missing sample, write what comes back.

Redelivery-safe: the chunk first looks at what is already stored and only asks for the missing
samples. Every write is keyed (JudgeSample per item/judge version/rubric version/sample index,
JudgeVerdict per item/judge version/rubric version, Rating per item/rater/rubric version) and
inserted with conflicts ignored, so running a chunk twice, or two workers running it at once
after a visibility timeout, never duplicates a sample or a verdict. An item's verdict is written
in the same transaction as its rating and last samples: an item with a verdict of this run is
finished, and is skipped by a redelivery.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import Item, Rating, RatingSource
from judges.aggregation import samples_aggregate
from judges.executor import Endpoint, Job, Policy, Result, jobs_submit, results_drain
from judges.fewshot import examples_for
from judges.models import ACTIVE_STATUSES, JudgeRun, JudgeRunChunk, JudgeSample, JudgeVerdict, Outcome, RunStatus
from judges.prompts import prompt_build, system_prompt, verdict_schema
from judges.services.runs import judge_run_finish_if_complete
from rubrics.scales import CriterionSpec, values_clean

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.25
CANCEL_CHECK_SECONDS = 1.0


def _policy() -> Policy:
    return Policy(
        concurrency=settings.JUDGES_CONCURRENCY,
        transient_retries=settings.JUDGES_TRANSIENT_RETRIES,
        output_retries=settings.JUDGES_OUTPUT_RETRIES,
        backoff_base=settings.JUDGES_BACKOFF_BASE_SECONDS,
        backoff_max=settings.JUDGES_BACKOFF_MAX_SECONDS,
    )


def _redis_url() -> str:
    return settings.JUDGES_RATE_LIMIT_REDIS_URL


class _Writer:
    """Collects sample results per item and writes finished items in small transactions."""

    def __init__(
        self, *, run: JudgeRun, criteria: list[CriterionSpec], samples: int, have: dict[int, dict[int, Result]]
    ):
        self.run = run
        self.version = run.judge_version
        self.criteria = criteria
        self.samples = samples
        self.have = have  # item_id -> sample_index -> Result (stored before, or new)
        self.new: list[Result] = []

    def add(self, results: list[Result]) -> None:
        for result in results:
            self.have.setdefault(result.item_id, {})[result.sample_index] = result
            self.new.append(result)

    def complete_items(self) -> list[int]:
        return [i for i, by_index in self.have.items() if len(by_index) >= self.samples]

    def flush(self) -> int:
        complete = self.complete_items()
        if not self.new and not complete:
            return 0
        new, self.new = self.new, []
        with transaction.atomic():
            JudgeSample.objects.bulk_create(
                [
                    JudgeSample(
                        item_id=r.item_id,
                        judge_version=self.version,
                        rubric_version_id=self.run.rubric_version_id,
                        sample_index=r.sample_index,
                        run=self.run,
                        outcome=r.outcome,
                        values=r.values,
                        rationales=r.rationales,
                        raw_output=r.raw_output,
                        reason=r.reason,
                        attempts=r.attempts,
                        input_tokens=r.input_tokens,
                        output_tokens=r.output_tokens,
                    )
                    for r in new
                ],
                ignore_conflicts=True,
            )
            self._verdicts_write(complete)
        for item_id in complete:
            del self.have[item_id]
        return len(complete)

    def _verdicts_write(self, item_ids: list[int]) -> None:
        if not item_ids:
            return
        rater_id = self.version.rater_id
        verdicts: dict[int, JudgeVerdict] = {}
        ratings: list[Rating] = []
        for item_id in item_ids:
            ordered = [self.have[item_id][i] for i in sorted(self.have[item_id])]
            ok = [r for r in ordered if r.outcome == Outcome.OK]
            verdict = JudgeVerdict(
                item_id=item_id,
                judge_version=self.version,
                rubric_version_id=self.run.rubric_version_id,
                run=self.run,
                outcome=Outcome.OK,
            )
            if len(ok) * 2 > len(ordered):
                values, rationales, spread = samples_aggregate(
                    criteria=self.criteria, samples=[(r.values, r.rationales) for r in ok]
                )
                try:
                    values, rationales = values_clean(criteria=self.criteria, values=values, rationales=rationales)
                except ValidationError as exc:  # e.g. a required rationale missing from every agreeing sample
                    verdict.outcome, verdict.reason = Outcome.FAILED, f"aggregate invalid: {exc.messages}"
                else:
                    spread["samples"] = {"ok": len(ok), "total": len(ordered)}
                    verdict.spread = spread
                    ratings.append(
                        Rating(
                            item_id=item_id,
                            rater_id=rater_id,
                            rubric_version_id=self.run.rubric_version_id,
                            values=values,
                            rationales=rationales,
                            source=RatingSource.JUDGE,
                        )
                    )
            else:
                bad = [r for r in ordered if r.outcome != Outcome.OK]
                refused = [r for r in bad if r.outcome == Outcome.NO_VERDICT]
                verdict.outcome = Outcome.NO_VERDICT if len(refused) * 2 >= len(bad) and refused else Outcome.FAILED
                verdict.reason = (refused or bad)[0].reason[:2000]
                verdict.spread = {"samples": {"ok": len(ok), "total": len(ordered)}}
            verdicts[item_id] = verdict
        if ratings:
            Rating.objects.bulk_create(ratings, ignore_conflicts=True)
            stored = Rating.objects.filter(
                rater_id=rater_id,
                rubric_version_id=self.run.rubric_version_id,
                item_id__in=[r.item_id for r in ratings],
            ).values_list("item_id", "id")
            for item_id, rating_id in stored:
                verdicts[item_id].rating_id = rating_id
        JudgeVerdict.objects.bulk_create(
            verdicts.values(),
            update_conflicts=True,
            unique_fields=["item", "judge_version", "rubric_version"],
            update_fields=["run", "outcome", "rating", "spread", "reason", "updated_at"],
        )


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
    have = _stored_samples(run=run, item_ids=todo)
    writer = _Writer(run=run, criteria=criteria, samples=version.samples, have=have)
    # Items whose samples are all stored already (a crash after the samples, before the verdict).
    writer.flush()

    data = dict(Item.objects.filter(id__in=todo).values_list("id", "data"))
    todo = [i for i in todo if i in data]  # items deleted since the run started are skipped
    system = system_prompt(
        rubric_instructions=run.rubric_version.instructions,
        guidelines=run.project.guidelines,
        criteria=criteria_rows,
        extra=version.system_prompt,
    )
    schema = verdict_schema(criteria)
    jobs = [
        Job(
            item_id,
            index,
            prompt_build(
                system=system,
                schema=schema,
                data=data.get(item_id),
                examples=examples_for(item_id=item_id, pool=run.fewshot, k=version.few_shot),
            ),
        )
        for item_id in todo
        for index in range(version.samples)
        if index not in have.get(item_id, {})
    ]
    api_key = os.environ.get(judge.api_key_env, "") if judge.api_key_env else ""
    if judge.api_key_env and not api_key:
        reason = f"the environment variable {judge.api_key_env} is not set on the worker."
        writer.add([Result(j.item_id, j.sample_index, Outcome.FAILED, reason=reason) for j in jobs])
        jobs = []
    if jobs:
        _calls_run(run=run, jobs=jobs, writer=writer, api_key=api_key, criteria=criteria)
    writer.flush()
    if JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
        # Committed on its own, before the check below, so the last chunk to finish sees them all.
        JudgeRunChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(finished_at=timezone.now())
    judge_run_finish_if_complete(run_id=run.pk)


def _stored_samples(*, run: JudgeRun, item_ids: list[int]) -> dict[int, dict[int, Result]]:
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
        )
    return have


def _calls_run(*, run: JudgeRun, jobs: list[Job], writer: _Writer, api_key: str, criteria) -> None:
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
    )
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    future = jobs_submit(
        jobs=jobs,
        endpoint=endpoint,
        criteria=criteria,
        policy=_policy(),
        redis_url=_redis_url(),
        results=results,
        stop=stop,
    )
    next_check = time.monotonic() + CANCEL_CHECK_SECONDS
    try:
        while not future.done():
            try:
                first = results.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                first = None
            batch = ([first] if first is not None else []) + results_drain(results)
            if batch:
                writer.add(batch)
                writer.flush()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if not JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
                    stop.set()
        future.result()
    finally:
        stop.set()  # on a soft time limit or a database error, stop sending requests
        if not future.done():
            future.cancel()
    writer.add(results_drain(results))
