"""Judge runs: start, cancel, and the one place a run reaches its final status."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Sum
from django.utils import timezone

from annotation.models import Item, Project, Rater, Rating
from config.errors import Conflict
from judges import dispatch
from judges.endpoints import endpoint_problem
from judges.fewshot import fewshot_pool
from judges.models import (
    ACTIVE_STATUSES,
    BATCH_OPEN_STATUSES,
    Judge,
    JudgeBatch,
    JudgeRun,
    JudgeRunChunk,
    JudgeSample,
    JudgeVerdict,
    JudgeVersion,
    RunMode,
    RunStatus,
)
from judges.selectors import judge_run_counts, judge_run_problems
from judges.services.budgets import budget_batches_settle, budget_leftovers_release, cap_clean
from quality.models import JudgeRaterStatus

logger = logging.getLogger(__name__)
MAX_LISTED_ITEMS = 100_000


def _item_ids_clean(*, project: Project, items: Any) -> list[int] | str:
    if items in ("all", "unjudged"):
        return items
    if not isinstance(items, list) or not items:
        raise ValidationError({"items": ['must be "all", "unjudged" or a non-empty list of item ids.']})
    if len(items) > MAX_LISTED_ITEMS:
        raise ValidationError({"items": [f'at most {MAX_LISTED_ITEMS} item ids per run; use "all".']})
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise ValidationError({"items": ["every item id must be an integer."]})
    wanted = set(items)
    found = set(Item.objects.filter(project=project, id__in=wanted).values_list("id", flat=True))
    missing = sorted(wanted - found)
    if missing:
        shown = ", ".join(map(str, missing[:20]))
        raise ValidationError({"items": [f"not items of this project: {shown}{'…' if len(missing) > 20 else ''}."]})
    return sorted(wanted)


def run_items(*, project: Project, version: JudgeVersion, items: Any) -> tuple[list[int] | str, QuerySet[Item]]:
    """The selection as given (cleaned) and the items a run of ``version`` over it would judge:
    the one rule shared by ``judge_run_start`` and the cost estimate."""
    selection = _item_ids_clean(project=project, items=items)
    rubric_version = project.rubric_version
    rated = Rating.objects.filter(item=OuterRef("pk"), rater_id=version.rater_id, rubric_version=rubric_version)
    queryset = Item.objects.filter(project=project).exclude(Exists(rated))
    if selection == "unjudged":
        tried = JudgeVerdict.objects.filter(item=OuterRef("pk"), judge_version=version, rubric_version=rubric_version)
        queryset = queryset.exclude(Exists(tried))
    elif isinstance(selection, list):
        queryset = queryset.filter(id__in=selection)
    return selection, queryset


@transaction.atomic
def judge_run_start(
    *,
    actor: AbstractBaseUser | None,
    project: Project,
    judge: Judge,
    items: Any,
    mode: str = RunMode.LIVE,
    max_cost: object = None,
) -> JudgeRun:
    """Queue a run of the judge's current version over ``items`` of ``project``.

    ``"all"``: every item this judge version has not rated yet under the project's rubric version
    (items that failed or got no verdict before are tried again). ``"unjudged"``: only items it has
    never tried. A list: those items, minus the ones it has already rated. One active run per
    judge version and project (Conflict otherwise). Chunk tasks are enqueued when the transaction
    commits. ``mode`` "batch" sends the items through the provider's batch API first
    (judges/services/batches.py) and the chunks only for what the batches leave. ``max_cost``:
    the run's budget in dollars (None: none; the project's monthly cap applies either way,
    judges/services/budgets.py). Access checks are the caller's.
    """
    max_cost_micros = cap_clean(value=max_cost, field="max_cost")
    if judge.project_id != project.pk:
        raise ValidationError({"judge": ["no such judge in this project."]})
    if mode not in RunMode.values:
        raise ValidationError({"mode": [f"must be one of: {', '.join(RunMode.values)}."]})
    Judge.objects.select_for_update().filter(pk=judge.pk).first()  # one start at a time per judge
    version = judge.current_version()
    rubric_version = project.rubric_version
    if not judge.enabled:
        raise ValidationError({"judge": ["this judge is disabled: enable it to start a run."]})
    # Checked when the judge was saved, and again now: the operator may have taken its host or
    # its key off ACCORD_JUDGE_HOSTS / ACCORD_JUDGE_KEYS since.
    problem = endpoint_problem(provider=version.provider, base_url=version.base_url, api_key_env=judge.api_key_env)
    if problem:
        raise ValidationError({"judge": [f"this judge refuses to run under the server's settings: {problem}"]})
    if JudgeRun.objects.filter(project=project, judge_version=version, status__in=ACTIVE_STATUSES).exists():
        raise Conflict("This judge version already has a queued or running run in this project; cancel it or wait.")
    selection, queryset = run_items(project=project, version=version, items=items)
    item_ids = list(queryset.order_by("id").values_list("id", flat=True))
    if not item_ids:
        raise ValidationError({"items": ["nothing to judge: this judge version already has verdicts for these items."]})

    run = JudgeRun.objects.create(
        project=project,
        judge_version=version,
        rubric_version=rubric_version,
        items_selector=selection if isinstance(selection, str) else "ids",
        fewshot=fewshot_pool(project=project, k=version.few_shot),
        total=len(item_ids),
        price_input_per_mtok=judge.price_input_per_mtok,
        price_output_per_mtok=judge.price_output_per_mtok,
        max_cost_micros=max_cost_micros,
        created_by=actor,
        mode=mode,
    )
    _shown_items_record(rater_id=version.rater_id, item_ids={example["item_id"] for example in run.fewshot})
    size = settings.JUDGES_CHUNK_SIZE
    JudgeRunChunk.objects.bulk_create(
        JudgeRunChunk(run=run, index=n, item_ids=item_ids[start : start + size])
        for n, start in enumerate(range(0, len(item_ids), size))
    )
    if mode == RunMode.BATCH:
        # The chunks wait: judge_run_batches_release sends them for what the batches leave.
        per_batch = max(1, settings.JUDGES_BATCH_MAX_REQUESTS // version.samples)
        JudgeBatch.objects.bulk_create(
            JudgeBatch(run=run, index=n, provider=version.provider, item_ids=item_ids[start : start + per_batch],
                       marker=uuid.uuid4().hex)
            for n, start in enumerate(range(0, len(item_ids), per_batch))
        )  # fmt: skip
        dispatch.batches_submit_later(batch_ids=list(run.batches.order_by("index").values_list("id", flat=True)))
        return run
    chunk_ids = list(run.chunks.order_by("index").values_list("id", flat=True))
    dispatch.chunks_run_later(chunk_ids=chunk_ids)
    return run


def _shown_items_record(*, rater_id: int, item_ids: set[int]) -> None:
    """Remember which items' human labels this judge version was shown as examples, so that
    agreement never measures it on them (it would be graded against its own answer key)."""
    if not item_ids:
        return
    rater = Rater.objects.select_for_update().get(pk=rater_id)
    shown = set(rater.shown_item_ids or [])
    if not item_ids <= shown:
        rater.shown_item_ids = sorted(shown | item_ids)
        rater.save(update_fields=["shown_item_ids"])


def judge_run_cancel(*, run: JudgeRun) -> JudgeRun:
    """Stop a queued or running run. Chunks notice within about a second and stop sending; what
    was already answered stays. Conflict if the run has already finished."""
    counts = judge_run_counts(run=run)
    changed = JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), **counts.as_run_fields()
    )
    run.refresh_from_db()
    if not changed:
        raise Conflict(f"This run has already finished ({run.status}).")
    return run


def judge_run_finish_if_complete(*, run_id: int) -> bool:
    """Move the run to succeeded / failed when no chunk is left; True for the one caller that did.

    Called by every chunk after it marks itself finished (in its own committed statement), so
    the last one to finish sees no unfinished chunk; the conditional UPDATE lets exactly one
    caller win even when two chunks finish at the same moment.
    """
    unfinished = JudgeRunChunk.objects.filter(run_id=OuterRef("pk"), finished_at__isnull=True)
    run = JudgeRun.objects.filter(pk=run_id).first()
    if (
        run is None
        or run.status not in ACTIVE_STATUSES
        or JudgeRunChunk.objects.filter(run_id=run_id, finished_at__isnull=True).exists()
    ):
        return False
    counts = judge_run_counts(run=run)
    attempted = counts.done + counts.failed + counts.no_verdict
    status = RunStatus.FAILED if run.error or (attempted and not counts.done and counts.failed) else RunStatus.SUCCEEDED
    changed = (
        JudgeRun.objects.filter(pk=run_id, status__in=ACTIVE_STATUSES)
        .exclude(Exists(unfinished))
        .update(status=status, finished_at=timezone.now(), **counts.as_run_fields())
    )
    if changed:
        budget_leftovers_release(run_id=run_id)
        _rater_note_write(run=run, status=status, done=counts.done)
        logger.info("judge run %s %s: %s", run_id, status, counts)
        dispatch.trust_refresh_later(project_id=run.project_id)
    return bool(changed)


def judge_chunk_abandon(*, chunk_id: int, reason: str) -> None:
    """A chunk that cannot complete: mark it finished, record why, and let the run end as failed."""
    chunk = JudgeRunChunk.objects.filter(pk=chunk_id).first()
    if chunk is None:
        return
    JudgeRun.objects.filter(pk=chunk.run_id, error="").update(error=reason[:2000])
    JudgeRunChunk.objects.filter(pk=chunk_id, finished_at__isnull=True).update(finished_at=timezone.now())
    judge_run_finish_if_complete(run_id=chunk.run_id)


def judge_chunk_delivery_count(*, chunk_id: int) -> bool:
    """Count one delivery of a chunk; False once it has been given up (and then it is abandoned).

    ``acks_late`` hands a chunk whose worker died (SIGKILL, out of memory, hard time limit) to
    another worker, and Celery does not count those deliveries: a chunk that kills its worker
    every time would be delivered forever. Progress is measured by the run's verdicts on the
    chunk's items, so a chunk interrupted many times while it keeps moving is never given up;
    JUDGES_CHUNK_MAX_STALLED_ATTEMPTS deliveries in a row without a new verdict are.
    """
    with transaction.atomic():
        chunk = JudgeRunChunk.objects.select_for_update().select_related("run").filter(pk=chunk_id).first()
        if chunk is None or chunk.finished_at is not None or chunk.run.status not in ACTIVE_STATUSES:
            return True  # nothing to count: the chunk service does the remaining bookkeeping
        verdicts = JudgeVerdict.objects.filter(run_id=chunk.run_id, item_id__in=chunk.item_ids).count()
        moved = chunk.verdicts_seen is None or verdicts > chunk.verdicts_seen
        chunk.stalled_attempts = 0 if moved else chunk.stalled_attempts + 1
        chunk.verdicts_seen = verdicts
        chunk.delivered_at = timezone.now()
        chunk.save(update_fields=["stalled_attempts", "verdicts_seen", "delivered_at"])
    limit = settings.JUDGES_CHUNK_MAX_STALLED_ATTEMPTS
    if chunk.stalled_attempts < limit:
        return True
    logger.error("judge chunk %s given up: %s deliveries in a row without a new verdict", chunk_id, limit)
    judge_chunk_abandon(
        chunk_id=chunk_id,
        reason=(
            f"chunk {chunk.index} was given up after {limit} deliveries in a row without a new verdict "
            "(its worker died or it failed every time; see the worker logs)."
        ),
    )
    return False


def judge_runs_requeue_stalled(*, idle_seconds: float) -> int:
    """Send again the unfinished chunks of every active run with no sign of life for
    ``idle_seconds``; return how many chunks were sent.

    A broker that loses messages (Redis restarted without persistence, or crashed within its
    last fsync) loses chunks that were queued: nothing would ever run them and their run would
    stay "running" for ever. Sign of life: the run started or was re-enqueued, a chunk delivery
    began, or a verdict was written. ``idle_seconds`` must exceed the broker's visibility timeout
    plus the task time limit, so that a chunk still held by the broker has had its chance. A
    chunk sent twice is safe (see judges.services.chunks); at worst its calls are made twice.
    """
    cutoff = timezone.now() - timedelta(seconds=idle_seconds)
    sent = 0
    for run in JudgeRun.objects.filter(status__in=ACTIVE_STATUSES, created_at__lt=cutoff):
        if run.requeued_at and run.requeued_at >= cutoff:
            continue
        if run.mode == RunMode.BATCH and run.batch_released_at is None:
            sent += _batches_resend_stalled(run=run, cutoff=cutoff)
            continue
        chunks = JudgeRunChunk.objects.filter(run=run)
        last_delivery = chunks.aggregate(at=Max("delivered_at"))["at"]
        last_verdict = JudgeVerdict.objects.filter(run=run).aggregate(at=Max("updated_at"))["at"]
        if any(at and at >= cutoff for at in (last_delivery, last_verdict)):
            continue
        chunk_ids = list(chunks.filter(finished_at__isnull=True).order_by("index").values_list("id", flat=True))
        if not chunk_ids:  # every chunk finished, but the last one could not close the run
            judge_run_finish_if_complete(run_id=run.pk)
            continue
        if not JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(requeued_at=timezone.now()):
            continue
        logger.warning("judge run %s: no activity for %ss; sending its %s unfinished chunks again",
                       run.pk, idle_seconds, len(chunk_ids))  # fmt: skip
        dispatch.chunks_run_later(chunk_ids=chunk_ids)
        sent += len(chunk_ids)
    return sent


def _batches_resend_stalled(*, run: JudgeRun, cutoff) -> int:
    """A batch-mode run before its release: its chunks must wait, but a submit or poll task the
    broker lost would leave the run waiting for ever. Open batches with no sign of life since
    ``cutoff`` get their step sent again (each step is idempotent)."""
    stalled = []
    if judge_run_batches_release(run_id=run.pk):  # its last batch closed, but the release never ran
        return 0
    for batch in JudgeBatch.objects.filter(run=run, status__in=BATCH_OPEN_STATUSES):
        seen = [at for at in (batch.submit_started_at, batch.submitted_at, batch.polled_at, batch.ended_at) if at]
        if not seen or max(seen) < cutoff:
            stalled.append(batch.pk)
    if stalled and JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(requeued_at=timezone.now()):
        logger.warning("judge run %s: batches %s silent; sending their next step again", run.pk, stalled)
        dispatch.batches_submit_later(batch_ids=stalled)
        return len(stalled)
    return 0


def judge_run_batches_release(*, run_id: int) -> bool:
    """Once no batch of the run is open: record the batch-priced tokens, then send the run's
    chunks for the items the batches left (a chunk whose items all have a verdict is finished
    here). Exactly once, by a conditional UPDATE; True for the caller that did it."""
    open_batches = JudgeBatch.objects.filter(run_id=OuterRef("pk"), status__in=BATCH_OPEN_STATUSES)
    if JudgeBatch.objects.filter(run_id=run_id, status__in=BATCH_OPEN_STATUSES).exists():
        return False
    # Before the release only batch lines wrote samples for this run.
    tokens = JudgeSample.objects.filter(run_id=run_id).aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"))
    invalid = JudgeBatch.objects.filter(run_id=run_id).aggregate(
        i=Sum("invalid_input_tokens"), o=Sum("invalid_output_tokens")
    )
    now = timezone.now()
    released = (
        JudgeRun.objects.filter(
            pk=run_id, batch_released_at__isnull=True, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
        )
        .exclude(Exists(open_batches))
        .update(
            batch_released_at=now,
            batch_input_tokens=(tokens["i"] or 0) + (invalid["i"] or 0),
            batch_output_tokens=(tokens["o"] or 0) + (invalid["o"] or 0),
        )
    )
    if not released:
        return False
    budget_batches_settle(
        run_id=run_id,
        input_tokens=(tokens["i"] or 0) + (invalid["i"] or 0),
        output_tokens=(tokens["o"] or 0) + (invalid["o"] or 0),
    )
    finished = set(JudgeVerdict.objects.filter(run_id=run_id).values_list("item_id", flat=True))
    chunk_ids = []
    for chunk in JudgeRunChunk.objects.filter(run_id=run_id, finished_at__isnull=True).order_by("index"):
        if set(chunk.item_ids) <= finished:
            JudgeRunChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(finished_at=now)
        else:
            chunk_ids.append(chunk.pk)
    logger.info("judge run %s: batches done; %s chunks sent for what they left", run_id, len(chunk_ids))
    dispatch.chunks_run_later(chunk_ids=chunk_ids)
    judge_run_finish_if_complete(run_id=run_id)
    return True


def _rater_note_write(*, run: JudgeRun, status: str, done: int) -> None:
    """Tell agreement why this judge version has no verdict (quality lists such raters with the
    note, never importing judges), or clear the note once it has verdicts."""
    version = JudgeVersion.objects.filter(pk=run.judge_version_id).only("rater_id", "judge_id").first()
    if version is None:
        return
    note = ""
    if done == 0:
        problem = run.error or next((p["reason"] for p in judge_run_problems(run=run)), "") or "no item was rated"
        note = (
            f"run {run.pk} ended {status} with no verdict: {problem[:600]} — try one item with the judge's Test "
            f"button on the Judges page (POST /api/v1/judges/{version.judge_id}/test/) to see the server's answer."
        )
    JudgeRaterStatus.objects.update_or_create(
        rater_id=version.rater_id, defaults={"project_id": run.project_id, "note": note}
    )
