"""Cost estimates and budgets, against the fake provider server through the real SDKs.

The cap tests commit for real (``transaction=True``), as a worker's ledger updates do.
"""

import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count

from annotation.services.items import items_import
from config.errors import Conflict
from judges.costs import cost_micros, micros_of, prompt_tokens_bound
from judges.models import JudgeSample, JudgeSpend, JudgeVerdict, RunStatus
from judges.selectors import project_spend_month
from judges.services.budgets import judge_run_resume, project_budget_set
from judges.services.estimates import _prompts, judge_run_estimate
from judges.services.runs import judge_run_start
from testbed import Reply
from tests.judges.conftest import run_chunks, run_now

PRICES = {"price_input_per_mtok": Decimal("2.5"), "price_output_per_mtok": Decimal("10")}


def _items(project, n: int, prefix: str = "b") -> list[int]:
    items_import(
        project=project,
        rows=[
            {"external_id": f"{prefix}{i}", "data": {"prompt": f"{prefix}{i} " + "word " * (i % 7 * 20)}}
            for i in range(n)
        ],
    )
    return list(project.items.order_by("id").values_list("id", flat=True))


def _item_worst_case(*, project, judge) -> int:
    """What the first call of an item reserves: every sample's worst case (the largest item)."""
    version = judge.current_version()
    ids = list(project.items.values_list("id", flat=True))
    bound = max(prompt_tokens_bound(p) for p in _prompts(project=project, version=version, item_ids=ids))
    one = cost_micros(input_tokens=bound, output_tokens=version.max_output_tokens, **PRICES)
    return one * version.samples


def _whole_verdicts_only(run) -> None:
    samples_per_item = JudgeSample.objects.filter(run=run).values("item").annotate(n=Count("id"))
    with_verdict = set(JudgeVerdict.objects.filter(run=run).values_list("item_id", flat=True))
    samples = run.judge_version.samples
    for row in samples_per_item:
        if row["item"] in with_verdict:
            assert row["n"] == samples


@pytest.mark.django_db
def test_the_estimate_covers_what_the_run_then_costs(llm, project, make_judge):
    ids = _items(project, 30)
    judge = make_judge("openai", samples=2, max_output_tokens=600, **PRICES)

    first = judge_run_estimate(project=project, judge=judge, items=ids[:6], rng=random.Random(1))
    assert (first.items, first.calls, first.sampled_items) == (6, 12, 6)
    assert first.output_basis == "max_output_tokens"  # never answered: the cap on output is the figure
    warmup = run_now(project=project, judge=judge, items=ids[:6])
    assert warmup.status == RunStatus.SUCCEEDED
    assert first.low_micros <= warmup.cost_spent_micros <= first.high_micros

    estimate = judge_run_estimate(project=project, judge=judge, items="all", rng=random.Random(2), sample_items=10)
    assert (estimate.items, estimate.calls, estimate.sampled_items) == (24, 48, 10)
    assert estimate.output_basis == "past_average"
    run = run_now(project=project, judge=judge, items="all")
    assert run.status == RunStatus.SUCCEEDED and run.done == 24
    assert estimate.low_micros <= run.cost_spent_micros <= estimate.high_micros
    # With the version's own output history the central figure is close, not just inside the range.
    assert abs(estimate.cost_micros - run.cost_spent_micros) <= 0.25 * run.cost_spent_micros
    # The ledger agrees with the tokens the provider reported (each call rounded up to a micro-dollar).
    from_tokens = cost_micros(input_tokens=run.input_tokens, output_tokens=run.output_tokens, **PRICES)
    assert 0 <= run.cost_spent_micros - from_tokens <= 48
    month = project_spend_month(project_id=project.pk)
    assert month["spent_micros"] == warmup.cost_spent_micros + run.cost_spent_micros
    assert month["reserved_micros"] == 0 and month["cap_micros"] is None


