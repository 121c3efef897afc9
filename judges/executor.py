"""The async half of a chunk: many provider calls in flight on one event loop per worker process.

The loop runs in a daemon thread that lives as long as the worker process, so SDK clients (and
their keep-alive connections) and the rate limiter are built once per process and reused by
every chunk. The Celery task's own thread stays synchronous: it hands the jobs over, then drains
finished results from a queue and writes them to the database while the calls continue.

Output modes ("auto" or fixed): judges/modes.py. Calls in flight per judge endpoint, across all
workers: ``EndpointSlots`` (judges/ratelimit.py), the judge's max_concurrency.

Per call: bounded retries with exponential backoff and full jitter for transient errors (429,
408/409, 5xx, 529, timeouts, connection errors), honouring ``retry-after-ms`` / ``retry-after``;
no retry for other 4xx; a refused request parameter is never retried as transient. Invalid or
off-scale output gets a repair turn that tells the model what was wrong (a bounded number of
times; never the same request twice at temperature 0), then is recorded as failed with the raw
output. A refusal, a content-filter stop or a
max-tokens stop is recorded as "no verdict" at once: asking again with the same budget and prompt
would mostly pay for the same stop, and the item stays with people. Nothing is ever coerced into
a score.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import random
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from django.core.exceptions import ValidationError

from judges.costs import prompt_tokens_estimate
from judges.logprobs import score_logprobs
from judges.models import Outcome
from judges.modes import OutputModes, RunStop
from judges.prompts import answer_unpack, repair_message
from judges.providers import Answer, JudgeProvider, Prompt, call_error, provider_for
from judges.ratelimit import EndpointSlots, RateLimiter
from rubrics.scales import CriterionSpec, values_clean

logger = logging.getLogger(__name__)
MAX_RAW_OUTPUT = 20_000


@dataclass(frozen=True)
class Job:
    item_id: int
    sample_index: int
    prompt: Prompt


@dataclass(frozen=True)
class Endpoint:
    provider: str
    base_url: str
    api_key: str
    timeout: float
    model: str
    temperature: float
    max_output_tokens: int
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    # "auto" (find the best mode the server accepts, starting at ``first_mode``) or a fixed mode.
    output_mode: str = "json_schema"
    first_mode: str = ""
    logprobs: bool = False
    max_concurrency: int = 64


@dataclass(frozen=True)
class Policy:
    concurrency: int = 32
    transient_retries: int = 5
    output_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    retry_after_max: float = 300.0


@dataclass
class Result:
    item_id: int
    sample_index: int
    outcome: str
    values: dict = field(default_factory=dict)
    rationales: dict = field(default_factory=dict)
    raw_output: str = ""
    reason: str = ""
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    logprobs: dict | None = None


class CallBudget(Protocol):
    """Money for calls (judges/spending.py): ``admit`` before every call (False: do not send it;
    the sample is left unanswered), ``settled`` after it with the tokens the provider counted."""

    async def admit(self, job: Job, prompt: Prompt, *, first: bool) -> bool: ...

    def settled(self, job: Job, *, input_tokens: int, output_tokens: int) -> None: ...


class _Process:
    """Per-process state of the loop thread: the loop, cached clients, the rate limiter."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.clients: dict[tuple, JudgeProvider] = {}
        self.limiters: dict[str, RateLimiter] = {}
        self.slots: dict[tuple[str, str], EndpointSlots] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="judge-loop", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def close(self, timeout: float = 5.0) -> None:
        """Close the clients' connection pools on their own loop (at exit: an aiohttp session left
        open is reported as unclosed), then stop the loop."""
        if self.pid != os.getpid() or not self.loop.is_running():
            return

        async def close_all() -> None:
            closers = [c.aclose() for c in self.clients.values()] + [r.aclose() for r in self.limiters.values()]
            closers += [s.aclose() for s in self.slots.values()]
            await asyncio.gather(*closers, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout)
        except Exception:  # at exit nothing more can be done: the OS closes the sockets
            logger.debug("judge clients not closed cleanly", exc_info=True)
        self.clients, self.limiters, self.slots = {}, {}, {}
        self.loop.call_soon_threadsafe(self.loop.stop)

    def client_for(self, endpoint: Endpoint) -> JudgeProvider:
        """One SDK client per endpoint and process. On the SDKs' aiohttp transport one connection
        pool serves every call in flight (httpcore's pool, scanned per request, used to be split
        over several clients)."""
        key = (endpoint.provider, endpoint.base_url, endpoint.api_key, endpoint.timeout)
        if key not in self.clients:
            self.clients[key] = provider_for(
                provider=endpoint.provider,
                base_url=endpoint.base_url,
                api_key=endpoint.api_key,
                timeout=endpoint.timeout,
            )
        return self.clients[key]

    def limiter(self, redis_url: str) -> RateLimiter:
        if redis_url not in self.limiters:
            self.limiters[redis_url] = RateLimiter(redis_url)
        return self.limiters[redis_url]

    def endpoint_slots(self, redis_url: str, slot_dir: str) -> EndpointSlots:
        if (redis_url, slot_dir) not in self.slots:
            self.slots[(redis_url, slot_dir)] = EndpointSlots(redis_url, slot_dir)
        return self.slots[(redis_url, slot_dir)]


