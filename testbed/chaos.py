"""Chaos for tests/chaos and benchmarks/chaos_*.py: kill Celery workers and restart Redis while a
judge run goes on, then count per item whether the run lost or duplicated anything; and cut an
items import with a PostgreSQL restart, then count what it left.

The servers (``testbed.servers``) and workers (``testbed.workers``) are our own, so killing them
harms nobody. Nothing here imports Django at module level, so the benchmarks can set the
environment first.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testbed.servers import PostgresServer, RedisServer, wait_until
from testbed.workers import WorkerFleet


@dataclass
class Chaos:
    """Kills in a background thread: every ``every`` seconds (± a third), alternately a pool process
    and a whole worker, and one Redis restart once ``redis_after`` kills have been made."""

    fleet: WorkerFleet
    redis: RedisServer | None
    every: float = 3.0
    max_kills: int | None = None
    redis_after: int = 2
    redis_signal: int = signal.SIGTERM  # SIGKILL: a crash rather than a restart
    seed: int = 8
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._rng = random.Random(self.seed)
        self.redis_downtime = 0.0

    def _loop(self) -> None:
        t0 = time.monotonic()
        kills = 0
        while not self._stop.wait(self.every * self._rng.uniform(0.67, 1.33)):
            self.fleet.respawn()
            if self.max_kills is not None and kills >= self.max_kills:
                if self.redis is None or self.redis.restarts:
                    return
            elif kills % 2 == 0:
                if self.fleet.kill_child(self._rng):
                    kills += 1
                    self.events.append(f"{time.monotonic() - t0:6.1f}s SIGKILL pool process")
            else:
                self.fleet.kill_worker(self._rng)
                kills += 1
                self.events.append(f"{time.monotonic() - t0:6.1f}s SIGKILL worker (main + pool)")
            if self.redis is not None and not self.redis.restarts and kills >= self.redis_after:
                self.redis_downtime = self.redis.restart(self.redis_signal)
                self.events.append(f"{time.monotonic() - t0:6.1f}s Redis restarted ({self.redis_downtime:.2f}s down)")

    def start(self) -> Chaos:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


# --- what the database says -----------------------------------------------------------------


def run_counts(*, run_id: int) -> dict:
    """Per item of the run, how many samples, verdicts and ratings its judge version holds:
    lost = items with none, duplicated = items with more than expected (the unique constraints
    should make that impossible; counting is how the chaos run shows it)."""
    from django.db.models import Count

    from annotation.models import Rating
    from judges.models import JudgeRun, JudgeSample, JudgeVerdict, Outcome

    run = JudgeRun.objects.select_related("judge_version").get(pk=run_id)
    version = run.judge_version
    item_ids = [i for chunk in run.chunks.values_list("item_ids", flat=True) for i in chunk]
    scope = {"item_id__in": item_ids, "judge_version": version, "rubric_version_id": run.rubric_version_id}
    verdicts = dict(
        JudgeVerdict.objects.filter(**scope).values("item_id").annotate(n=Count("id")).values_list("item_id", "n")
    )
    per_sample = list(
        JudgeSample.objects.filter(**scope).values("item_id", "sample_index").annotate(n=Count("id")).values_list("n")
    )
    ratings = dict(
        Rating.objects.filter(item_id__in=item_ids, rater_id=version.rater_id, rubric_version_id=run.rubric_version_id)
        .values("item_id")
        .annotate(n=Count("id"))
        .values_list("item_id", "n")
    )
    sample_rows = JudgeSample.objects.filter(**scope).count()
    return {
        "run_status": run.status,
        "run_error": run.error,
        "items": len(item_ids),
        "items_distinct": len(set(item_ids)),
        "verdicts_expected": len(item_ids),
        "verdicts_found": sum(verdicts.values()),
        "verdicts_ok": JudgeVerdict.objects.filter(**scope, outcome=Outcome.OK).count(),
        "verdicts_lost": sum(1 for i in item_ids if i not in verdicts),
        "verdicts_duplicated": sum(n - 1 for n in verdicts.values() if n > 1),
        "samples_expected": len(item_ids) * version.samples,
        "samples_found": sample_rows,
        "samples_duplicated": sum(n[0] - 1 for n in per_sample if n[0] > 1),
        "ratings_found": sum(ratings.values()),
        "ratings_lost": sum(1 for i in item_ids if i not in ratings),
        "ratings_duplicated": sum(n - 1 for n in ratings.values() if n > 1),
        "run_done": run.done,
        "run_failed": run.failed,
        "chunks": run.chunks.count(),
        "chunk_deliveries": sum(run.chunks.values_list("attempts", flat=True)),
    }


# --- imports into a PostgreSQL that restarts ------------------------------------------------


def import_rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"item-{i:07d}",
            "data": {"prompt": f"Question {i}: how do I sort {i % 97} tuples?", "response": "Use sorted(). " * 8},
            "metadata": {"batch": i // 1000},
        }
        for i in range(n)
    ]


def copy_in_progress(database_url: str) -> bool:
    """True from the import's first COPY to its commit (the transaction stays open between its
    10,000-row COPYs: 'idle in transaction')."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=1, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' AND query ILIKE 'COPY %%'"
            ).fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


def items_count(database_url: str, project_id: int) -> int:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM annotation_item WHERE project_id = %s", [project_id]).fetchone()[0]


@dataclass
class CutCall:
    """What :func:`call_cut_by_restart` saw: the call's result, and seconds from its start."""

    result: Any
    took: float
    copy_seen_after: float | None = None  # None: the COPY was never seen (or no restart was asked for)
    restart_took: float | None = None


def call_cut_by_restart(
    call: Callable[[], Any], *, pg: PostgresServer | None, database: str, mode: str = "immediate", wait: float = 600
) -> CutCall:
    """``call()`` (an import into ``database``) in a thread; once its COPY runs (or after ``wait``
    seconds without seeing it), restart ``pg`` with ``pg_ctl restart -m mode``. ``pg=None``: the call
    alone, timed."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=call()))
    t0 = time.monotonic()
    thread.start()
    seen_after = restart_took = None
    if pg is not None:
        if wait_until(lambda: copy_in_progress(database), timeout=wait):
            seen_after = time.monotonic() - t0
        restart_took = pg.restart(mode)
    thread.join()
    return CutCall(box["result"], time.monotonic() - t0, seen_after, restart_took)