@pytest.mark.django_db
def test_the_estimate_scales_with_a_price_factor_and_refuses_a_bad_selection(llm, project, make_judge):
    _items(project, 4)
    judge = make_judge("openai", **PRICES)
    full = judge_run_estimate(project=project, judge=judge, items="all", rng=random.Random(0))
    half = judge_run_estimate(project=project, judge=judge, items="all", rng=random.Random(0),
                              price_factor=Decimal("0.5"))  # fmt: skip
    assert abs(half.cost_micros * 2 - full.cost_micros) <= 2 and half.high_micros < full.high_micros
    with pytest.raises(ValidationError) as caught:
        judge_run_estimate(project=project, judge=judge, items="everything")
    assert "items" in caught.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_a_run_stops_at_its_cap_with_whole_verdicts_and_resumes_with_a_higher_one(llm, project, make_judge, staff):
    _items(project, 12)
    judge = make_judge("openai", samples=2, max_output_tokens=300, **PRICES)
    item = _item_worst_case(project=project, judge=judge)
    # One item's worst case and a half: an answer costs far less than its worst case, so a few fit.
    cap = Decimal(item * 3 // 2) / 1_000_000
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all", max_cost=cap)
    run_chunks(run)
    run.refresh_from_db()

    assert run.status == RunStatus.STOPPED_BUDGET
    assert run.max_cost_micros == micros_of(cap)
    assert run.cost_spent_micros <= run.max_cost_micros  # never over
    # It stopped only when the next item's worst case no longer fitted.
    assert run.cost_spent_micros + item > run.max_cost_micros
    verdicts = JudgeVerdict.objects.filter(run=run).count()
    assert 2 <= verdicts < 12
    _whole_verdicts_only(run)
    assert run.cost_reserved_micros == 0
    assert f"stopped at the run's budget of ${run.max_cost_micros / 1_000_000:.6f}" in run.stop_reason
    assert f"{12 - verdicts} items left" in run.stop_reason

    with pytest.raises(ValidationError) as caught:
        judge_run_resume(run=run, max_cost=Decimal(run.cost_spent_micros) / 2_000_000)
    assert "max_cost" in caught.value.message_dict
    resumed = judge_run_resume(run=run, max_cost=None)
    assert resumed.status == RunStatus.QUEUED and resumed.max_cost_micros is None
    run_chunks(resumed)
    resumed.refresh_from_db()
    assert resumed.status == RunStatus.SUCCEEDED, resumed.error
    assert JudgeVerdict.objects.filter(run=run).count() == 12
    assert JudgeSample.objects.filter(run=run).count() == 24  # nothing asked twice
    _whole_verdicts_only(resumed)
    assert resumed.cost_reserved_micros == 0
    with pytest.raises(Conflict):
        judge_run_resume(run=resumed, max_cost=None)


@pytest.mark.django_db(transaction=True)
def test_the_monthly_cap_holds_across_two_runs(llm, project, make_judge, staff):
    ids = _items(project, 10)
    first = make_judge("openai", name="first", **PRICES)
    second = make_judge("openai", name="second", **PRICES)
    item = _item_worst_case(project=project, judge=first)
    project_budget_set(project=project, monthly_cap=Decimal(item * 2) / 1_000_000)

    one = run_now(project=project, judge=first, items=ids[:2], actor=staff)
    assert one.status == RunStatus.SUCCEEDED
    two = run_now(project=project, judge=second, items="all", actor=staff)

    assert two.status == RunStatus.STOPPED_BUDGET
    assert "monthly budget" in two.stop_reason
    month = project_spend_month(project_id=project.pk)
    assert month["spent_micros"] == one.cost_spent_micros + two.cost_spent_micros
    assert month["spent_micros"] <= month["cap_micros"]
    assert month["spent_micros"] + item > month["cap_micros"]
    assert month["reserved_micros"] == 0
    assert 0 < JudgeVerdict.objects.filter(run=two).count() < 10

    # Raising the month's cap and resuming (the run's own cap kept: it has none) finishes it.
    project_budget_set(project=project, monthly_cap=None)
    two = judge_run_resume(run=two, keep_cap=True)
    run_chunks(two)
    two.refresh_from_db()
    assert two.status == RunStatus.SUCCEEDED and JudgeVerdict.objects.filter(run=two).count() == 10
    assert JudgeSpend.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_caps_refuse_what_is_not_an_amount(project, make_judge, staff):
    _items(project, 2)
    judge = make_judge("openai")
    for bad in ("-1", "abc", "NaN", True, "1e12"):
        with pytest.raises(ValidationError) as caught:
            judge_run_start(actor=staff, project=project, judge=judge, items="all", max_cost=bad)
        assert "max_cost" in caught.value.message_dict
        with pytest.raises(ValidationError) as caught:
            project_budget_set(project=project, monthly_cap=bad)
        assert "monthly_cap" in caught.value.message_dict
    assert project_budget_set(project=project, monthly_cap="12.5").monthly_cap_micros == 12_500_000
    assert project_budget_set(project=project, monthly_cap="").monthly_cap_micros is None


@pytest.mark.django_db(transaction=True)
def test_a_repair_turn_the_cap_cannot_pay_for_leaves_the_item_without_a_verdict(llm, project, make_judge, staff):
    _items(project, 1)
    judge = make_judge("openai", max_output_tokens=300, **PRICES)
    first_call = _item_worst_case(project=project, judge=judge)  # one sample: the first call's worst case
    # Off the scale: the executor asks again with a repair turn, whose worst case is larger still.
    llm.script(Reply.json({"helpfulness": {"rationale": "great", "value": 9}}))
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all", max_cost=Decimal(first_call) / 10**6)
    run_chunks(run)
    run.refresh_from_db()

    assert llm.count() == 1  # the repair turn was never sent
    assert run.status == RunStatus.STOPPED_BUDGET
    assert not JudgeVerdict.objects.filter(run=run).exists()
    assert not JudgeSample.objects.filter(run=run).exists()  # nothing half-stored
    assert 0 < run.cost_spent_micros <= run.max_cost_micros and run.cost_reserved_micros == 0

    run = judge_run_resume(run=run, max_cost=None)
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 1


@pytest.mark.django_db(transaction=True)
def test_a_chunk_cut_short_by_a_stop_stays_unfinished_when_the_run_is_resumed_before_it_ends(
    llm, project, make_judge, staff, settings, monkeypatch
):
    from judges.models import JudgeRun, JudgeRunChunk
    from judges.services import chunks

    _items(project, 6)
    judge = make_judge("openai")
    settings.JUDGES_CHUNK_SIZE, settings.JUDGES_CONCURRENCY = 6, 1  # one chunk, one call at a time
    llm.latency = 0.3
    monkeypatch.setattr(chunks, "CANCEL_CHECK_SECONDS", 0.05)
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all")
    calls_run = chunks._calls_run

    def stopped_then_resumed(**kwargs):
        # Another chunk stops the run at a budget while this one makes its calls; the manager
        # resumes it before this delivery takes its last look at the run.
        JudgeRun.objects.filter(pk=run.pk).update(status=RunStatus.STOPPED_BUDGET)
        cut_short = calls_run(**kwargs)
        JudgeRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
        return cut_short

    monkeypatch.setattr(chunks, "_calls_run", stopped_then_resumed)
    run_chunks(run)
    assert JudgeVerdict.objects.filter(run=run).count() < 6
    assert JudgeRunChunk.objects.get(run=run).finished_at is None  # its next delivery does the rest

    monkeypatch.setattr(chunks, "_calls_run", calls_run)
    run_chunks(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and JudgeVerdict.objects.filter(run=run).count() == 6
