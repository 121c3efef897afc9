"""Review page benchmark: server time per item with 10,000 items waiting for a reviewer (PostgreSQL).

Builds its own database (accord_bench_review): one project whose 10,000 items wait for review
(three people disagree on each; a judge rated each too) among 20,000 approved ones, every item
with three human ratings. Then a reviewer works through ``--items`` items the way the page's keys
do, in this process through Django's test client (so the figure is server time: middleware,
view, queries, template; no network): GET the page (the next item, "what is left", every rater
side by side) and POST a decision (accept the majority, take a rater's answer, or edited values,
in turn), which stores the gold and redirects to the next item. DEBUG is off, as in production.

    .venv/bin/python benchmarks/review_page.py [--waiting 10000] [--decided 20000] [--items 200]

Target (issue 18): at most 150 ms of server time per item (the GET and the POST together).
"""

import argparse
import datetime
import os
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path

DB = "accord_bench_review"
CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "rationale_required": True,
     "scale": {"kind": "ordinal", "min": 1, "max": 5, "labels": {"1": "Useless.", "5": "Perfect."}}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["polite", "neutral", "rude"]}},
    {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False},
]  # fmt: skip

ITEMS_SQL = """
INSERT INTO annotation_item (project_id, external_id, data, metadata, status, approved_by, consensus,
    decision_reason, disagreement, created_at, updated_at, load)
SELECT %(project)s, 'item-' || lpad(i::text, 7, '0'),
    jsonb_build_object('prompt', 'Question ' || i || ': how do I sort a list of tuples by the second field?',
                       'response', repeat('Use sorted(pairs, key=lambda p: p[1]). ', 8)),
    '{}'::jsonb,
    CASE WHEN i %% 3 = 0 AND i / 3 < %(waiting)s THEN 'needs_review' ELSE 'approved' END,
    CASE WHEN i %% 3 = 0 AND i / 3 < %(waiting)s THEN '' ELSE 'consensus' END,
    '{}'::jsonb,
    CASE WHEN i %% 3 = 0 AND i / 3 < %(waiting)s THEN 'no consensus on helpfulness' ELSE '' END,
    '{}'::jsonb, now(), now(), 3
FROM generate_series(0, %(total)s - 1) AS i
"""

# Three people per item: 4, 4, 2 on the items waiting (a majority of 4), 4, 4, 4 elsewhere; a
# judge on the waiting ones.
RATINGS_SQL = """
INSERT INTO annotation_rating (item_id, rater_id, rubric_version_id, values, rationales, seconds_spent,
    source, created_at, updated_at)
SELECT i.id, r.rater, %(version)s,
    jsonb_build_object('helpfulness', CASE WHEN i.status = 'needs_review' AND r.n = 2 THEN 2 ELSE 4 END,
                       'correct', true, 'tone', CASE WHEN r.n = 1 THEN 'neutral' ELSE 'polite' END),
    jsonb_build_object('helpfulness', 'rater ' || r.n || ' on ' || i.external_id), 30, 'api', now(), now()
FROM annotation_item i CROSS JOIN unnest(%(raters)s::bigint[]) WITH ORDINALITY AS r(rater, n)
WHERE i.project_id = %(project)s AND (r.n <= 3 OR i.status = 'needs_review')
"""


