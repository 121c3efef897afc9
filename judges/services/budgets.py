"""Budgets: the run's cap and the project's monthly cap, enforced across every worker.

The ledger is two rows per call: the run (``JudgeRun.cost_*_micros``) and the project's month
(``JudgeSpend``). Before a call is sent, its worst case is *reserved* with one conditional UPDATE
per row (``... SET reserved = reserved + x WHERE spent + reserved + x <= cap``): PostgreSQL takes
the row lock and re-checks the condition on the newest row version, so two workers can never
both squeeze into the last dollar, whichever machine they run on. After the answer the
reservation is *settled*: released, and the tokens the provider counted added to ``spent``.
Always the run's row first, then the month's, in every transaction here: no deadlock between
workers. Amounts are integer micro-dollars (judges/costs.py).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from annotation.models import Project
from config.errors import Conflict
from judges import dispatch
from judges.costs import TEMPLATE_TOKENS, cost_micros, micros_of, usd
from judges.models import (
    ACTIVE_STATUSES,
    BATCH_PRICE_FACTOR,
    JudgeBatch,
    JudgeBudget,
    JudgeRun,
    JudgeSpend,
    JudgeVerdict,
    RunStatus,
)
from judges.selectors import judge_run_counts, month_start, project_spend_month

MAX_CAP_USD = Decimal(10**9)


def cap_clean(*, value: object, field: str) -> int | None:
    """A cap typed by a person (dollars) as micro-dollars; None / "" = no cap. ValidationError
    with the field's name for anything that is not a non-negative amount."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError({field: ["must be an amount in dollars, e.g. 5 or 0.50."]})
    try:
        dollars = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValidationError({field: ["must be an amount in dollars, e.g. 5 or 0.50."]}) from None
    if not dollars.is_finite():
        raise ValidationError({field: ["must be an amount in dollars, e.g. 5 or 0.50."]})
    if dollars < 0:
        raise ValidationError({field: ["must be zero or more."]})
    if dollars > MAX_CAP_USD:
        raise ValidationError({field: [f"must be at most {MAX_CAP_USD:,} dollars."]})
    return micros_of(dollars)


def spend_month_ensure(*, project_id: int, month: datetime.date) -> None:
    """The month's ledger row exists (reservations only UPDATE it)."""
    if not JudgeSpend.objects.filter(project_id=project_id, month=month).exists():
        with transaction.atomic():
            JudgeSpend.objects.get_or_create(project_id=project_id, month=month)


@transaction.atomic
def budget_reserve(*, run_id: int, project_id: int, month: datetime.date, micros: int) -> str:
    """Reserve ``micros`` on the run and on the project's month; "" when both had room, else
    which cap refused ("run" or "month"), and then nothing is reserved."""
    room_on_run = Q(max_cost_micros__isnull=True) | Q(
        max_cost_micros__gte=F("cost_spent_micros") + F("cost_reserved_micros") + micros
    )
    if not JudgeRun.objects.filter(room_on_run, pk=run_id).update(
        cost_reserved_micros=F("cost_reserved_micros") + micros
    ):
        return "run"
    if not budget_month_reserve(project_id=project_id, month=month, micros=micros):
        transaction.set_rollback(True)  # the run's reservation above goes too
        return "month"
    return ""


def budget_month_reserve(*, project_id: int, month: datetime.date, micros: int) -> bool:
    """Reserve ``micros`` on the project's month; False when its cap has no room. Alone (outside
    ``budget_reserve``) for a call that belongs to no run: the judge's Test."""
    cap = JudgeBudget.objects.filter(project_id=project_id).values_list("monthly_cap_micros", flat=True).first()
    month_row = JudgeSpend.objects.filter(project_id=project_id, month=month)
    if cap is not None:
        month_row = month_row.filter(spent_micros__lte=cap - micros - F("reserved_micros"))
    return bool(month_row.update(reserved_micros=F("reserved_micros") + micros))


def budget_reserved(*, run_id: int, project_id: int, month: datetime.date, row: str) -> int:
    """What is reserved now on the run's row (``row`` "run") or the project's month ("month")."""
    if row == "run":
        return JudgeRun.objects.filter(pk=run_id).values_list("cost_reserved_micros", flat=True).first() or 0
    rows = JudgeSpend.objects.filter(project_id=project_id, month=month)
    return rows.values_list("reserved_micros", flat=True).first() or 0


@transaction.atomic
def budget_settle(*, run_id: int, project_id: int, month: datetime.date, spent: int, released: int) -> None:
    """Release ``released`` of the reservations and add ``spent`` (what the answers cost).
    Never below zero: a run's leftover reservations may have been released already."""
    if not spent and not released:
        return
    JudgeRun.objects.filter(pk=run_id).update(
        cost_spent_micros=F("cost_spent_micros") + spent,
        cost_reserved_micros=Greatest(F("cost_reserved_micros") - released, 0),
    )
    budget_month_settle(project_id=project_id, month=month, spent=spent, released=released)


def budget_month_settle(*, project_id: int, month: datetime.date, spent: int, released: int) -> None:
    """The month's half of ``budget_settle``; alone for the judge's Test, which has no run."""
    updated = JudgeSpend.objects.filter(project_id=project_id, month=month).update(
        spent_micros=F("spent_micros") + spent, reserved_micros=Greatest(F("reserved_micros") - released, 0)
    )
    if not updated:  # the month's row is made on first use; spend is recorded even without a cap
        JudgeSpend.objects.create(project_id=project_id, month=month, spent_micros=spent)


