"""A chunk's money: admits its calls against the caps and records what they cost.

``RunBudget`` is the executor's ``CallBudget`` (judges/executor.py). It is shared by two threads:
the event loop (``admit`` before a call, ``settled`` after it) and the chunk's own thread, which
does every database write: it answers the loop's reservation requests (``serve``), writes the
settled amounts to the ledger (``flush``) and gives back what was never used (``close``).

Whole verdicts: the first call of an item reserves the worst case of all of that item's samples
at once, so once an item has started, its other samples never wait for money; an item that
cannot be paid for in full is not started. First calls are admitted before they queue for one of
the chunk's concurrent slots, so a call waiting for money never holds a slot that a paid-for
sample needs (no deadlock). A repair turn (another call for the same sample)
reserves its own worst case; refused, its sample stays unanswered and the item gets no verdict
(it is done again on resume, keeping its valid samples).

Stopping "exactly" at the cap: a refused reservation is retried while anything is reserved on
the refusing ledger row, by this chunk or another worker (answered calls give room back); only
with nothing left in flight is the refusal final and the run stopped, so no worker's paid-for
item is cut short by the stop. Without any cap, nothing is reserved: spend is only
recorded, one ledger update per flush.
"""

from __future__ import annotations

import asyncio
import datetime
import queue
import threading
import time
from decimal import Decimal

from django.utils import timezone

from judges.costs import cost_micros, prompt_tokens_bound
from judges.executor import Job
from judges.models import JudgeBudget, JudgeRun
from judges.providers import Prompt
from judges.selectors import month_start
from judges.services.budgets import budget_reserve, budget_reserved, budget_settle, spend_month_ensure

RETRY_SECONDS = 0.1
WAIT_SECONDS = 120.0  # longer than a call in flight can hold its reservation (the request timeout)
WAIT = "wait"
POLL_SECONDS = 0.02


def run_price_factor(run: JudgeRun) -> Decimal:
    """What a chunk's calls pay of the run's list prices: 1, in batch mode too, since a chunk's
    calls are live (what the batches left). Batch lines are reserved and settled at
    BATCH_PRICE_FACTOR by judges/services/budgets.py (batch_budget_reserve, budget_batches_settle)."""
    return Decimal(1)


