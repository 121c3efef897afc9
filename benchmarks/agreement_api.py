"""Agreement API benchmark: GET /api/v1/projects/{id}/agreement/ on 1,000,000 ratings in PostgreSQL.

333,334 items x 3 human raters (1,000,002 ratings), three criteria (5-point ordinal, binary,
3-way categorical), plus an LLM judge that rated 100,000 of the items. Serves the app under
gunicorn (one worker) with one Celery worker beside it (filesystem broker in a temporary
directory) and times, over HTTP:

- the first request (no report stored yet: 202, a computation queued), and how long the worker
  takes to compute the report;
- requests answered from the stored report;
- a request right after a new rating (the stale report, ``stale: true``), and how long until the
  recomputed report is served;
- the same for ``?bootstrap=0``.

    .venv/bin/python benchmarks/agreement_api.py [--items 333334] [--db NAME] [--keep]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import _django  # first: puts the checkout on sys.path
import httpx

from testbed.django_proc import manage, manage_migrate, manage_shell
from testbed.gunicorn import gunicorn

DB = "accord_bench_agreement"

# A new rating by the judge (judges need no lease), through the service, so the on-commit hook
# that queues the recompute runs exactly as it does for an annotator's rating.
RATE = """
from annotation.models import Item, Project, Rater, RaterKind
from annotation.services.ratings import rating_submit
project = Project.objects.get(pk=__PROJECT__)
judge = Rater.objects.filter(kind=RaterKind.JUDGE).first()
item = Item.objects.filter(project=project).exclude(ratings__rater=judge).order_by("id").first()
rating_submit(item=item, rater=judge, values={"quality": 3, "correct": True, "tone": "ok"})
"""


SETUP = """
from django.contrib.auth import get_user_model
from django.db import connection
from accounts.services import api_token_create
from annotation.models import Rater, RaterKind
from annotation.selectors import rater_for_user
from annotation.services.projects import project_create
from rubrics.services import rubric_create
User = get_user_model()
staff = User.objects.create_user("bench", password="bench-password-1", is_staff=True)
version = rubric_create(actor=staff, name="Bench", criteria=[
    {"key": "quality", "title": "Quality", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["ok", "terse", "rude"]}},
])
project = project_create(actor=staff, name="Bench", rubric=version, annotations_per_item=3)
raters = [rater_for_user(user=User.objects.create_user(f"r{i}")).pk for i in range(3)]
judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1).pk
n = __ITEMS__
with connection.cursor() as c:
    c.execute(
        "INSERT INTO annotation_item (project_id, external_id, data, metadata, status, approved_by, consensus,"
        " decision_reason, disagreement, load, created_at, updated_at)"
        " SELECT %s, 'i' || g, '{}'::jsonb, '{}'::jsonb, 'annotated', '', '{}'::jsonb, '', '{}'::jsonb, 3,"
        " now(), now() FROM generate_series(1, %s) g", [project.pk, n])
    # Each item has a true quality; raters add noise, so alpha is high but not 1.
    c.execute(
        "INSERT INTO annotation_rating (item_id, rater_id, rubric_version_id, values, rationales, source,"
        " created_at, updated_at)"
        " SELECT i.id, r.rater, %s, jsonb_build_object("
        "   'quality', LEAST(5, GREATEST(1, 1 + (i.id * 7919) %% 5 + (CASE WHEN random() < 0.2 THEN 1 ELSE 0 END)"
        "      - (CASE WHEN random() < 0.2 THEN 1 ELSE 0 END))),"
        "   'correct', (i.id %% 3 <> 0) <> (random() < 0.1),"
        "   'tone', (ARRAY['ok','terse','rude'])"
        "      [1 + CASE WHEN random() < 0.85 THEN (i.id %% 3) ELSE 2 - (i.id %% 3) END]),"
        " '{}'::jsonb, 'import', now(), now()"
        " FROM annotation_item i CROSS JOIN unnest(%s::bigint[]) AS r(rater) WHERE i.project_id = %s",
        [version.pk, raters, project.pk])
    c.execute(
        "INSERT INTO annotation_rating (item_id, rater_id, rubric_version_id, values, rationales, source,"
        " created_at, updated_at)"
        " SELECT i.id, %s, %s, jsonb_build_object('quality', 1 + (i.id * 7919) %% 5, 'correct', i.id %% 3 <> 0,"
        "   'tone', (ARRAY['ok','terse','rude'])[1 + i.id %% 3]), '{}'::jsonb, 'judge', now(), now()"
        " FROM annotation_item i WHERE i.project_id = %s ORDER BY i.id LIMIT 100000",
        [judge, version.pk, project.pk])
    c.execute("ANALYZE")