@transaction.atomic
def budget_leftovers_release(*, run_id: int) -> None:
    """A finished run holds no reservation: what a killed worker reserved and never settled is
    given back to this month (and to the run)."""
    run = JudgeRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or not run.cost_reserved_micros:
        return
    JudgeSpend.objects.filter(project_id=run.project_id, month=month_start()).update(
        reserved_micros=Greatest(F("reserved_micros") - run.cost_reserved_micros, 0)
    )
    JudgeRun.objects.filter(pk=run_id).update(cost_reserved_micros=0)


def batch_budget_reserve(*, batch: JudgeBatch, lines: list[tuple[str, bytes]]) -> str:
    """Before a provider batch is submitted: reserve the worst case of all its lines at the batch
    price, once per batch (a resubmission after a crash finds it reserved). "" when reserved (or
    already), else the cap that refused ("run" or "month"): the batch is then not sent, and its
    items go the live path, which stops cleanly at the cap. A line's body in bytes bounds its input
    tokens (judges/costs.py)."""
    run = batch.run
    version = run.judge_version
    micros = cost_micros(
        input_tokens=sum(len(body) + TEMPLATE_TOKENS for _, body in lines),
        output_tokens=len(lines) * version.max_output_tokens,
        price_input_per_mtok=run.price_input_per_mtok,
        price_output_per_mtok=run.price_output_per_mtok,
        price_factor=BATCH_PRICE_FACTOR,
    )
    month = month_start()
    spend_month_ensure(project_id=run.project_id, month=month)
    with transaction.atomic():
        if not JudgeBatch.objects.filter(pk=batch.pk, reserved_micros=0).update(reserved_micros=max(micros, 1)):
            return ""  # reserved by an earlier delivery
        refused = budget_reserve(run_id=run.pk, project_id=run.project_id, month=month, micros=micros)
        if refused:
            transaction.set_rollback(True)
        return refused


def budget_batches_settle(*, run_id: int, input_tokens: int, output_tokens: int) -> None:
    """When a run's batches are released (once): what its batch lines cost, at the batch price,
    replaces what their submissions reserved."""
    run = JudgeRun.objects.get(pk=run_id)
    reserved = JudgeBatch.objects.filter(run_id=run_id).aggregate(r=Sum("reserved_micros"))["r"] or 0
    spent = cost_micros(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        price_input_per_mtok=run.price_input_per_mtok,
        price_output_per_mtok=run.price_output_per_mtok,
        price_factor=BATCH_PRICE_FACTOR,
    )
    budget_settle(run_id=run_id, project_id=run.project_id, month=month_start(), spent=spent, released=reserved)


def judge_run_stop_at_budget(*, run_id: int, cap: str, since: datetime.datetime | None = None) -> bool:
    """Stop an active run because ``cap`` ("run" or "month") left no room for its next item, as
    seen by a chunk that began at ``since``: not if the run was resumed after that (its cap was
    raised meanwhile). True for the one caller that stopped it. Verdicts written stay; items
    without one are left for a resume."""
    run = JudgeRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None or run.status not in ACTIVE_STATUSES:
        return False
    counts = judge_run_counts(run=run)
    left = run.total - JudgeVerdict.objects.filter(run=run).count()
    spent = usd(run.cost_spent_micros)
    if cap == "run":
        reason = f"stopped at the run's budget of ${usd(run.max_cost_micros)}: ${spent} spent, {left} items left."
    else:
        month = project_spend_month(project_id=run.project_id)
        reason = (
            f"stopped at the project's monthly budget of ${usd(month['cap_micros'])}: "
            f"${usd(month['spent_micros'])} spent this month (${spent} by this run), {left} items left."
        )
    runs = JudgeRun.objects.filter(pk=run_id, status__in=ACTIVE_STATUSES)
    if since is not None:
        runs = runs.exclude(resumed_at__gte=since)
    changed = runs.update(
        status=RunStatus.STOPPED_BUDGET, stop_reason=reason, finished_at=timezone.now(), **counts.as_run_fields()
    )
    return bool(changed)


def judge_run_resume(*, run: JudgeRun, max_cost: object = None, keep_cap: bool = False) -> JudgeRun:
    """Continue a run that stopped at a budget, with its remaining items: its cap becomes
    ``max_cost`` (dollars; None: no cap) unless ``keep_cap`` (after a raise of the monthly cap).
    Conflict when the run did not stop at a budget or the new cap leaves no room."""
    micros = run.max_cost_micros if keep_cap else cap_clean(value=max_cost, field="max_cost")
    if micros is not None and micros <= run.cost_spent_micros:
        raise ValidationError(
            {"max_cost": [f"must be more than the ${usd(run.cost_spent_micros)} this run has spent already."]}
        )
    with transaction.atomic():
        changed = JudgeRun.objects.filter(pk=run.pk, status=RunStatus.STOPPED_BUDGET).update(
            status=RunStatus.QUEUED, max_cost_micros=micros, stop_reason="", finished_at=None,
            resumed_at=timezone.now(),
        )  # fmt: skip
        if not changed:
            run.refresh_from_db()
            raise Conflict(f"Only a run stopped at its budget can be resumed; this one is {run.status}.")
        chunk_ids = list(run.chunks.filter(finished_at__isnull=True).order_by("index").values_list("id", flat=True))
        # The chunks only do what is missing (a verdict of this run is never asked again).
        dispatch.chunks_run_later(chunk_ids=chunk_ids)
    run.refresh_from_db()
    return run


@transaction.atomic
def project_budget_set(*, project: Project, monthly_cap: object) -> JudgeBudget:
    """Set (dollars) or remove (None / "") the project's monthly cap over all its judges' runs."""
    micros = cap_clean(value=monthly_cap, field="monthly_cap")
    budget, _ = JudgeBudget.objects.update_or_create(project=project, defaults={"monthly_cap_micros": micros})
    return budget