_process: _Process | None = None
_process_lock = threading.Lock()


def _current() -> _Process:
    global _process
    with _process_lock:
        # A forked child (Celery prefork) must not use its parent's loop thread: it does not exist here.
        if _process is None or _process.pid != os.getpid():
            _process = _Process()
        return _process


def jobs_submit(
    *,
    jobs: Sequence[Job],
    endpoint: Endpoint,
    criteria: Sequence[CriterionSpec],
    policy: Policy,
    redis_url: str,
    results: queue.SimpleQueue,
    stop: threading.Event,
    slot_dir: str = "",
    budget: CallBudget | None = None,
) -> Future:
    """Start the calls on this process's loop; each Result is put on ``results`` as it is ready
    (and, with output_mode "auto", one ModeFound once the server accepted a mode)."""
    process = _current()
    coroutine = _run_all(
        jobs=jobs,
        endpoint=endpoint,
        criteria=criteria,
        policy=policy,
        client_factory=lambda: process.client_for(endpoint),
        limiter=process.limiter(redis_url),
        slots=process.endpoint_slots(redis_url, slot_dir),
        results=results,
        stop=stop,
        budget=budget,
    )
    return asyncio.run_coroutine_threadsafe(coroutine, process.loop)


async def _run_all(
    *, jobs, endpoint, criteria, policy, client_factory, limiter, slots, results, stop, budget=None
) -> None:
    client = client_factory()  # built on the loop: the aiohttp session belongs to it
    semaphore = asyncio.Semaphore(max(1, min(policy.concurrency, endpoint.max_concurrency)))
    modes = OutputModes(endpoint, getattr(client, "modes", ("json_schema",)))
    fatal: list[str] = []
    context = _Context(endpoint, criteria, policy, client, limiter, slots, stop, fatal, modes, results, budget)

    async def one(job: Job) -> None:
        if stop.is_set() or (budget is not None and not await budget.admit(job, job.prompt, first=True)):
            return  # a cap leaves no room for this item: it stays without a verdict
        async with semaphore:
            if stop.is_set():
                return
            if fatal:
                results.put(Result(job.item_id, job.sample_index, Outcome.FAILED, reason=fatal[0]))
                return
            results.put(await _judge_one(job, context))

    jobs = list(jobs)
    if not modes.settled and jobs:
        # The first call finds the mode alone, so the others do not all try the refused ones.
        await one(jobs.pop(0))
    await asyncio.gather(*(one(job) for job in jobs))


@dataclass
class _Context:
    endpoint: Endpoint
    criteria: Sequence[CriterionSpec]
    policy: Policy
    client: JudgeProvider
    limiter: RateLimiter
    slots: EndpointSlots
    stop: threading.Event
    fatal: list[str]
    modes: OutputModes
    results: queue.SimpleQueue
    budget: CallBudget | None = None


def _backoff(attempt: int, policy: Policy, retry_after: float | None) -> float:
    if retry_after is not None:
        # The provider said when: wait at least that long, plus a little jitter to spread the herd.
        return min(retry_after, policy.retry_after_max) + random.uniform(0, 0.1 + 0.1 * retry_after)
    return random.uniform(0, min(policy.backoff_max, policy.backoff_base * 2**attempt))


async def _call(job: Job, prompt: Prompt, ctx: _Context, mode: str, logprobs: bool):
    endpoint = ctx.endpoint
    estimate = prompt_tokens_estimate(prompt) + endpoint.max_output_tokens
    await ctx.limiter.acquire(
        provider=endpoint.provider,
        base_url=endpoint.base_url,
        rpm=endpoint.requests_per_minute,
        tpm=endpoint.tokens_per_minute,
        tokens=estimate,
    )
    async with ctx.slots.hold(
        endpoint=f"{endpoint.provider}|{endpoint.base_url}|{endpoint.model}",
        limit=endpoint.max_concurrency,
        lease_seconds=endpoint.timeout + 30,
    ):
        return await ctx.client.answer(
            prompt=prompt,
            model=endpoint.model,
            temperature=endpoint.temperature,
            max_output_tokens=endpoint.max_output_tokens,
            mode=mode,
            logprobs=logprobs,
        )


