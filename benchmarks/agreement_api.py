"""Agreement API benchmark: GET /api/v1/projects/{id}/agreement/ on 1,000,000 ratings in PostgreSQL.

333,334 items x 3 human raters (1,000,002 ratings), three criteria (5-point ordinal, binary,
3-way categorical), plus an LLM judge that rated 100,000 of the items. Times the request over
HTTP against gunicorn (one worker), with and without the bootstrap interval.

    .venv/bin/python benchmarks/agreement_api.py [--items 333334]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from gunicorn_server import gunicorn

ROOT = Path(__file__).resolve().parent.parent
DB = "accord_bench_agreement"


SETUP = """
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
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
print(Token.objects.create(user=staff).key, project.pk)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=333_334)
    args = parser.parse_args()
    env = {**os.environ, "DEBUG": "1", "CELERY_BROKER_URL": "memory://", "ACCORD_VAR_DIR": tempfile.mkdtemp()}
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP.replace("__ITEMS__", str(args.items))],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    token, project = out[-2], int(out[-1])
    print(f"loaded {args.items * 3:,} human ratings + 100,000 judge ratings in {time.perf_counter() - started:.1f} s")
    with gunicorn(env) as (url, _server):
        headers = {"Authorization": f"Token {token}"}
        print("| request | run 1 | run 2 | run 3 |")
        print("|---|---|---|---|")
        for draws in (0, 200, 1000):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                response = httpx.get(
                    f"{url}/api/v1/projects/{project}/agreement/?bootstrap={draws}", headers=headers, timeout=900
                )
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text[:300]
            body = response.json()
            print(f"| bootstrap={draws} | " + " | ".join(f"{t:.2f} s" for t in times) + " |")
        for c in body["criteria"]:
            h = c["humans"]
            judge = c["judges"][0] if c["judges"] else {}
            print(
                f"  {c['key']}: alpha {h['alpha']:.4f} ci {h['ci']} units {h['units']:,}; "
                f"judge alpha_as_rater {judge.get('alpha_as_rater')}"
            )


if __name__ == "__main__":
    main()
