"""Chaos: a judge run while Celery workers are SIGKILLed every few seconds and Redis restarts once.

A redis-server of our own (AOF on, ``appendfsync everysec``: the broker setting production needs)
is the broker; two Celery workers (``-c 2`` each) judge --items items (--samples samples each)
from the fake OpenAI server (separate process, --latency-ms per call). Every --every seconds
(± a third) the chaos thread SIGKILLs, alternately, one pool process (its worker requeues the
chunk at once) or a whole worker, main process and pool (the broker hands its chunk out again
after the visibility timeout, 10 s here; a fresh worker replaces it). After --redis-after kills,
Redis is restarted once (SIGTERM, or SIGKILL with --redis-crash). One Celery beat process runs
the stalled-run sweep (judges.tasks.judge_runs_sweep_stalled) every --sweep-every seconds.

Then every item is counted: samples per (item, judge version, rubric version, sample index),
verdicts per (item, judge version, rubric version), ratings per (item, rater, rubric version).
Expected: one each, none missing; the run succeeded.

Database: a fresh accord_h5_chaos_judges on BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432).

    .venv/bin/python benchmarks/chaos_judges.py [--items 1000] [--samples 2] [--every 3] [--redis-after 4]
    # a broker without persistence loses the queued chunks; beat's sweep sends them again:
    .venv/bin/python benchmarks/chaos_judges.py --no-appendonly
    # ...and without the sweep the run never ends (given up after --timeout):
    .venv/bin/python benchmarks/chaos_judges.py --no-appendonly --no-beat --timeout 120
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path

from testbed.chaos import Chaos, run_counts
from testbed.servers import RedisServer
from testbed.workers import WorkerFleet

DATABASE = "accord_h5_chaos_judges"
KEY_ENV = "CHAOS_LLM_KEY"


def stop_fake_server(proc: subprocess.Popen) -> int | None:
    """Stop it and return how many calls it answered."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    found = re.search(r"STOPPED (\{.*?\})", err)
    return sum(json.loads(found.group(1)).values()) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16, help="JUDGES_CONCURRENCY per pool process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between kills (± a third)")
    parser.add_argument("--redis-after", type=int, default=4, help="restart Redis after this many kills")
    parser.add_argument("--redis-crash", action="store_true", help="SIGKILL Redis instead of SIGTERM")
    parser.add_argument("--no-appendonly", action="store_true", help="run Redis without persistence")
    parser.add_argument("--no-beat", action="store_true", help="no Celery beat, so no sweep for lost chunks")
    parser.add_argument("--sweep-every", type=int, default=5, help="JUDGES_STALLED_SWEEP_SECONDS for beat")
    parser.add_argument("--visibility-timeout", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900, help="give up waiting for the run after this")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="accord-chaos-judges-"))
    redis = RedisServer(tmp / "redis", appendonly=not args.no_appendonly).start()
    fake, fake_url = _django.fake_llm_start(args.latency_ms, stderr=subprocess.PIPE)
    env = _django.judge_env(
        tmp,
        DATABASE_URL=_django.database_recreate(_django.database_url(DATABASE)),
        CELERY_BROKER_URL=redis.url(),
        JUDGES_TEST_VISIBILITY_TIMEOUT=str(args.visibility_timeout),
        JUDGES_CONCURRENCY=str(args.concurrency),
        JUDGES_CHUNK_SIZE=str(args.chunk_size),
        LOG_LEVEL="INFO",
        JUDGES_STALLED_SWEEP_SECONDS=str(args.sweep_every),
        **{KEY_ENV: "chaos-key"},
    )
    user, version = _django.judge_setup(env, user="chaos", rubric="Chaos", criteria=2)  # helpfulness, correct
    from annotation.services.items import items_import
    from annotation.services.projects import project_create
    from judges.models import ACTIVE_STATUSES, JudgeRun
    from judges.services.judges import judge_create
    from judges.services.runs import judge_run_start

    project = project_create(actor=user, name="Chaos", rubric=version)
    items_import(
        project=project,
        rows=[{"external_id": f"c{i}", "data": {"prompt": f"Q{i}?", "response": f"A{i}."}} for i in range(args.items)],
    )
    judge = judge_create(
        actor=user, project=project, name="Chaos judge", provider="openai", model="chaos-model",
        base_url=f"{fake_url}/v1", api_key_env=KEY_ENV, samples=args.samples,
    )  # fmt: skip

    fleet = WorkerFleet(env, tmp / "workers", size=args.workers, concurrency=2).start()
    beat = None
    if not args.no_beat:  # one beat process, as in production: the sweep for chunks a broker lost
        beat = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "config", "beat", "-s", str(tmp / "beat-schedule")],
            cwd=_django.ROOT, env=env, stdout=(tmp / "beat.log").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    chaos = Chaos(
        fleet=fleet, redis=redis, every=args.every, redis_after=args.redis_after, seed=args.seed,
        redis_signal=signal.SIGKILL if args.redis_crash else signal.SIGTERM,
    )  # fmt: skip
    load_before = os.getloadavg()
    ended = False
    try:
        deadline = time.monotonic() + 120
        while fleet.ready_count() < args.workers:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start:\n" + fleet.text()[-3000:])
            time.sleep(0.2)
        t0 = time.perf_counter()
        run = judge_run_start(actor=user, project=project, judge=judge, items="all")
        chaos.start()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if not JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
                ended = True
                break
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        chaos.stop()
    finally:
        chaos.stop()
        fleet.stop()
        if beat is not None:
            beat.terminate()
            beat.wait(timeout=30)
        calls = stop_fake_server(fake)
        redis.stop(signal.SIGKILL)
    load_after = os.getloadavg()

    counts = run_counts(run_id=run.pk)
    requeued = [int(n) for n in re.findall(r"sending its (\d+) unfinished chunks again", fleet.text())]
    unfinished = run.chunks.filter(finished_at__isnull=True).count()
    figures = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "broker": f"redis-server {'AOF everysec' if redis.appendonly else 'without persistence'}, own instance",
        "items": args.items,
        "samples_per_item": args.samples,
        "chunks": counts["chunks"],
        "workers": f"{args.workers} x -c 2, JUDGES_CONCURRENCY={args.concurrency}",
        "latency_ms": args.latency_ms,
        "pool_process_kills": fleet.child_kills,
        "worker_kills": fleet.worker_kills,
        "redis_restarts": redis.restarts,
        "redis_down_s": round(chaos.redis_downtime, 2),
        "run_ended": ended,
        "run_status": counts["run_status"],
        "run_error": counts["run_error"],
        "chunks_unfinished": unfinished,
        "chunk_deliveries": counts["chunk_deliveries"],
        "stalled_run_sweep": "off" if args.no_beat else f"beat every {args.sweep_every}s",
        "chunks_sent_again_by_sweep": sum(requeued),
        "verdicts_expected": counts["verdicts_expected"],
        "verdicts_found": counts["verdicts_found"],
        "verdicts_lost": counts["verdicts_lost"],
        "verdicts_duplicated": counts["verdicts_duplicated"],
        "samples_expected": counts["samples_expected"],
        "samples_found": counts["samples_found"],
        "samples_duplicated": counts["samples_duplicated"],
        "ratings_found": counts["ratings_found"],
        "ratings_duplicated": counts["ratings_duplicated"],
        "provider_calls": calls,
        "wall_s": round(wall, 1),
        "ideal_s_without_chaos": round(
            args.items * args.samples * args.latency_ms / 1000 / (args.workers * 2 * args.concurrency), 1
        ),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
        "events": chaos.events,
        "worker_respawns": fleet.respawns,
        "worker_logs": str(fleet.logs),
    }
    print(json.dumps(figures, indent=2))
    ok = (
        counts["run_status"] == "succeeded"
        and counts["verdicts_found"] == args.items
        and counts["verdicts_lost"] == counts["verdicts_duplicated"] == counts["samples_duplicated"] == 0
        and counts["samples_found"] == args.items * args.samples
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
