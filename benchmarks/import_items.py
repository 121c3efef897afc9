"""Import benchmark: 100,000 items in one POST /api/v1/projects/{id}/items/ over HTTP.

Runs once per backend (SQLite file, PostgreSQL) in a fresh database, against gunicorn with one
worker, timing the request end to end (JSON parse, validation, bulk insert); then posts the same
body again to time the idempotent path (every row unchanged).

    .venv/bin/python benchmarks/import_items.py [--items 100000] [--backends sqlite,postgres]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from gunicorn_server import gunicorn

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def setup_database(env: dict) -> tuple[str, int]:
    """Migrate, then create a staff user, a rubric and a project; return (token, project id)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    code = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from annotation.services.projects import project_create
from rubrics.services import rubric_create
user = get_user_model().objects.create_user("bench", password="bench-password-1", is_staff=True)
version = rubric_create(actor=user, name="Bench", criteria=[{"key": "ok", "title": "OK", "scale": {"kind": "binary"}}])
project = project_create(actor=user, name="Bench", rubric=version)
print(Token.objects.create(user=user).key, project.pk)
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[-2], int(out[-1])


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
        db = "accord_bench_import"
        subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", db], check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], check=True)
        env["DATABASE_URL"] = f"{PG_ADMIN_URL}/{db}"
    token, project_id = setup_database(env)
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
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor()
    )
    print(f"# {args.items:,} items in one request ({len(payload) / 1e6:.1f} MB of JSON); {cpu}, {os.cpu_count()} cores")
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