async def _judge_one(job: Job, ctx: _Context) -> Result | None:
    """One sample: transient errors retried with backoff; a refused mode moves to the next one
    (auto) or stops the chunk; invalid output gets a repair turn saying what was wrong, and a
    request identical to one already sent at temperature 0 is not sent again."""
    endpoint, policy, criteria, modes = ctx.endpoint, ctx.policy, ctx.criteria, ctx.modes
    result = Result(job.item_id, job.sample_index, Outcome.FAILED)
    transient = invalid = 0
    prompt = job.prompt
    sent: set[tuple] = set()
    while True:
        if ctx.stop.is_set():
            return None
        mode, logprobs = modes.mode, modes.logprobs
        if ctx.fatal:
            result.reason = ctx.fatal[0]
            return result
        budget = ctx.budget
        if budget is not None and result.attempts and not await budget.admit(job, prompt, first=False):
            return None  # a cap leaves no room for a repair turn: no verdict for the item, rather than half
        if endpoint.temperature == 0:
            sent.add((mode, logprobs, prompt.repair))
        result.attempts += 1
        try:
            answer = await _call(job, prompt, ctx, mode, logprobs)
        except Exception as exc:
            if budget is not None:
                budget.settled(job, input_tokens=0, output_tokens=0)  # an error answer is not billed
            error = call_error(exc)
            if error.refused:
                if modes.refused(mode=mode, logprobs=logprobs, param=error.param, reason=error.reason):
                    continue
                if not ctx.fatal:
                    ctx.fatal.append(f"the server refused the request ({mode} output mode): {error.reason}")
                    ctx.results.put(RunStop(ctx.fatal[0]))
                result.reason = ctx.fatal[0]
                result.raw_output = error.raw[:MAX_RAW_OUTPUT]
                return result
            if error.retryable and transient < policy.transient_retries:
                await asyncio.sleep(_backoff(transient, policy, error.retry_after))
                transient += 1
                continue
            if error.fatal and not ctx.fatal:
                ctx.fatal.append(f"stopped after a non-retryable error: {error.reason}")
            result.reason = (
                error.reason if not error.retryable else f"gave up after {result.attempts} attempts: {error.reason}"
            )
            result.raw_output = error.raw[:MAX_RAW_OUTPUT]
            return result
        if budget is not None:
            budget.settled(job, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens)
        found = modes.found()
        if found is not None:
            ctx.results.put(found)
        invalid_output = answer_judge(result=result, answer=answer, criteria=criteria)
        if invalid_output is None:
            return result
        problem, errors = invalid_output
        turn = (answer.raw[:MAX_RAW_OUTPUT], repair_message(problem=problem, errors=errors, data=answer.data,
                                                            criteria=criteria))  # fmt: skip
        # The answer goes back to the server: text JSON cannot carry (a lone surrogate) is replaced.
        repaired = replace(job.prompt, repair=(tuple(t.encode("utf-8", "replace").decode() for t in turn),))
        if invalid < policy.output_retries and (modes.mode, modes.logprobs, repaired.repair) not in sent:
            invalid += 1
            prompt = repaired
            continue
        if invalid < policy.output_retries:
            problem += " (the model gave the same answer to the same request; not asked again at temperature 0)"
        result.reason = f"{problem} (after {result.attempts} attempts)"[:2000]
        return result


def answer_judge(
    *, result: Result, answer: Answer, criteria: Sequence[CriterionSpec]
) -> tuple[str, dict[str, list[str]]] | None:
    """Read one answer into ``result``: its tokens and raw output, then ok (valid values) or no
    verdict (refused, filtered, out of output tokens), returning None; or, for output that is not
    a valid verdict, (what was wrong, the field errors) and the result stays failed. The one
    place a provider's answer becomes values, for live calls and batch lines alike."""
    result.input_tokens += answer.input_tokens
    result.output_tokens += answer.output_tokens
    result.raw_output = answer.raw[:MAX_RAW_OUTPUT]
    if answer.stop in ("refusal", "content_filter", "max_tokens"):
        result.outcome = Outcome.NO_VERDICT
        result.reason = f"{answer.stop}: {answer.detail}"
        return None
    if answer.data is None:
        return f"invalid output: {answer.detail}", {}
    try:
        values, rationales = answer_unpack(answer.data, criteria)
        result.values, result.rationales = values_clean(criteria=criteria, values=values, rationales=rationales)
    except ValueError as exc:
        return f"invalid output: {exc}", {}
    except ValidationError as exc:
        errors = exc.message_dict
        return "invalid output: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors
    result.outcome = Outcome.OK
    result.reason = ""
    result.logprobs = score_logprobs(text=answer.raw, tokens=answer.token_logprobs, criteria=criteria)
    return None


def results_drain(results: queue.SimpleQueue) -> list[Any]:
    out = []
    while True:
        try:
            item = results.get_nowait()
        except queue.Empty:
            return out
        if item is not None:
            out.append(item)
