"""The judge's "test" action: one real call on one item, before a run pays for hundreds.

It sends exactly what a run would (same prompt, schema, output mode, retries, concurrency slot)
and returns the verdict or the provider's error; with output mode "auto" it finds the mode the
server accepts and remembers it on the judge, so the run that follows starts there. Nothing is
written as a rating: a test verdict is not a verdict. Its cost is: the call goes on the project's
monthly ledger (judges/services/budgets.py), and a full monthly cap refuses it.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import asdict, dataclass, field, replace

from django.conf import settings
from django.core.exceptions import ValidationError

from annotation.models import Item
from judges.costs import cost_micros, prompt_tokens_bound
from judges.endpoints import endpoint_problem
from judges.fewshot import fewshot_pool
from judges.models import Judge
from judges.modes import ModeFound
from judges.selectors import month_start
from judges.services.budgets import budget_month_reserve, budget_month_settle, spend_month_ensure
from judges.services.judges import judge_output_mode_record
from rubrics.scales import CriterionSpec


@dataclass
class JudgeTestResult:
    ok: bool
    item: int | None
    outcome: str = ""
    values: dict = field(default_factory=dict)
    rationales: dict = field(default_factory=dict)
    reason: str = ""
    raw_output: str = ""
    attempts: int = 0
    output_mode: str = ""
    output_mode_note: str = ""
    logprobs: dict | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def judge_test(*, judge: Judge, item: Item | None = None) -> JudgeTestResult:
    """Send one real call for ``item`` (default: the project's first item) with the judge's
    current version; return the verdict or why there is none. Access checks are the caller's."""
    # Here, not at the top: they load the provider SDKs (about 90 MB), which the web process
    # needs only when someone presses Test (tests/test_platform.py checks the start-up imports).
    from judges.services.chunks import endpoint_modes, prompter

    project = judge.project
    version = judge.current_version()
    if item is None:
        item = Item.objects.filter(project=project).order_by("id").first()
    if item is None:
        raise ValidationError({"item": ["this project has no item to test the judge on."]})
    if item.project_id != project.pk:
        raise ValidationError({"item": ["no such item in this project."]})
    mode = judge.output_mode_found or judge.output_mode
    problem = endpoint_problem(provider=version.provider, base_url=version.base_url, api_key_env=judge.api_key_env)
    api_key = os.environ.get(judge.api_key_env, "") if judge.api_key_env and not problem else ""
    if not problem and judge.api_key_env and not api_key:
        problem = f"the environment variable {judge.api_key_env} is not set on this server."
    if problem:
        return JudgeTestResult(False, item.pk, reason=f"Refused to run, nothing was sent: {problem}", output_mode=mode)

    rubric_version = project.rubric_version
    criteria_rows = list(rubric_version.criteria.all())
    criteria = [CriterionSpec(c.key, c.scale, c.rationale_required, c.required) for c in criteria_rows]
    prompt = prompter(
        rubric_version=rubric_version, guidelines=project.guidelines, version=version,
        pool=fewshot_pool(project=project, k=version.few_shot), criteria_rows=criteria_rows, criteria=criteria,
    )(item.pk, item.data)  # fmt: skip
    endpoint_args = dict(
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
    # On the project's monthly ledger like a run's calls: the worst case of the call and its
    # repair turns reserved first (refused when the cap has no room), then what it cost.
    month = month_start()
    prices = {
        "price_input_per_mtok": judge.price_input_per_mtok,
        "price_output_per_mtok": judge.price_output_per_mtok,
    }
    worst = (1 + settings.JUDGES_OUTPUT_RETRIES) * cost_micros(
        input_tokens=prompt_tokens_bound(prompt), output_tokens=version.max_output_tokens, **prices
    )
    spend_month_ensure(project_id=project.pk, month=month)
    if not budget_month_reserve(project_id=project.pk, month=month, micros=worst):
        reason = "the project's monthly judge budget has no room for this call (Judges page, Budget)."
        return JudgeTestResult(False, item.pk, reason=f"Refused to run, nothing was sent: {reason}", output_mode=mode)
    out = JudgeTestResult(False, item.pk, output_mode=mode, output_mode_note=judge.output_mode_note)
    try:
        _call(out, judge=judge, item=item, prompt=prompt, endpoint_args=endpoint_args, criteria=criteria)
    finally:
        spent = cost_micros(input_tokens=out.input_tokens, output_tokens=out.output_tokens, **prices)
        budget_month_settle(project_id=project.pk, month=month, spent=spent, released=worst)
    return out


def _call(out: JudgeTestResult, *, judge: Judge, item: Item, prompt, endpoint_args: dict, criteria) -> None:
    """The call itself, its answer written into ``out``."""
    from judges.executor import Endpoint, Job, Result, jobs_submit, results_drain
    from judges.services.chunks import policy_from_settings, rate_limit_redis_url, slot_dir

    endpoint = Endpoint(**endpoint_args)
    results: queue.SimpleQueue = queue.SimpleQueue()
    future = jobs_submit(
        jobs=[Job(item.pk, 0, prompt)],
        endpoint=endpoint,
        criteria=criteria,
        # Someone is waiting: one transient retry, not five with minutes of backoff.
        policy=replace(policy_from_settings(), transient_retries=min(1, settings.JUDGES_TRANSIENT_RETRIES)),
        redis_url=rate_limit_redis_url(),
        results=results,
        stop=threading.Event(),
        slot_dir=slot_dir(),
    )
    future.result(timeout=float(settings.JUDGES_REQUEST_TIMEOUT) * 8)
    for got in results_drain(results):
        if isinstance(got, ModeFound):
            judge_output_mode_record(judge_id=judge.pk, mode=got.mode, logprobs=got.logprobs, note=got.note)
            out.output_mode, out.output_mode_note = got.mode, got.note
        elif isinstance(got, Result):
            out.ok = got.outcome == "ok"
            out.outcome, out.values, out.rationales = got.outcome, got.values, got.rationales
            out.reason, out.raw_output, out.attempts = got.reason, got.raw_output, got.attempts
            out.logprobs, out.input_tokens, out.output_tokens = got.logprobs, got.input_tokens, got.output_tokens
