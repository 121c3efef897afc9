"""Items browser benchmark: server time per page with 100,000 items, under each filter (PostgreSQL).

Builds its own database (accord_bench_items): one project of 100,000 items (70 % approved, 10 %
needing review, 10 % pending, the rest in progress or rejected), each decided item with three
human ratings and a judge's, stored disagreement scores and a consensus. Some filters are
deliberately sparse, the worst case for a walk in id order: a judge disagrees with the consensus on
2 % of the items, one annotator rated 1 %, one external id matches. Then, in this process through
Django's test client (server time: middleware, view, queries, template; no network; DEBUG off),
a manager opens the items browser with each filter: the first page, then four more by the page's
own "next" cursor.

    .venv/bin/python benchmarks/items_browser.py [--items 100000] [--repeat 5]

Target (issue 17): at most 300 ms of server time per page at 100,000 items with any one filter.
"""

import argparse
import datetime
import os
import re
import secrets
import statistics
import tempfile
import time

import _django  # first: puts the checkout on sys.path

DB = "accord_bench_items"
CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "rationale_required": True,
     "scale": {"kind": "ordinal", "min": 1, "max": 5, "labels": {"1": "Useless.", "5": "Perfect."}}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}, "gate": True},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["polite", "neutral", "rude"]}},
    {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False},
]  # fmt: skip

# i % 10 = 0 needs review, 1 pending, 2 in progress; i % 50 = 3 rejected; the rest approved.
ITEMS_SQL = """
INSERT INTO annotation_item (project_id, external_id, data, metadata, status, approved_by, consensus,
    decision_reason, disagreement, created_at, updated_at, load)
SELECT %(project)s, 'item-' || lpad(i::text, 7, '0'),
    jsonb_build_object('prompt', 'Question ' || i || ': how do I sort a list of tuples by the second field?',
                       'response', repeat('Use sorted(pairs, key=lambda p: p[1]). ', 8)),
    '{}'::jsonb,
    CASE WHEN i %% 10 = 0 THEN 'needs_review' WHEN i %% 10 = 1 THEN 'pending' WHEN i %% 10 = 2 THEN 'in_progress'
         WHEN i %% 50 = 3 THEN 'rejected' ELSE 'approved' END,
    CASE WHEN i %% 10 IN (0, 1, 2) OR i %% 50 = 3 THEN '' ELSE 'consensus' END,
    CASE WHEN i %% 10 IN (1, 2) THEN '{}'::jsonb
         ELSE jsonb_build_object('helpfulness', 4, 'correct', i %% 7 <> 0, 'tone', 'polite') END,
    CASE WHEN i %% 10 = 0 THEN 'no consensus on helpfulness' WHEN i %% 50 = 3 THEN 'spam' ELSE '' END,
    CASE WHEN i %% 10 IN (1, 2) THEN '{}'::jsonb
         ELSE jsonb_build_object('helpfulness', CASE WHEN i %% 10 = 0 THEN 0.8 ELSE 0.1 END,
                                 'correct', 0, 'tone', 0) END,
    now() - (i || ' seconds')::interval, now() - ((i * 7919 %% %(total)s) || ' seconds')::interval,
    CASE WHEN i %% 10 = 1 THEN 0 ELSE 3 END
FROM generate_series(0, %(total)s - 1) AS i
"""

# Raters 1-3 (people) on every started item; rater 4 (a person) on 1 % of them; rater 5 (a
# judge) on every item, disagreeing with the consensus (helpfulness 1, not 4) on i % 50 = 7.
RATINGS_SQL = """
INSERT INTO annotation_rating (item_id, rater_id, rubric_version_id, values, rationales, seconds_spent,
    source, distribution, created_at, updated_at)
SELECT i.id, r.rater, %(version)s,
    jsonb_build_object('helpfulness', CASE WHEN r.n = 5 AND i.n %% 50 = 7 THEN 1 ELSE 4 END,
                       'correct', true, 'tone', 'polite'),
    jsonb_build_object('helpfulness', 'rater ' || r.n || ' on ' || i.external_id), 30,
    CASE WHEN r.n = 5 THEN 'judge' ELSE 'api' END, '{}'::jsonb, now(), now()
FROM (SELECT id, external_id, status, substr(external_id, 6)::int AS n FROM annotation_item
      WHERE project_id = %(project)s) AS i
CROSS JOIN unnest(%(raters)s::bigint[]) WITH ORDINALITY AS r(rater, n)
WHERE r.n = 5 OR (i.status <> 'pending' AND (r.n <= 3 OR i.n %% 100 = 5))
"""


