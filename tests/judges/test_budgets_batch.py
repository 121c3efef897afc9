"""Budgets for batch-mode runs: a batch is reserved at the batch price before it is submitted and
settled at its real cost, or not sent at all when a cap cannot cover it."""

from decimal import Decimal

import pytest

from judges.costs import cost_micros
from judges.models import BATCH_PRICE_FACTOR, BatchStatus, JudgeVerdict, RunMode, RunStatus
from judges.selectors import project_spend_month
from judges.services.runs import judge_run_start
from tests.judges.test_batches import _drive, _live_requests

pytestmark = pytest.mark.django_db(transaction=True)
PRICES = {"price_input_per_mtok": Decimal(2), "price_output_per_mtok": Decimal(8)}


def test_a_batch_run_is_charged_at_the_batch_price_on_the_ledger(llm, project, items, make_judge):
    judge = make_judge("openai", **PRICES)
    run = judge_run_start(actor=None, project=project, judge=judge, items="all", mode=RunMode.BATCH, max_cost="5")
    run = _drive(run)

    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    half = cost_micros(input_tokens=run.input_tokens, output_tokens=run.output_tokens, price_factor=BATCH_PRICE_FACTOR,
                       **PRICES)  # fmt: skip
    assert run.cost_spent_micros == half and run.cost_reserved_micros == 0
    month = project_spend_month(project_id=project.pk)
    assert (month["spent_micros"], month["reserved_micros"]) == (half, 0)
    assert run.batches.get().reserved_micros > half  # what its submission held: the worst case


def test_a_batch_the_cap_cannot_cover_is_not_sent_and_the_live_path_stops_at_the_cap(llm, project, items, make_judge):
    judge = make_judge("openai", max_output_tokens=4000, **PRICES)
    # Less than five lines' worst case at the batch price, more than one live item's answer.
    run = judge_run_start(actor=None, project=project, judge=judge, items="all", mode=RunMode.BATCH,
                          max_cost="0.04")  # fmt: skip
    run = _drive(run)

    batch = run.batches.get()
    assert batch.status == BatchStatus.FAILED and "budget cannot cover this batch" in batch.error
    assert llm.batches.created("openai") == [], "nothing submitted"
    assert run.status == RunStatus.STOPPED_BUDGET, run.error
    assert 0 < JudgeVerdict.objects.filter(run=run).count() < 5
    assert len(_live_requests(llm)) == JudgeVerdict.objects.filter(run=run).count()
    assert run.cost_spent_micros <= 40_000 and run.cost_reserved_micros == 0
