"""Judge-run benchmark: 2,000 items x 4 criteria through real Celery worker processes.

The fake OpenAI server runs as a separate process answering every request after --latency-ms
(300 ms); one Celery worker (``-c 2``: two pool processes) with JUDGES_CONCURRENCY=32 keeps 64
requests in flight. Reported: wall time from judge_run_start to the run's final status against
the ideal (items x latency ÷ in-flight), and the platform's CPU per verdict — user + system CPU
of the worker's whole process tree (main process and pool children, read from /proc) during the
run, divided by the verdicts written. A 128-item warm-up run (excluded) lets each pool process
import the SDKs and open its connections first.

Fresh database each time: PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432,
database accord_bench_judges) or, if unreachable, a SQLite file in a temporary directory. Broker:
Redis db 10 if reachable (flushed), else the filesystem broker in the temporary directory.

    .venv/bin/python benchmarks/judge_run.py [--items 2000] [--latency-ms 300] [--in-flight 64] [--provider anthropic]
        [--max-cost DOLLARS]

``--max-cost``: the measured run gets that budget (and the judge prices of $2.50 / $10 per million
tokens), so every item's worst case is reserved on the ledger before its calls and settled after:
what enforcing a cap costs (``make bench-judges-budget`` runs it with and without). BENCH_JUDGES_DB
names the PostgreSQL database.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import _django  # first: puts the checkout on sys.path

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
KEY_ENV = "BENCH_LLM_KEY"
CLOCK = os.sysconf("SC_CLK_TCK")


def pick_database(tmp: Path) -> str:
    try:
        name = os.environ.get("BENCH_JUDGES_DB", "accord_bench_judges")
        return _django.database_recreate(_django.database_url(name), connect_timeout=2)
    except Exception as exc:
        print(f"PostgreSQL unavailable ({exc}); using SQLite", file=sys.stderr)
        return f"sqlite:///{tmp / 'bench.sqlite3'}"


def pick_broker() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
        return REDIS_URL
    except Exception as exc:
        print(f"Redis unavailable ({exc}); using the filesystem broker", file=sys.stderr)
        return "filesystem://"


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    out = log.open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-c", "2", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "-n", "bench-judges@%h"],
        cwd=_django.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("worker did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.2)
    return proc


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and all its descendants, from /proc."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def profiler_start(pid: int, path: str) -> subprocess.Popen:
    """py-spy (``pip install py-spy``) sampling the worker and its pool children; its own CPU is not
    in the worker tree's figure, but it competes for the same cores, so profiled runs are slower."""
    spy = subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--subprocesses",
         "--format", "raw", "--rate", "200", "--gil", "--output", path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # let it attach before the measured run starts
    return spy


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--in-flight", type=int, default=64, help="total; split over the two pool processes")
    parser.add_argument("--provider", choices=["openai", "anthropic"], default="openai", help="which SDK and API shape")
    parser.add_argument("--chunk-size", type=int, default=256, help="a multiple of the per-process in-flight count")
    parser.add_argument("--max-cost", type=Decimal, default=None, help="the measured run's budget in dollars")
    parser.add_argument(
        "--profile", metavar="PATH", help="record the worker tree with py-spy during the measured run (raw stacks)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="accord-bench-judges-"))
    fake, fake_url = _django.fake_llm_start(args.latency_ms)
    atexit.register(stop, fake)  # also when the setup below fails
    env = _django.judge_env(  # production-like: DEBUG off
        tmp,
        DATABASE_URL=pick_database(tmp),
        CELERY_BROKER_URL=pick_broker(),
        JUDGES_CONCURRENCY=str(args.in_flight // 2),
        JUDGES_CHUNK_SIZE=str(args.chunk_size),
        LOG_LEVEL="WARNING",
        **{KEY_ENV: "bench-key"},
    )
    user, version = _django.judge_setup(env, user="bench", rubric="Bench")  # 4 criteria
    from annotation.services.items import items_import
    from annotation.services.projects import project_create
    from judges.models import ACTIVE_STATUSES, JudgeRun
    from judges.services.judges import judge_create
    from judges.services.runs import judge_run_start

    def project_with(n: int, name: str):
        project = project_create(actor=user, name=name, rubric=version, guidelines="Be strict about facts.")
        rows = [
            {"external_id": f"{name}-{i}", "data": {"prompt": f"Question {i}?", "response": f"Answer {i}. " * 20}}
            for i in range(n)
        ]
        items_import(project=project, rows=rows)
        base_url = f"{fake_url}/v1" if args.provider == "openai" else fake_url
        prices = {"price_input_per_mtok": "2.5", "price_output_per_mtok": "10"} if args.max_cost is not None else {}
        judge = judge_create(actor=user, project=project, name="Bench judge", provider=args.provider,
                             model="bench-model", base_url=base_url, api_key_env=KEY_ENV, **prices)  # fmt: skip
        return project, judge

    def run(project, judge, max_cost=None):
        t0 = time.perf_counter()
        run = judge_run_start(actor=user, project=project, judge=judge, items="all", max_cost=max_cost)
        while JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        run.refresh_from_db()
        return run, wall

    warm = project_with(128, "warm")
    main_project = project_with(args.items, "bench")
    worker = start_worker(env, tmp / "worker.log")
    spy = None
    try:
        run(*warm)
        load_before = os.getloadavg()
        spy = profiler_start(worker.pid, args.profile) if args.profile else None
        cpu0, fake0 = tree_cpu_seconds(worker.pid), tree_cpu_seconds(fake.pid)
        result, wall = run(*main_project, max_cost=args.max_cost)
        cpu = tree_cpu_seconds(worker.pid) - cpu0
        fake_cpu = tree_cpu_seconds(fake.pid) - fake0
        load_after = os.getloadavg()
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=30)
        stop(worker)
        stop(fake)

    ideal = args.items * args.latency_ms / 1000 / args.in_flight
    verdicts = result.done
    figures = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": env["DATABASE_URL"].split(":", 1)[0],
        "broker": env["CELERY_BROKER_URL"].split(":", 1)[0],
        "provider": args.provider,
        "items": args.items,
        "max_cost": None if args.max_cost is None else str(args.max_cost),
        "cost_spent_usd": str(Decimal(result.cost_spent_micros) / 10**6),
        "status": result.status,
        "verdicts": verdicts,
        "failed": result.failed,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "wall_over_ideal": round(wall / ideal, 3),
        "worker_cpu_s": round(cpu, 2),
        "cpu_ms_per_verdict": round(1000 * cpu / max(verdicts, 1), 2),
        # The fake provider shares the same two cores; its CPU is not the platform's but competes with it.
        "fake_server_cpu_s": round(fake_cpu, 2),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(figures, indent=2))
    ok = result.status == "succeeded" and verdicts == args.items
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