print(api_token_create(user=staff)[1], project.pk)
"""


@contextmanager
def celery_worker(env: dict):
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-c", "1", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle"],
        cwd=_django.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def timed_get(url: str, headers: dict) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = httpx.get(url, headers=headers, timeout=900)
    return time.perf_counter() - start, response


def wait_current(url: str, headers: dict, *, since: float, timeout: float = 1800) -> tuple[float, dict]:
    """Poll until the report is current; return seconds since ``since`` and the report."""
    while time.perf_counter() - since < timeout:
        response = httpx.get(url, headers=headers, timeout=900)
        if response.status_code == 200 and not response.json()["stale"]:
            return time.perf_counter() - since, response.json()
        time.sleep(1)
    raise SystemExit(f"no current report after {timeout} s")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=333_334)
    parser.add_argument("--db", default=DB)
    parser.add_argument("--keep", action="store_true", help="leave the database in place afterwards")
    args = parser.parse_args()
    env = {**os.environ, "DEBUG": "1", "ACCORD_VAR_DIR": tempfile.mkdtemp()}
    env.pop("CELERY_BROKER_URL", None)  # the filesystem broker under ACCORD_VAR_DIR, shared with the worker
    env["DATABASE_URL"] = _django.database_recreate(_django.database_url(args.db))
    manage_migrate(env)
    started = time.perf_counter()
    token, project_id = manage_shell(env, SETUP.replace("__ITEMS__", str(args.items)))[-2:]
    project = int(project_id)
    print(f"loaded {args.items * 3:,} human ratings + 100,000 judge ratings in {time.perf_counter() - started:.1f} s")
    headers = {"Authorization": f"Token {token}"}

    def compute_seconds(draws: int) -> str:
        sql = f"SELECT compute_seconds FROM annotation_agreementreport WHERE bootstrap_draws = {draws}"
        psql = subprocess.run(["psql", env["DATABASE_URL"], "-tA", "-c", sql], capture_output=True, text=True)
        return psql.stdout.strip()

    try:
        with gunicorn(env) as (url, _server), celery_worker(env):
            print("| request | seconds | status | load average |")
            print("|---|---|---|---|")

            def row(what: str, seconds: float, status: str) -> None:
                print(f"| {what} | {seconds:.2f} | {status} | {loadavg()} |", flush=True)

            for draws in (1000, 0):
                api = f"{url}/api/v1/projects/{project}/agreement/?bootstrap={draws}"
                since = time.perf_counter()
                seconds, response = timed_get(api, headers)
                row(f"`?bootstrap={draws}`: first request, nothing stored", seconds, str(response.status_code))
                seconds, body = wait_current(api, headers, since=since)
                row(
                    f"`?bootstrap={draws}`: until the worker's report is served "
                    f"(compute {compute_seconds(draws)} s, {body['bootstrap_draws_used']} draws)",
                    seconds,
                    "200",
                )
                for run in (1, 2, 3):
                    seconds, response = timed_get(api, headers)
                    assert response.status_code == 200 and not response.json()["stale"], response.text[:300]
                    row(f"`?bootstrap={draws}`: stored report, run {run}", seconds, "200, stale: false")
            api = f"{url}/api/v1/projects/{project}/agreement/?bootstrap=1000"
            manage(env, "shell", "-c", RATE.replace("__PROJECT__", str(project)))
            since = time.perf_counter()
            seconds, response = timed_get(api, headers)
            stale = response.json()
            row("`?bootstrap=1000` right after a new rating", seconds, f"200, stale: {str(stale['stale']).lower()}")
            seconds, body = wait_current(api, headers, since=since)
            row(f"`?bootstrap=1000`: until the recomputed report is served ({compute_seconds(1000)} s)", seconds, "200")
            for c in body["criteria"]:
                h = c["humans"]
                judge = c["judges"][0] if c["judges"] else {}
                print(
                    f"  {c['key']}: alpha {h['alpha']:.4f} ci {h['ci']} units {h['units']:,}; "
                    f"judge alpha_as_rater {judge.get('alpha_as_rater')} ci {judge.get('alpha_as_rater_ci')}"
                )
    finally:
        if not args.keep:
            _django.database_drop(env["DATABASE_URL"])


if __name__ == "__main__":
    main()
