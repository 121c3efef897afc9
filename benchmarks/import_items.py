"""Import benchmark: 100,000 items in one POST /api/v1/projects/{id}/items/ over HTTP.

Runs once per backend (SQLite file, PostgreSQL) in a fresh database, against gunicorn with one
worker, timing the request end to end (JSON parse, validation, bulk insert); then posts the same
body again to time the idempotent path (every row unchanged).

    .venv/bin/python benchmarks/import_items.py [--items 100000] [--backends sqlite,postgres]
"""

import argparse
import json
import os
import tempfile
import time

import _django  # first: puts the checkout on sys.path
import httpx

from testbed.django_proc import project_setup
from testbed.gunicorn import gunicorn


def body(n: int) -> bytes:
    rows = [
        {
            "external_id": f"item-{i:07d}",
            "data": {
                "prompt": f"Question {i}: how do I sort a list of {i % 97} tuples by the second field?",
                "response": "Use sorted(pairs, key=lambda p: p[1]); it is stable and returns a new list. " * 2,
            },
            "metadata": {"source": "bench", "batch": i // 1000},
        }
        for i in range(n)
    ]
    return json.dumps(rows).encode()


def run_backend(name: str, n: int, payload: bytes) -> dict:
    env = {**os.environ, "DEBUG": "1", "CELERY_BROKER_URL": "memory://"}
    tmp = tempfile.mkdtemp(prefix="accord-bench-")
    env["ACCORD_VAR_DIR"] = tmp
    if name == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    else:
        env["DATABASE_URL"] = _django.database_recreate(_django.database_url("accord_bench_import"))
    token, project_id = project_setup(env, name="bench")  # migrated, a staff user, a rubric, a project
    with gunicorn(env) as (url, _server):
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
        return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    payload = body(args.items)
    print(
        f"# {args.items:,} items in one request ({len(payload) / 1e6:.1f} MB of JSON); "
        f"{_django.cpu_model()}, {os.cpu_count()} cores"
    )
    print("| backend | first import | items/s | re-import (all unchanged) | items/s |")
    print("|---|---|---|---|---|")
    for backend in args.backends.split(","):
        t = run_backend(backend, args.items, payload)
        print(
            f"| {backend} | {t['first']:.2f} s | {args.items / t['first']:,.0f} | "
            f"{t['again']:.2f} s | {args.items / t['again']:,.0f} |"
        )


if __name__ == "__main__":
    main()
