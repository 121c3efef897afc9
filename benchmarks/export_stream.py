"""Export benchmark: stream approved items as JSON Lines over HTTP from PostgreSQL.

Builds its own database (accord_bench_export), loads two projects with SQL (10,000 and
1,000,000 approved items, each with consensus and disagreement, and two human ratings per item),
then for each export starts gunicorn with one sync worker, streams
GET /api/v1/projects/{id}/export/ with httpx (counting lines, keeping nothing) and reports rows
per second and the worker's peak RSS (VmHWM in /proc, a fresh worker per export).

    .venv/bin/python benchmarks/export_stream.py [--small 10000] [--large 1000000] [--no-ratings]

Targets (issue 6): at least 50,000 rows/s, and peak RSS growing by less than 50 MB from the
small export to the large one.
"""

import argparse
import datetime
import os
import secrets
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path
import httpx
import psycopg

from testbed.django_proc import manage_migrate, manage_shell
from testbed.gunicorn import gunicorn

DB = "accord_bench_export"

SETUP = """
from django.contrib.auth import get_user_model
from accounts.services import api_token_create
from annotation.models import Rater, RaterKind
from annotation.services.projects import project_create
from rubrics.services import rubric_create
User = get_user_model()
user = User.objects.create_user("bench", password="bench-password-1", is_staff=True)
criteria = [
    {"key": "helpfulness", "title": "Helpfulness", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
]
version = rubric_create(actor=user, name="Bench", criteria=criteria)
small = project_create(actor=user, name="Small", rubric=version)
large = project_create(actor=user, name="Large", rubric=version)
raters = [
    Rater.objects.create(kind=RaterKind.HUMAN, user=User.objects.create_user(f"rater{i}"), name=f"rater{i}").pk
    for i in range(2)
]
print(api_token_create(user=user)[1], small.pk, large.pk, version.pk, *raters)
"""

ITEMS_SQL = """
INSERT INTO annotation_item
    (project_id, external_id, data, metadata, status, approved_by, consensus, decision_reason,
     decided_at, disagreement, created_at, updated_at, load)
SELECT %(project)s, 'item-' || lpad(i::text, 7, '0'),
    jsonb_build_object(
        'prompt', 'Question ' || i || ': how do I sort a list of tuples by the second field?',
        'response', 'Use sorted(pairs, key=lambda p: p[1]); it is stable and returns a new list.'),
    jsonb_build_object('source', 'bench', 'batch', i / 1000),
    'approved', 'consensus',
    jsonb_build_object('helpfulness', 1 + i %% 5, 'correct', i %% 3 > 0),
    '', now() - interval '1 day' + i * interval '1 millisecond',
    jsonb_build_object('helpfulness', (i %% 4) / 4.0, 'correct', 0.0),
    now(), now(), 0
FROM generate_series(1, %(n)s) AS i
"""

RATINGS_SQL = """
INSERT INTO annotation_rating
    (item_id, rater_id, rubric_version_id, values, rationales, seconds_spent, source, created_at, updated_at)
SELECT item.id, rater.id, %(version)s,
    jsonb_build_object('helpfulness', 1 + (item.id + rater.id) %% 5, 'correct', item.id %% 2 = 0),
    jsonb_build_object('helpfulness', 'Clear and correct.'), 30.0, 'api', now(), now()
FROM annotation_item AS item CROSS JOIN (SELECT unnest(%(raters)s::bigint[]) AS id) AS rater
WHERE item.project_id = %(project)s
"""


def setup(env: dict, small: int, large: int) -> dict:
    _django.database_recreate(env["DATABASE_URL"])
    manage_migrate(env)
    token, small_id, large_id, version, *raters = manage_shell(env, SETUP)[-6:]
    start = time.perf_counter()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        for project, n in ((small_id, small), (large_id, large)):
            conn.execute(ITEMS_SQL, {"project": int(project), "n": n})
            conn.execute(
                RATINGS_SQL, {"project": int(project), "version": int(version), "raters": list(map(int, raters))}
            )
        conn.execute("VACUUM ANALYZE")
    print(
        f"# loaded {small + large:,} items and {2 * (small + large):,} ratings in {time.perf_counter() - start:.0f} s"
    )
    return {"token": token, "small": int(small_id), "large": int(large_id)}


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(env: dict) -> set[int]:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB])
        return {pid for (pid,) in rows}


