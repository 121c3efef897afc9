"""Benchmark: the server `make run` starts, as a newcomer gets it, with DATABASE_URL on PostgreSQL.

    .venv/bin/python benchmarks/make_run_server.py            # 10,000 and 100,000 items
    .venv/bin/python benchmarks/make_run_server.py --sizes 10000 --seconds 20

For each size it builds a project in its own database (accord_bench_run, dropped afterwards) with
three annotators on an overlap of 3, starts ``bin/run-local`` exactly as ``make run`` does (DEBUG
on, web server, Celery worker, the demo's fake model server), then:

- the idle memory of the whole process tree (RSS and PSS, summed over every process; PSS counts
  pages shared between forked processes once, which is what the machine actually spends);
- three annotators, each its own process over HTTP with an API token, looping next → submit
  (``POST …/queue/next/`` then ``POST /api/v1/items/{id}/ratings/``) for ``--seconds``: p50 / p99 of
  each call, measured by the client;
- the export of every item (``GET …/export/?format=jsonl``), rows per second.

Compare with the production figures of docs/benchmarks.md (gunicorn, DEBUG off): the point of
`make run` is to be that server with a developer's conveniences, not a slower one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path

DB_NAME = os.environ.get("BENCH_RUN_DB", "accord_bench_run")  # another name for parallel runs
ANNOTATORS = 3
CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False},
]


def fixture_build(*, items: int) -> tuple[int, list[str]]:
    """A project of ``items`` items, three annotators with API tokens; returns its id and the keys."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.services import api_token_create
    from annotation.models import Role
    from annotation.services.items import items_import
    from annotation.services.projects import membership_set, project_create
    from rubrics.services import rubric_create

    users = get_user_model().objects
    staff = users.create_user(username="staff", is_staff=True)
    version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
    project = project_create(actor=staff, name="make run bench", rubric=version, annotations_per_item=3)
    items_import(
        project=project,
        rows=(
            {"external_id": f"item-{n:06d}", "data": {"prompt": f"p{n}", "response": "r" * 200}} for n in range(items)
        ),
    )
    keys = []
    for n in range(ANNOTATORS):
        user = users.create_user(username=f"annotator{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        keys.append(api_token_create(user=user, name="bench")[1])
    membership_set(project=project, user=staff, role=Role.MANAGER)
    keys.append(api_token_create(user=staff, name="bench")[1])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    return project.pk, keys


def tree_memory(root_pid: int) -> tuple[float, float, int]:
    """RSS and PSS in MB summed over ``root_pid`` and all its descendants, and how many processes."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    pids, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024, len(pids)


def annotate(base: str, project_id: int, key: str, seconds: float, start_at: float, out) -> None:
    import httpx

    nexts: list[float] = []
    submits: list[float] = []
    errors = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=30) as client:
        time.sleep(max(0.0, start_at - time.time()))
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            lease = client.post(f"/api/v1/projects/{project_id}/queue/next/")
            nexts.append((time.perf_counter() - t0) * 1000)
            if lease.status_code != 200:
                errors += 1
                break
            item_id = lease.json()["item"]["id"]
            t0 = time.perf_counter()
            rated = client.post(
                f"/api/v1/items/{item_id}/ratings/",
                json={"values": {"helpfulness": 1 + item_id % 5, "correct": item_id % 3 == 0}},
            )
            submits.append((time.perf_counter() - t0) * 1000)
            if rated.status_code != 201:
                errors += 1
    out.put((nexts, submits, errors))


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


# gunicorn's access log, one line per request: method, path, status, microseconds in the server
# (from the request's parsing to the response's last byte: the time the client waits, minus HTTP).
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(D)s"


def server_start(env: dict, port: int, log) -> subprocess.Popen:
    import httpx

    env = {**env, "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'"}
    proc = subprocess.Popen(
        ["bin/run-local"], cwd=_django.ROOT, env=env, stdout=log, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    sys.exit("bin/run-local did not answer on /api/v1/health/ within 90 s")


def server_times(log_path: Path) -> tuple[list[float], list[float]]:
    """Server-side milliseconds of each queue claim and each rating submission, from the access log."""
    nexts, submits = [], []
    for line in log_path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] != "POST" or not parts[3].isdigit():
            continue
        if parts[1].endswith("/queue/next/") and parts[2] == "200":
            nexts.append(int(parts[3]) / 1000)
        elif parts[1].endswith("/ratings/") and parts[2] == "201":
            submits.append(int(parts[3]) / 1000)
    return nexts, submits


def one_size(*, items: int, seconds: float, port: int, database: str) -> dict:
    import httpx

    url = _django.database_url(database)
    _django.database_recreate(url)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "PORT": str(port), "DEMO_LLM_PORT": str(port + 1)}
    env.pop("CELERY_BROKER_URL", None)  # as a newcomer has it: the filesystem broker
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=_django.ROOT, env=env, check=True
    )
    os.environ["DATABASE_URL"] = url
    project_id, keys = fixture_build(items=items)
    log_path = _django.ROOT / "var" / f"bench-make-run-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = log_path.open("w")
    proc = server_start(env, port, log)
    try:
        time.sleep(8)  # the worker and its pool settle
        rss, pss, processes = tree_memory(proc.pid)
        base = f"http://127.0.0.1:{port}"
        # One warm-up round, as a browser's first page would be.
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {keys[0]}"}) as client:
            client.get(f"/api/v1/projects/{project_id}/")
        out: multiprocessing.Queue = multiprocessing.Queue()
        start_at = time.time() + 1
        workers = [
            multiprocessing.Process(target=annotate, args=(base, project_id, key, seconds, start_at, out))
            for key in keys[:ANNOTATORS]
        ]
        for w in workers:
            w.start()
        results = [out.get() for _ in workers]
        for w in workers:
            w.join()
        nexts = [v for r in results for v in r[0]]
        submits = [v for r in results for v in r[1]]
        errors = sum(r[2] for r in results)
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {keys[-1]}"}, timeout=300) as client:
            t0 = time.perf_counter()
            rows = 0
            with client.stream(
                "GET", f"/api/v1/projects/{project_id}/export/", params={"format": "jsonl", "status": "all"}
            ) as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    rows += bool(line)
            export_s = time.perf_counter() - t0
        log.flush()
        server_nexts, server_submits = server_times(log_path)
        return {
            "items": items, "rss": rss, "pss": pss, "processes": processes, "errors": errors,
            "next_p50": pct(nexts, 50), "next_p99": pct(nexts, 99), "next_n": len(nexts),
            "submit_p50": pct(submits, 50), "submit_p99": pct(submits, 99),
            "server_next_p50": pct(server_nexts, 50), "server_next_p99": pct(server_nexts, 99),
            "server_submit_p50": pct(server_submits, 50), "server_submit_p99": pct(server_submits, 99),
            "load": os.getloadavg()[0],
            "export_rows": rows, "export_rows_s": rows / export_s,
        }  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        _django.database_drop(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--database", default=DB_NAME, help="created and dropped; its name must contain 'bench'")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = _django.database_url(args.database)
    os.environ["DEBUG"] = "1"
    _django.setup()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# make run server: {_django.cpu_model()}, load {os.getloadavg()[0]:.1f}, {when}")
    print(
        "| items | idle RSS / PSS (MB, processes) | next p50 / p99 (ms) | submit p50 / p99 (ms) "
        "| server-side next / submit p50 / p99 (ms) | rounds | export rows/s | errors | load at the end |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for items in args.sizes:
        r = one_size(items=items, seconds=args.seconds, port=args.port, database=args.database)
        cells = [
            f"{r['items']:,}",
            f"{r['rss']:.0f} / {r['pss']:.0f} ({r['processes']})",
            f"{r['next_p50']:.1f} / {r['next_p99']:.1f}",
            f"{r['submit_p50']:.1f} / {r['submit_p99']:.1f}",
            f"{r['server_next_p50']:.1f} / {r['server_next_p99']:.1f}; "
            f"{r['server_submit_p50']:.1f} / {r['server_submit_p99']:.1f}",
            f"{r['next_n']:,}",
            f"{r['export_rows_s']:,.0f} ({r['export_rows']:,})",
            str(r["errors"]),
            f"{r['load']:.1f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
