"""Live agreement at a million ratings: how soon the agreement API shows a new rating's alpha.

333,334 items x 3 human raters (1,000,002 ratings) and three criteria (5-point ordinal, binary,
3-way categorical) are bulk-loaded into a PostgreSQL database of its own (created and dropped
here) with set-based INSERT … SELECT in the server, then counted into the live tallies once
(``tallies_rebuild``, timed). The app is served by gunicorn (one worker, DEBUG off) and, over HTTP:

- 200 times: a fourth annotator POSTs a rating of an item, then GETs
  ``/api/v1/projects/{id}/agreement/`` until it shows that rating (the quality criterion's
  pairable ratings one higher) with ``stale: false``; timed from the POST's answer, and in full;
- in this process: 200 more submissions through ``rating_submit``, with the tally update (the
  ``ratings_written`` receiver) timed on its own: the cost live agreement adds to a submission;
- at the end, live alpha against a full recompute of every criterion;
- the humans' bootstrap interval kept by changes (quality/services/intervals.py, 1,000 draws):
  its first build, then a refresh after 1, 10 and 100 new ratings (``--interval-rounds`` times
  each), its sums against a full build from every rating, and, side by side, the stored
  report's full recompute with its interval (``agreement_for_project``; ``--no-report`` skips it).

    .venv/bin/python benchmarks/agreement_live.py [--items 333334] [--ratings 200] [--keep]
        [--interval-only] [--interval-rounds 10] [--no-report] [--db NAME]
"""

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path
import httpx

from testbed.gunicorn import gunicorn

DB = "accord_bench_agreement_live"

LOAD_ITEMS = (
    "INSERT INTO annotation_item (project_id, external_id, data, metadata, status, approved_by, consensus,"
    " decision_reason, disagreement, load, created_at, updated_at)"
    " SELECT %s, 'i' || g, '{}'::jsonb, '{}'::jsonb, 'annotated', '', '{}'::jsonb, '', '{}'::jsonb, 3,"
    " now(), now() FROM generate_series(1, %s) g"
)
# Each item has a true quality; raters add noise, so alpha is high but not 1.
LOAD_RATINGS = (
    "INSERT INTO annotation_rating (item_id, rater_id, rubric_version_id, values, rationales, source,"
    " created_at, updated_at, distribution)"
    " SELECT i.id, r.rater, %s, jsonb_build_object("
    "   'quality', LEAST(5, GREATEST(1, 1 + (i.id * 7919) %% 5 + (CASE WHEN random() < 0.2 THEN 1 ELSE 0 END)"
    "      - (CASE WHEN random() < 0.2 THEN 1 ELSE 0 END))),"
    "   'correct', (i.id %% 3 <> 0) <> (random() < 0.1),"
    "   'tone', (ARRAY['ok','terse','rude'])"
    "      [1 + CASE WHEN random() < 0.85 THEN (i.id %% 3) ELSE 2 - (i.id %% 3) END]),"
    " '{}'::jsonb, 'import', now(), now(), '{}'::jsonb"
    " FROM annotation_item i CROSS JOIN unnest(%s::bigint[]) AS r(rater) WHERE i.project_id = %s"
)
CRITERIA = [
    {"key": "quality", "title": "Quality", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["ok", "terse", "rude"]}},
]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    p50, p99 = pct(values, 0.5) * 1000, pct(values, 0.99) * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(values) * 1000:.1f} ms"


def load(items: int):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Role
    from annotation.selectors import rater_for_user
    from annotation.services.projects import membership_set, project_create
    from rubrics.services import rubric_create

    user_model = get_user_model()
    staff = user_model.objects.create_user("bench", password="bench-password-1", is_staff=True)
    version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
    # Overlap 5: the fourth and fifth annotators may rate items the first three filled.
    project = project_create(actor=staff, name="Bench", rubric=version, annotations_per_item=5)
    people = []
    for n in range(5):
        user = user_model.objects.create_user(f"r{n}", password="bench-password-1")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    raters = [rater_for_user(user=u).pk for u in people[:3]]
    with connection.cursor() as cursor:
        cursor.execute(LOAD_ITEMS, [project.pk, items])
        cursor.execute(LOAD_RATINGS, [version.pk, raters, project.pk])
        cursor.execute("ANALYZE")
    return project, staff, people


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=333_334)
    parser.add_argument("--ratings", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="leave the database in place afterwards")
    parser.add_argument("--interval-only", action="store_true", help="only the kept interval's figures")
    parser.add_argument("--interval-rounds", type=int, default=10)
    parser.add_argument("--no-report", action="store_true", help="skip the report's full recompute")
    parser.add_argument("--db", default=DB)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ACCORD_VAR_DIR": tempfile.mkdtemp(),
        "CELERY_BROKER_URL": "memory://",  # recomputes of the intervals are queued, never run here
        "LOG_LEVEL": "WARNING",
    }
    env["DATABASE_URL"] = _django.database_recreate(_django.database_url(args.db))
    try:
        _django.setup(env, migrate=True)
        run(args, env)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _django.database_drop(env["DATABASE_URL"])