def build(waiting: int, decided: int) -> tuple[int, int]:
    """The world; returns (project id, reviewer id)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Rater, RaterKind, Role
    from annotation.selectors import rater_for_user
    from annotation.services.projects import membership_set, project_create
    from rubrics.services import rubric_create

    users = get_user_model().objects
    staff = users.create_user("staff", is_staff=True)
    version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
    project = project_create(actor=staff, name="Review bench", rubric=version, annotations_per_item=3)
    reviewer = users.create_user("reviewer")
    membership_set(project=project, user=reviewer, role=Role.REVIEWER)
    raters = []
    for n in range(3):
        user = users.create_user(f"rater{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        raters.append(rater_for_user(user=user).pk)
    raters.append(Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1).pk)
    total = waiting + decided
    with connection.cursor() as cursor:
        cursor.execute(ITEMS_SQL, {"project": project.pk, "waiting": waiting, "total": max(total, 3 * waiting)})
        cursor.execute(RATINGS_SQL, {"project": project.pk, "version": version.pk, "raters": raters})
        # As autovacuum would have by then: statistics, and a visibility map for index-only scans.
        cursor.execute("VACUUM ANALYZE")
    return project.pk, reviewer.pk


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this host (PostgreSQL's backend), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(project_id: int, reviewer_id: int, items: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from annotation.models import Gold, Project
    from annotation.selectors import review_left

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(pk=reviewer_id))
    base = f"/projects/{project_id}/review/"
    get_ms, post_ms, per_item = [], [], []
    url = base
    golds_before = Gold.objects.filter(item__project_id=project_id).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_web, cpu_db = time.process_time(), backend_cpu_seconds(backend)
    for n in range(items):
        started = time.perf_counter()
        page = client.get(url, secure=True)
        got = time.perf_counter()
        assert page.status_code == 200, page.status_code
        html = page.content.decode()
        item_id = int(re.search(r'review/(\d+)/" class="card rating-form gold-form"', html).group(1))
        if n % 3 == 0:
            body = {"decision": "majority"}
        elif n % 3 == 1:
            body = {"decision": "rater", "rater": re.findall(r'name="rater" value="(\d+)"', html)[2]}
        else:
            body = {"value-helpfulness": "3", "value-correct": "true", "value-tone": "polite", "note": "edited"}
        before_post = time.perf_counter()
        response = client.post(f"{base}{item_id}/", body, secure=True)
        done = time.perf_counter()
        assert response.status_code == 302, (response.status_code, response.content[:300])
        url = response["Location"]
        get_ms.append((got - started) * 1000)
        post_ms.append((done - before_post) * 1000)
        per_item.append(get_ms[-1] + post_ms[-1])
    cpu_web, cpu_db = time.process_time() - cpu_web, backend_cpu_seconds(backend) - cpu_db
    assert Gold.objects.filter(item__project_id=project_id).count() == golds_before + items
    return {
        "items": items,
        "cpu_ms": (cpu_web * 1000 / items, cpu_db * 1000 / items),
        "left_after": review_left(project=Project.objects.get(pk=project_id)),
        "get": get_ms,
        "post": post_ms,
        "item": per_item,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000, help="items waiting for review")
    parser.add_argument("--decided", type=int, default=20_000, help="other (approved) items in the project")
    parser.add_argument("--items", type=int, default=200, help="items to review")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = _django.database_recreate(_django.database_url(DB))
    env = {
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "localhost",
        "ACCORD_VAR_DIR": tempfile.mkdtemp(prefix="accord-bench-review-"),
        "LOG_LEVEL": "WARNING",
    }
    try:
        _django.setup(env, migrate=True)
        started = time.perf_counter()
        project_id, reviewer_id = build(args.waiting, args.decided)
        print(
            f"built {args.waiting:,} waiting + {args.decided:,} decided items in {time.perf_counter() - started:.1f} s"
        )
        # Warm-up: connections, templates, the first plan of each statement.
        run(project_id, reviewer_id, 3)
        load_before = os.getloadavg()[0]
        result = run(project_id, reviewer_id, args.items)
        load_after = os.getloadavg()[0]
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _django.database_drop(url)
    print(f"machine: {_django.cpu_model()}, {os.cpu_count()} cores; {datetime.date.today()}")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after: other work on the machine shows")
    print(f"{result['items']} items reviewed with {args.waiting:,} waiting ({result['left_after']:,} left after)")
    for name in ("get", "post", "item"):
        values = result[name]
        print(
            f"  {name:5} ms: p50 {statistics.median(values):6.1f}  p95 {percentile(values, 0.95):6.1f}  "
            f"max {max(values):6.1f}"
        )
    web, db = result["cpu_ms"]
    print(f"  CPU per item: {web:.1f} ms in this process (web) + {db:.1f} ms in its PostgreSQL backend")
    worst = percentile(result["item"], 0.95)
    print(f"target: ≤ 150 ms per item (GET + POST) → p95 {worst:.1f} ms: {'met' if worst <= 150 else 'NOT met'}")


if __name__ == "__main__":
    main()