def build(total: int) -> tuple[int, int, dict]:
    """The world; returns (project id, manager id, rater ids by role in the benchmark)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Rater, RaterKind, Role
    from annotation.selectors import rater_for_user
    from annotation.services.projects import membership_set, project_create
    from rubrics.services import rubric_create

    users = get_user_model().objects
    staff = users.create_user("staff", is_staff=True)
    version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
    project = project_create(actor=staff, name="Items bench", rubric=version, annotations_per_item=3)
    manager = users.create_user("manager")
    membership_set(project=project, user=manager, role=Role.MANAGER)
    raters = []
    for n in range(4):
        user = users.create_user(f"rater{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        raters.append(rater_for_user(user=user).pk)
    raters.append(Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1).pk)
    with connection.cursor() as cursor:
        cursor.execute(ITEMS_SQL, {"project": project.pk, "total": total})
        cursor.execute(RATINGS_SQL, {"project": project.pk, "version": version.pk, "raters": raters})
        cursor.execute("VACUUM ANALYZE")
    return project.pk, manager.pk, {"common": raters[0], "rare": raters[3], "judge": raters[4]}


def scenarios(raters: dict) -> list[tuple[str, str]]:
    return [
        ("no filter", ""),
        ("status=needs_review", "status=needs_review"),
        ("status=rejected (2 %)", "status=rejected"),
        ("acceptance bucket=rejected", "bucket=rejected"),
        ("rater disagreement=high (10 %)", "disagreement=high"),
        ("judge disagrees (2 %)", "judge=disagrees"),
        ("rated by an annotator (90 %)", f"rater={raters['common']}"),
        ("rated by an annotator (1 %)", f"rater={raters['rare']}"),
        ("external id contains (1 match)", "q=0099999"),
        ("external id contains (1 %)", "q=99"),
        ("sort=external_id", "sort=external_id"),
        ("sort=-updated_at", "sort=-updated_at"),
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(project_id: int, manager_id: int, query: str, repeat: int, pages: int = 5) -> tuple[list[float], int]:
    """Times (ms) of every page fetched, first pages and cursor pages alike; rows seen on the first."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(pk=manager_id))
    base = f"/projects/{project_id}/items/"
    times, first_rows = [], 0
    for _ in range(repeat):
        url = f"{base}?{query}"
        for n in range(pages):
            started = time.perf_counter()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (response.status_code, response.content[:300])
            html = response.content.decode()
            if n == 0:
                first_rows = html.count('<tr data-item="')
            found = re.search(r'<a href="(\?[^"]+)" rel="next"', html)
            if not found:
                break
            url = base + found.group(1).replace("&amp;", "&")
    return times, first_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the project")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each filter (5 pages each)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = _django.database_recreate(_django.database_url(DB))
    env = {
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "localhost",
        "ACCORD_VAR_DIR": tempfile.mkdtemp(prefix="accord-bench-items-"),
        "LOG_LEVEL": "WARNING",
    }
    results = []
    try:
        _django.setup(env, migrate=True)
        started = time.perf_counter()
        project_id, manager_id, raters = build(args.items)
        print(f"built {args.items:,} items with their ratings in {time.perf_counter() - started:.1f} s")
        run(project_id, manager_id, "", 1, pages=2)  # warm-up: connection, templates, plans
        load_before = os.getloadavg()[0]
        for name, query in scenarios(raters):
            times, rows = run(project_id, manager_id, query, args.repeat)
            results.append((name, times, rows))
        load_after = os.getloadavg()[0]
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _django.database_drop(url)
    print(f"machine: {_django.cpu_model()}, {os.cpu_count()} cores; {datetime.date.today()}")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after: other work on the machine shows")
    print(f"{args.items:,} items; per filter, {args.repeat} runs of up to 5 pages (50 rows a page)")
    print(f"  {'filter':34} {'rows p1':>7} {'pages':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    worst = 0.0
    for name, times, rows in results:
        p95 = percentile(times, 0.95)
        worst = max(worst, p95)
        print(f"  {name:34} {rows:7d} {len(times):6d} {statistics.median(times):7.1f} {p95:7.1f} {max(times):7.1f}")
    verdict = "met" if worst <= 300 else "NOT met"
    print(f"target: ≤ 300 ms per page with any one filter → worst p95 {worst:.1f} ms: {verdict}")


if __name__ == "__main__":
    main()