def run(args, env: dict) -> None:
    import numpy as np

    import agreement
    from accounts.services import api_token_create
    from annotation.models import Item
    from annotation.selectors import rater_for_user
    from annotation.services.ratings import rating_submit
    from annotation.signals import ratings_written
    from quality import receivers
    from quality.selectors.agreement import project_ratings
    from quality.selectors.live import live_agreement
    from quality.services.tallies import tallies_rebuild

    print(f"machine: {_django.cpu_model()}, {os.cpu_count()} CPUs; PostgreSQL; {time.strftime('%Y-%m-%d')}")
    started = time.perf_counter()
    project, staff, people = load(args.items)
    print(f"loaded {args.items:,} items and {args.items * 3:,} ratings in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    cells = tallies_rebuild(project=project)
    print(f"tallies_rebuild: {cells} cells in {time.perf_counter() - started:.1f} s")

    item_ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    if args.interval_only:
        intervals_run(args, project, people, item_ids)
        return
    # Production settings expect TLS ended by a proxy in front: it says so in this header.
    annotator = {"Authorization": f"Token {api_token_create(user=people[3])[1]}", "X-Forwarded-Proto": "https"}
    headers = {"Authorization": f"Token {api_token_create(user=staff)[1]}", "X-Forwarded-Proto": "https"}
    values = {"quality": 3, "correct": True, "tone": "ok"}
    to_show, full_round, posts = [], [], []
    with gunicorn(env) as (url, _server), httpx.Client(headers=headers, timeout=60) as client:
        api = f"{url}/api/v1/projects/{project.pk}/agreement/"

        def quality_ratings() -> tuple[int, dict]:
            answer = client.get(api)
            assert answer.status_code == 200, answer.text[:300]
            body = answer.json()
            return next(c for c in body["criteria"] if c["key"] == "quality")["humans"]["ratings"], body

        seen, body = quality_ratings()
        print(f"first read: stale {body['stale']}, interval lag {body['interval_lag_ratings']}")
        for n in range(args.ratings):
            item_id = item_ids[(n * 1009) % len(item_ids)]
            begin = time.perf_counter()
            response = client.post(f"{url}/api/v1/items/{item_id}/ratings/", json={"values": values}, headers=annotator)
            assert response.status_code == 201, response.text[:300]
            answered = time.perf_counter()
            posts.append(answered - begin)
            while True:  # the item had three ratings: the quality criterion now counts one more
                now_seen, body = quality_ratings()
                if now_seen > seen and body["stale"] is False:
                    break
                if time.perf_counter() - answered > 30:
                    raise SystemExit("the new rating did not show within 30 s")
            done = time.perf_counter()
            seen = now_seen
            to_show.append(done - answered)
            full_round.append(done - begin)
    print(f"| {args.ratings} ratings over HTTP (load average {loadavg()}) | |")
    print("|---|---|")
    print(f"| POST a rating (submission, tally included) | {ms(posts)} |")
    print(f"| from the POST's answer to the API showing it (stale: false) | {ms(to_show)} |")
    print(f"| POST + read showing it | {ms(full_round)} |")

    # The cost the tally adds to a submission: the receiver, timed in this process.
    timings: list[float] = []

    def timed(sender, **kwargs):
        begin = time.perf_counter()
        receivers._ratings_written(sender, **kwargs)
        timings.append(time.perf_counter() - begin)

    ratings_written.disconnect(dispatch_uid="quality.tallies_record")
    ratings_written.connect(timed, dispatch_uid="bench.timed")
    rater = rater_for_user(user=people[4])
    submit = []
    items = Item.objects.select_related("project__rubric_version")
    for n in range(args.ratings):
        item = items.get(pk=item_ids[(n * 2003 + 7) % len(item_ids)])
        begin = time.perf_counter()
        rating_submit(item=item, rater=rater, values=values)
        submit.append(time.perf_counter() - begin)
    print(f"| in process: rating_submit | {ms(submit)} |")
    print(f"| in process: of which the tally update | {ms(timings)} |")

    live = live_agreement(project=project)
    per_criterion, _ = project_ratings(project=project)
    worst = 0.0
    for cr in per_criterion:
        full = agreement.alpha(*cr.arrays(), level=cr.criterion.agreement_level, bootstrap_draws=0).alpha
        got = live.alphas[cr.criterion.key].alpha
        worst = max(worst, abs(got - full))
        print(f"  {cr.criterion.key}: live alpha {got:.12f}, full recompute {full:.12f}")
    total = int(np.sum([cr.units.size for cr in per_criterion]))
    print(f"largest difference live vs full recompute: {worst:.2e} ({total:,} values)")
    assert worst < 1e-9
    print(f"submission-to-read p50 {statistics.median(to_show) * 1000:.1f} ms; load average {loadavg()}")
    intervals_run(args, project, people, item_ids)


def intervals_run(args, project, people, item_ids: list[int]) -> None:
    """The humans' interval kept by changes: first build, refresh after k new ratings, check."""
    import numpy as np

    from agreement.live_bootstrap import draw_sums_build
    from annotation.models import Item, RaterKind, Rating
    from annotation.selectors import rater_for_user
    from annotation.services.ratings import rating_submit
    from quality.models import AgreementInterval
    from quality.selectors.agreement import agreement_for_project, project_ratings
    from quality.selectors.intervals import interval_read, sums_load
    from quality.services.intervals import DRAWS, agreement_interval_refresh

    print(f"| kept interval ({DRAWS} draws, {len(item_ids):,} items) | seconds | load average |")
    print("|---|---|---|")
    begin = time.perf_counter()
    assert agreement_interval_refresh(project_id=project.pk) == "rebuilt"
    print(f"| first build from every rating | {time.perf_counter() - begin:.2f} | {loadavg()} |")
    rater = rater_for_user(user=people[4])
    items = Item.objects.select_related("project__rubric_version")
    values = {"quality": 2, "correct": False, "tone": "rude"}
    # Items this person has not rated yet (the live part above rated some of them as this person).
    rated = set(Rating.objects.filter(rater=rater).values_list("item_id", flat=True))
    fresh = (pk for n in range(len(item_ids)) if (pk := item_ids[(n * 4099 + 11) % len(item_ids)]) not in rated)
    for batch in (1, 10, 100):
        times = []
        for _ in range(args.interval_rounds):
            for _ in range(batch):
                rating_submit(item=items.get(pk=next(fresh)), rater=rater, values=values)
            begin = time.perf_counter()
            assert agreement_interval_refresh(project_id=project.pk) == "refreshed"
            times.append(time.perf_counter() - begin)
        print(f"| refresh after {batch} new rating(s), {args.interval_rounds} times | {ms(times)} | {loadavg()} |")
    kept = sums_load(AgreementInterval.objects.get(project=project).sums)
    per_criterion, raters = project_ratings(project=project)
    humans = [pk for pk, r in raters.items() if r.kind == RaterKind.HUMAN]
    worst = 0.0
    for cr in per_criterion:
        mask = np.isin(cr.raters, humans)
        full = draw_sums_build(cr.units[mask], cr.values[mask], draws=DRAWS, seed=project.pk)
        got = kept[cr.criterion.key]
        at = np.searchsorted(got.values, full.values)
        worst = max(worst, float(np.abs(got.sums[:, at[:, None], at[None, :]] - full.sums).max()))
    print(f"kept sums vs a full build from every rating: largest difference {worst:.2e}")
    read = interval_read(project=project)
    assert read is not None
    for key, figure in read[0].items():
        print(f"  {key}: kept interval {figure['ci']} ({figure['ci_draws']} draws)")
    if not args.no_report:
        begin = time.perf_counter()
        payload, _ = agreement_for_project(project=project, bootstrap_draws=1000)
        seconds = time.perf_counter() - begin
        print(f"| before: the report's full recompute with its interval | {seconds:.2f} | {loadavg()} |")
        for c in payload["criteria"]:
            print(f"  {c['key']}: report interval {c['humans']['ci']}")


if __name__ == "__main__":
    main()
