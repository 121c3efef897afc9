"""Import benchmark: 200,000 items of about 1 KB each in one POST /api/v1/projects/{id}/items/.

Runs once per backend (SQLite file, PostgreSQL) in a fresh database, against gunicorn with one
worker, timing the request end to end (JSON parse, validation, merge); then posts the same body
again to time the idempotent path (every row unchanged).

On PostgreSQL it then times the service itself (``items_import`` in this process, rows already
parsed) side by side: the merge through COPY into a staging table and one set-based statement
(services/item_merge.py, the default) against the earlier path (lookups and comparison in
Python, COPY of the new rows only), each into a fresh project, first import and re-import.

    .venv/bin/python benchmarks/import_items.py [--items 200000] [--backends sqlite,postgres]
"""

import argparse
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import _django  # first: puts the checkout on sys.path
import httpx

from testbed.django_proc import project_setup
from testbed.gunicorn import gunicorn
from testbed.servers import free_port


def rows_of(n: int) -> list[dict]:
    """``n`` rows whose ``data`` is about 1 KB of JSON."""
    return [
        {
            "external_id": f"item-{i:07d}",
            "data": {
                "prompt": f"Question {i}: how do I sort a list of {i % 97} tuples by the second field? " * 3,
                "response": "Use sorted(pairs, key=lambda p: p[1]); it is stable and returns a new list. " * 9,
            },
            "metadata": {"source": "bench", "batch": i // 1000},
        }
        for i in range(n)
    ]


def body(n: int) -> bytes:
    return json.dumps(rows_of(n)).encode()


def in_process(env: dict, n: int, rounds: int = 2) -> list[tuple[str, dict]]:
    """``items_import`` timed in this process on PostgreSQL: the staging merge, then the earlier path.
    Production settings (DEBUG off: no query log kept in memory), as a server runs them."""
    _django.setup({**env, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "localhost"})
    from django.contrib.auth import get_user_model

    from annotation.services import items as item_services
    from annotation.services.projects import project_create
    from rubrics.models import RubricVersion

    staff = get_user_model().objects.get(username="bench")
    version = RubricVersion.objects.first()
    out = []
    paths = (("COPY (empty project) or staging + one merge (new)", False), ("lookups + COPY of new rows (old)", True))
    # Each path twice, alternating, so that a change of the machine's load falls on both.
    for round_, (label, legacy) in enumerate(paths * rounds):
        item_services.ITEM_IMPORT_LEGACY = legacy
        project = project_create(actor=staff, name=f"{label} {round_}", rubric=version)
        timings = {}
        for run in ("first", "again"):
            rows = rows_of(n)  # fresh dicts: nothing cached between runs
            start = time.perf_counter()
            result = item_services.items_import(project=project, rows=rows)
            timings[run] = time.perf_counter() - start
            timings[f"{run}_result"] = result.as_dict()
        assert timings["first_result"]["created"] == n and timings["again_result"]["unchanged"] == n, timings
        out.append((label, timings))
    item_services.ITEM_IMPORT_LEGACY = False
    return out


@contextmanager
def make_run(env: dict) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server ``make run`` starts (bin/run-local: gunicorn with threads and reload, a Celery
    worker beside it, DEBUG=1), on a free port and without the demo's fake model server."""
    port = free_port()
    env = {**env, "PORT": str(port), "DEMO_LLM_PORT": "0"}
    proc = subprocess.Popen(
        ["bin/run-local"], cwd=_django.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                if httpx.get(f"{url}/api/v1/health/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def run_backend(name: str, n: int, payload: bytes, db: str, server: str = "gunicorn") -> dict:
    env = {**os.environ, "DEBUG": "1", "CELERY_BROKER_URL": "memory://"}
    if server == "make-run":
        env.pop("CELERY_BROKER_URL")  # as a newcomer has it: the filesystem broker
    tmp = tempfile.mkdtemp(prefix="accord-bench-")
    env["ACCORD_VAR_DIR"] = tmp
    if name == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    else:
        env["DATABASE_URL"] = _django.database_recreate(_django.database_url(db))
    token, project_id = project_setup(env, name="bench")  # migrated, a staff user, a rubric, a project
    with gunicorn(env) if server == "gunicorn" else make_run(env) as (url, _server):
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        timings = {}
        for label in ("first", "again"):
            start = time.perf_counter()
            response = httpx.post(
                f"{url}/api/v1/projects/{project_id}/items/", content=payload, headers=headers, timeout=900
            )
            timings[label] = time.perf_counter() - start
            assert response.status_code == 201, response.text[:500]
            timings[f"{label}_result"] = response.json()
        assert timings["first_result"]["created"] == n
        assert timings["again_result"]["unchanged"] == n
        timings["env"] = env
        return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--service-only", action="store_true", help="PostgreSQL: only the in-process service figures, no HTTP runs"
    )
    parser.add_argument("--db", default="accord_bench_import", help="PostgreSQL database to create and drop")
    parser.add_argument(
        "--server", choices=["gunicorn", "make-run"], default="gunicorn",
        help="gunicorn with one sync worker, or the server `make run` starts (bin/run-local)",
    )  # fmt: skip
    args = parser.parse_args()
    payload = body(args.items)
    print(
        f"# {args.items:,} items in one request ({len(payload) / 1e6:.1f} MB of JSON); "
        f"{_django.cpu_model()}, {os.cpu_count()} cores"
    )
    print("| backend | first import | items/s | re-import (all unchanged) | items/s |")
    print("|---|---|---|---|---|")
    pg_env = None
    if args.service_only:
        pg_env = {**os.environ, "DEBUG": "1", "CELERY_BROKER_URL": "memory://", "ACCORD_VAR_DIR": tempfile.mkdtemp()}
        pg_env["DATABASE_URL"] = _django.database_recreate(_django.database_url(args.db))
        project_setup(pg_env, name="bench")
    for backend in [] if args.service_only else args.backends.split(","):
        t = run_backend(backend, args.items, payload, args.db, args.server)
        print(
            f"| {backend}, HTTP ({args.server}) | {t['first']:.2f} s | {args.items / t['first']:,.0f} | "
            f"{t['again']:.2f} s | {args.items / t['again']:,.0f} |",
            flush=True,
        )
        if backend == "postgres":
            pg_env = t["env"]
    if pg_env is not None:
        try:
            for label, t in in_process(pg_env, args.items):
                print(
                    f"| postgres, items_import: {label} | {t['first']:.2f} s | {args.items / t['first']:,.0f} | "
                    f"{t['again']:.2f} s | {args.items / t['again']:,.0f} |",
                    flush=True,
                )
        finally:
            from django.db import connections

            connections.close_all()
            _django.database_drop(pg_env["DATABASE_URL"])
    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}")


if __name__ == "__main__":
    main()