class RunBudget:
    def __init__(
        self,
        *,
        run: JudgeRun,
        max_output_tokens: int,
        samples_missing: dict[int, list[int]],
        stop: threading.Event | None = None,
    ):
        self.run_id, self.project_id = run.pk, run.project_id
        self.month: datetime.date = month_start()
        self.started_at = timezone.now()  # a resume after this raised the cap this chunk saw
        self.prices = {
            "price_input_per_mtok": run.price_input_per_mtok,
            "price_output_per_mtok": run.price_output_per_mtok,
            "price_factor": run_price_factor(run),
        }
        self.max_output_tokens = max_output_tokens
        self.samples_missing = samples_missing  # item id -> indices of the samples it still needs
        monthly = JudgeBudget.objects.filter(project_id=run.project_id).values_list("monthly_cap_micros", flat=True)
        self.capped = run.max_cost_micros is not None or monthly.first() is not None
        spend_month_ensure(project_id=self.project_id, month=self.month)
        self.refused = ""  # "run" or "month" once a cap refused an item for good
        self.stop = stop or threading.Event()  # the chunk stops (cancelled, or stopped by another chunk)
        self._lock = threading.Lock()
        self._item_locks: dict[int, asyncio.Lock] = {}
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._refused_since = 0.0
        self._prepaid: dict[tuple[int, int], int] = {}  # first calls paid for by their item's reservation
        self._held: dict[tuple[int, int], int] = {}  # reserved for the call in flight
        self._spent = 0  # settled, not yet written
        self._released = 0

    def worst_case(self, prompt: Prompt) -> int:
        return cost_micros(input_tokens=prompt_tokens_bound(prompt), output_tokens=self.max_output_tokens,
                           **self.prices)  # fmt: skip

    async def admit(self, job: Job, prompt: Prompt, *, first: bool) -> bool:
        """``first``: the sample's first call, admitted before it waits for a slot to send (the
        item's other samples are paid for with it). Otherwise a repair or retry turn."""
        if not self.capped:
            return True
        if not first:
            return await self._reserve(job, self.worst_case(prompt), count_prepaid=False)
        key = (job.item_id, job.sample_index)
        async with self._item_locks.setdefault(job.item_id, asyncio.Lock()):
            with self._lock:
                if key in self._prepaid:
                    self._held[key] = self._prepaid.pop(key)
                    return True
            others = [i for i in self.samples_missing.get(job.item_id, []) if i != job.sample_index]
            worst = self.worst_case(prompt)
            if not await self._reserve(job, worst * (1 + len(others)), count_prepaid=True):
                return False
            with self._lock:
                self._held[key] = worst
                self._prepaid.update({(job.item_id, i): worst for i in others})
            return True

    async def _reserve(self, job: Job, micros: int, *, count_prepaid: bool) -> bool:
        """Reserve on the ledger through the chunk's thread (``serve``), which says "wait" while
        a refusal may still be lifted by this chunk's own money coming back."""
        loop = asyncio.get_running_loop()
        while True:
            if self.stop.is_set():
                return False
            with self._lock:
                if self.refused and count_prepaid:
                    return False  # new items: the cap already refused one for good
            answer: asyncio.Future = loop.create_future()
            self._requests.put((micros, count_prepaid, answer, loop))
            refused = await answer
            if not refused:
                if not count_prepaid:
                    with self._lock:
                        self._held[(job.item_id, job.sample_index)] = micros
                return True
            if refused != WAIT:
                with self._lock:
                    self.refused = self.refused or refused
                return False
            await asyncio.sleep(RETRY_SECONDS)

    def settled(self, job: Job, *, input_tokens: int, output_tokens: int) -> None:
        cost = cost_micros(input_tokens=input_tokens, output_tokens=output_tokens, **self.prices)
        with self._lock:
            self._spent += cost
            self._released += self._held.pop((job.item_id, job.sample_index), 0)

    def serve(self, *, seconds: float, done) -> None:
        """The chunk's thread, for ``seconds`` or until ``done()``: answer reservation requests
        from the event loop. The ORM stays in this thread (SQLite's shared-cache test database
        and Django's async-safety checks both want that), and what was settled is written first,
        so a reservation sees the room that answered calls gave back.

        A refusal is final only when nothing is reserved on the row that refused (the run's, or
        the project's month): reservations come back, mostly, when their calls answer, from this
        chunk or from any other worker. For a repair turn (``count_prepaid`` false) this chunk's
        paid-for samples that have not started do not count: they may be waiting for the very slot
        the repair turn holds. Nor does anything after ``WAIT_SECONDS`` of refusals: a worker killed
        mid-call leaves its reservation until the run ends."""
        deadline = time.monotonic() + seconds
        while not done() and (left := deadline - time.monotonic()) > 0:
            try:
                batch = [self._requests.get(timeout=min(POLL_SECONDS, left))]
            except queue.Empty:
                continue
            while True:  # everything asked meanwhile (a chunk's start asks for every item at once)
                try:
                    batch.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            self.flush()
            if len(batch) > 1 and not self._reserve_now(sum(request[0] for request in batch)):
                for _, _, answer, loop in batch:  # all fitted at once: one transaction instead of many
                    loop.call_soon_threadsafe(_answer, answer, "")
                continue
            for micros, count_prepaid, answer, loop in batch:
                refused = self._reserve_now(micros)
                if refused:
                    with self._lock:
                        waiting = 0 if count_prepaid else sum(self._prepaid.values())
                    held = budget_reserved(run_id=self.run_id, project_id=self.project_id, month=self.month,
                                           row=refused)  # fmt: skip
                    self._refused_since = self._refused_since or time.monotonic()
                    if held - waiting > 0 and time.monotonic() - self._refused_since < WAIT_SECONDS:
                        refused = WAIT
                loop.call_soon_threadsafe(_answer, answer, refused)

    def _reserve_now(self, micros: int) -> str:
        refused = budget_reserve(run_id=self.run_id, project_id=self.project_id, month=self.month, micros=micros)
        if not refused:
            self._refused_since = 0.0
        return refused

    def flush(self) -> None:
        """Write what was settled since the last flush (the chunk's thread)."""
        with self._lock:
            spent, released, self._spent, self._released = self._spent, self._released, 0, 0
        if spent or released:
            budget_settle(run_id=self.run_id, project_id=self.project_id, month=self.month,
                          spent=spent, released=released)  # fmt: skip

    def close(self) -> None:
        """After the calls: give back reservations of calls never sent or never answered."""
        with self._lock:
            self._released += sum(self._held.values()) + sum(self._prepaid.values())
            self._held, self._prepaid = {}, {}
        self.flush()


def _answer(future: asyncio.Future, refused: str) -> None:
    if not future.done():  # cancelled meanwhile (the chunk stopped)
        future.set_result(refused)