def measure(env: dict, token: str, project: int, params: dict) -> dict:
    """One export through a freshly started gunicorn worker: rows, seconds, bytes, peak RSS."""
    with gunicorn(env) as (url, server):
        pid = worker_pid(server.pid)
        # DEBUG off redirects plain HTTP to HTTPS; say what the TLS proxy in front of gunicorn would.
        headers = {"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"}
        # Warm up: imports, the connection and the first queries, so the peak is the export's.
        httpx.get(f"{url}/api/v1/projects/{project}/export/manifest/", params={"status": "rejected"}, headers=headers)
        rss_before = status_kb(pid, "VmRSS")
        # The worker keeps its database connection (CONN_MAX_AGE), so its backend is known now.
        backends = backend_pids(env)
        cpu_before = cpu_seconds(pid) + sum(cpu_seconds(b) for b in backends)
        worker_before = cpu_seconds(pid)
        rows = size = 0
        start = time.perf_counter()
        with httpx.stream(
            "GET", f"{url}/api/v1/projects/{project}/export/", params=params, headers=headers, timeout=900
        ) as response:
            assert response.status_code == 200, response.read()[:500]
            expected = int(response.headers["X-Accord-Record-Count"])
            for piece in response.iter_bytes():
                rows += piece.count(b"\n")
                size += len(piece)
        seconds = time.perf_counter() - start
        worker_cpu = cpu_seconds(pid) - worker_before
        total_cpu = cpu_seconds(pid) + sum(cpu_seconds(b) for b in backends) - cpu_before
        assert rows == expected, (rows, expected)
        return {
            "rows": rows,
            "seconds": seconds,
            "bytes": size,
            "rss_before_mb": rss_before / 1024,
            "peak_mb": status_kb(pid, "VmHWM") / 1024,
            "worker_us": 1e6 * worker_cpu / rows,
            "db_us": 1e6 * (total_cpu - worker_cpu) / rows,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--no-ratings", action="store_true", help="Measure only the default export.")
    parser.add_argument("--skip-load", action="store_true", help="Reuse the database of the last run.")
    args = parser.parse_args()

    # Production settings (DEBUG off: no query log), a throwaway key and var/ of its own.
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING",
    }
    env["ACCORD_VAR_DIR"] = tempfile.mkdtemp(prefix="accord-bench-")
    env["DATABASE_URL"] = _django.database_url(DB)
    if args.skip_load:
        code = "from annotation.models import Project; from accounts.services import api_token_create; "
        code += "from django.contrib.auth.models import User; user = User.objects.get(username='bench'); "
        code += "print(api_token_create(user=user)[1], *Project.objects.order_by('id').values_list('id', flat=True))"
        out = manage_shell(env, code)
        ids = {"token": out[-3], "small": int(out[-2]), "large": int(out[-1])}
    else:
        ids = setup(env, args.small, args.large)

    load = os.getloadavg()[0]
    print(
        f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {_django.cpu_model()}, {os.cpu_count()} cores; "
        f"PostgreSQL; gunicorn -w 1 (sync); load average {load:.1f} at start"
    )
    print(
        "| export | rows | seconds | rows/s | MB sent | CPU per row: web worker + PostgreSQL "
        "| worker RSS before | peak RSS (VmHWM) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    variants = [("default (approved, no ratings)", {})]
    if not args.no_ratings:
        variants.append(("include=ratings (2 per item)", {"include": "ratings"}))
    results = {}
    for label, params in variants:
        for size in ("small", "large"):
            r = measure(env, ids["token"], ids[size], params)
            results[label, size] = r
            print(
                f"| {label} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
                f"{r['bytes'] / 1e6:,.0f} | {r['worker_us']:.1f} + {r['db_us']:.1f} µs | "
                f"{r['rss_before_mb']:.1f} MB | {r['peak_mb']:.1f} MB |",
                flush=True,
            )
    for label, _ in variants:
        growth = results[label, "large"]["peak_mb"] - results[label, "small"]["peak_mb"]
        print(f"# {label}: peak RSS grows by {growth:+.1f} MB from {args.small:,} to {args.large:,} rows")


if __name__ == "__main__":
    main()
