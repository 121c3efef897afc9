"""Reads for judges, and who may see them."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from annotation.models import Project
from annotation.selectors import projects_for_user
from judges.endpoints import endpoint_problem
from judges.models import (
    BATCH_PRICE_FACTOR,
    BatchStatus,
    Judge,
    JudgeBatch,
    JudgeRun,
    JudgeSample,
    JudgeSpend,
    JudgeVerdict,
    JudgeVersion,
    Outcome,
    RunMode,
    RunStatus,
)
from quality.models import RaterTrust


def judges_for_user(*, user: AbstractBaseUser) -> QuerySet[Judge]:
    return Judge.objects.filter(project__in=projects_for_user(user=user)).select_related("project").order_by("id")


def judge_fewshot_item_ids(*, judge_version: JudgeVersion) -> set[int]:
    """Items shown to this judge version as few-shot examples in any run: leave them out of calibration."""
    ids: set[int] = set()
    for pool in JudgeRun.objects.filter(judge_version=judge_version).values_list("fewshot", flat=True):
        ids.update(int(example["item_id"]) for example in pool or [])
    return ids


@dataclass(frozen=True)
class RunProgress:
    total: int
    done: int
    failed: int
    no_verdict: int
    input_tokens: int
    output_tokens: int
    cost_usd_estimate: Decimal

    def as_dict(self) -> dict:
        return asdict(self)

    def as_run_fields(self) -> dict:
        """The counts as the JudgeRun columns that keep them once the run has ended."""
        return {
            "done": self.done,
            "failed": self.failed,
            "no_verdict": self.no_verdict,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


def run_cost(*, run: JudgeRun, input_tokens: int, output_tokens: int) -> Decimal:
    """Tokens at the run's prices; in batch mode the tokens of batch lines at BATCH_PRICE_FACTOR of
    them (until the batches are released every token of the run came from a batch line; after,
    the live retries of what they left are at the list price)."""
    cost = (input_tokens * run.price_input_per_mtok + output_tokens * run.price_output_per_mtok) / Decimal(1_000_000)
    if run.mode == RunMode.BATCH:
        batch_in, batch_out = (
            (input_tokens, output_tokens)
            if run.batch_released_at is None
            else (run.batch_input_tokens, run.batch_output_tokens)
        )
        batch = (batch_in * run.price_input_per_mtok + batch_out * run.price_output_per_mtok) / Decimal(1_000_000)
        cost -= batch * (1 - BATCH_PRICE_FACTOR)
    return cost.quantize(Decimal("0.000001"))


# The batch states in words (the run page's script shows them as the server names them).
BATCH_STATE_WORDS = {
    "submitting": "submitting to the provider",
    "submitted": "submitted; the provider is validating it",
    "in_progress": "the provider is working on it",
    "ingesting": "reading the results",
    "done": "results read",
}


def judge_run_batch_progress(*, run: JudgeRun) -> dict | None:
    """Where a batch-mode run's provider batches are: ``state`` "submitting", "submitted" (the
    provider is validating), "in_progress" (with the provider's counts), "ingesting" or "done"
    (what they left then runs live, counted in the run's usual figures); None for a live run."""
    if run.mode != RunMode.BATCH:
        return None
    rows = list(
        JudgeBatch.objects.filter(run=run).values(
            "status", "provider_status", "requests", "completed", "failed", "ingested", "sent_live", "error"
        )
    )
    statuses = {r["status"] for r in rows}
    if statuses & {BatchStatus.PENDING, BatchStatus.SUBMITTING}:
        state = "submitting"
    elif BatchStatus.SUBMITTED in statuses:
        started = any(r["provider_status"] in ("in_progress", "finalizing") for r in rows)
        state = "in_progress" if started else "submitted"
    elif BatchStatus.INGESTING in statuses:
        state = "ingesting"
    else:
        state = "done"
    total = {key: sum(r[key] for r in rows) for key in ("requests", "completed", "failed", "ingested", "sent_live")}
    errors = sorted({r["error"] for r in rows if r["error"]})
    return {"state": state, "batches": len(rows), **total, "errors": errors[:5]}


def judge_run_counts(*, run: JudgeRun) -> RunProgress:
    """Live figures, counted from the verdicts and samples this run wrote."""
    verdicts = JudgeVerdict.objects.filter(run=run).aggregate(
        done=Count("id", filter=Q(outcome=Outcome.OK)),
        failed=Count("id", filter=Q(outcome=Outcome.FAILED)),
        no_verdict=Count("id", filter=Q(outcome=Outcome.NO_VERDICT)),
    )
    tokens = JudgeSample.objects.filter(run=run).aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"))
    i, o = tokens["i"] or 0, tokens["o"] or 0
    if run.mode == RunMode.BATCH:  # batch answers that were not a valid verdict: paid, in no sample
        invalid = JudgeBatch.objects.filter(run=run).aggregate(
            i=Sum("invalid_input_tokens"), o=Sum("invalid_output_tokens")
        )
        i, o = i + (invalid["i"] or 0), o + (invalid["o"] or 0)
    return RunProgress(
        run.total,
        verdicts["done"],
        verdicts["failed"],
        verdicts["no_verdict"],
        i,
        o,
        run_cost(run=run, input_tokens=i, output_tokens=o),
    )


def judge_run_problems(*, run: JudgeRun, limit: int = 10) -> list[dict]:
    """Why items of this run got no rating, most frequent first: ``{outcome, reason, items}`` per
    distinct reason (a max-tokens stop, a provider error, an answer off the scale, …), so a run
    with many failures says what to change rather than only how many."""
    rows = (
        JudgeVerdict.objects.filter(run=run)
        .exclude(outcome=Outcome.OK)
        .values("outcome", "reason")
        .annotate(items=Count("id"))
        .order_by("-items", "outcome", "reason")[:limit]
    )
    return [{"outcome": r["outcome"], "reason": r["reason"], "items": r["items"]} for r in rows]


def judge_run_progress(*, run: JudgeRun) -> RunProgress:
    """Stored figures once the run has finished, live ones before."""
    if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        return RunProgress(
            run.total,
            run.done,
            run.failed,
            run.no_verdict,
            run.input_tokens,
            run.output_tokens,
            run_cost(run=run, input_tokens=run.input_tokens, output_tokens=run.output_tokens),
        )
    return judge_run_counts(run=run)


@dataclass(frozen=True)
class JudgeRow:
    judge: Judge
    version: JudgeVersion
    latest_run: JudgeRun | None
    trusted: list[RaterTrust]  # criteria its current version may label on its own
    measured: int  # criteria its current version was measured on
    undecided: list[RaterTrust]  # measured, but too few items or too wide an interval to say
    problem: str = ""  # why it refuses to run under today's settings (judges/endpoints.py)
    concurrency: int = 0  # calls in flight allowed, all workers together


def project_judges_overview(*, project: Project) -> tuple[list[JudgeRow], list[JudgeRun]]:
    """The project's judges, each with its current version, its latest run and its trust under the
    project's rubric version; and the project's 20 latest runs. A handful of queries, whatever
    the number of judges."""
    judges = list(Judge.objects.filter(project=project).order_by("name"))
    versions = judges_current_versions(judges=judges)
    latest = {}
    runs = JudgeRun.objects.filter(project=project).select_related("judge_version__judge").order_by("-id")
    for run in runs.filter(judge_version__in=versions.values()):
        latest.setdefault(run.judge_version.judge_id, run)
    trust: dict[int, list[RaterTrust]] = {}
    for row in RaterTrust.objects.filter(
        project=project,
        rubric_version_id=project.rubric_version_id,
        rater_id__in=[v.rater_id for v in versions.values()],
    ).order_by("criterion_key"):
        trust.setdefault(row.rater_id, []).append(row)
    rows = [
        JudgeRow(
            judge=judge,
            version=versions[judge.pk],
            latest_run=latest.get(judge.pk),
            trusted=[t for t in trust.get(versions[judge.pk].rater_id, []) if t.trusted],
            measured=len(trust.get(versions[judge.pk].rater_id, [])),
            undecided=[
                t for t in trust.get(versions[judge.pk].rater_id, []) if not t.trusted and t.status == "not_enough_data"
            ],
            problem=_problem(judge, versions[judge.pk]),
            concurrency=judge.concurrency(versions[judge.pk].provider),
        )
        for judge in judges
        if judge.pk in versions
    ]
    return rows, list(runs[:20])


def _problem(judge: Judge, version: JudgeVersion) -> str:
    return endpoint_problem(provider=version.provider, base_url=version.base_url, api_key_env=judge.api_key_env)


def month_start(now: datetime.datetime | None = None) -> datetime.date:
    """The ledger's month for ``now`` (UTC): its first day."""
    now = now or timezone.now()
    return now.astimezone(datetime.UTC).date().replace(day=1)


def project_spend_month(*, project_id: int, month: datetime.date | None = None) -> dict:
    """This month's figures in micro-dollars: spent, reserved, cap (None) and what is left. One query."""
    month = month or month_start()
    ledger = JudgeSpend.objects.filter(project_id=OuterRef("pk"), month=month)
    row = (
        Project.objects.filter(pk=project_id)
        .values(
            cap=F("judge_budget__monthly_cap_micros"),
            spent=Subquery(ledger.values("spent_micros")[:1]),
            reserved=Subquery(ledger.values("reserved_micros")[:1]),
        )
        .first()
        or {}
    )
    cap, spent, reserved = row.get("cap"), row.get("spent") or 0, row.get("reserved") or 0
    return {
        "month": month,
        "spent_micros": spent,
        "reserved_micros": reserved,
        "cap_micros": cap,
        "left_micros": None if cap is None else max(0, cap - spent - reserved),
    }


def judges_current_versions(*, judges: list[Judge]) -> dict[int, JudgeVersion]:
    """Each judge's current (latest) version by judge id. One query, whatever their number."""
    versions: dict[int, JudgeVersion] = {}
    for version in JudgeVersion.objects.filter(judge__in=judges).order_by("judge_id", "-number"):
        versions.setdefault(version.judge_id, version)
    return versions


def judges_listed(*, judges: QuerySet[Judge] | list[Judge]) -> list[Judge]:
    """The judges as the API lists them: each with ``current`` (its current version) and
    ``spent_micros`` (what every run of every version has spent). Two queries besides the judges'
    own, whatever their number: versions, then spend summed in one grouped query."""
    judges = list(judges)
    versions = judges_current_versions(judges=judges)
    runs = JudgeRun.objects.filter(judge_version__judge__in=judges).order_by()
    spent = dict(
        runs.values("judge_version__judge_id")
        .annotate(spent=Sum("cost_spent_micros"))
        .values_list("judge_version__judge_id", "spent")
    )
    for judge in judges:
        judge.current = versions[judge.pk]
        judge.spent_micros = spent.get(judge.pk) or 0
    return judges
