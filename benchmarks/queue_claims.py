"""Benchmark: the overlap queue under 32 concurrent annotators on 100,000 items (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench DEBUG=1 .venv/bin/python benchmarks/queue_claims.py

The database named in DATABASE_URL is dropped and recreated on every run, so its name must
contain "bench" (this never touches the ``accord`` database). Annotators are separate processes
(on a 2-core machine 32 threads would mostly measure Python's GIL, not the queue), each with its
own connection, calling the services the API calls: ``assignment_claim_next`` then
``rating_submit`` (one in twenty skips instead). Three phases by default: one annotator alone
(the cost of a claim without contention); 32 annotators who never pause (the queue at
saturation: on 2 cores this measures CPU queueing more than the queue); 32 annotators who spend
5 s on average per item (still several times faster than people who read and rate).
``--phases`` changes them.

Reports next-item claim latency (p50, p99, max), submissions per second, and over-assignments
counted from the database afterwards (items whose human ratings plus live leases exceed the
overlap; must be 0), plus items whose denormalised ``load`` differs from the exact count.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
from urllib.parse import urlparse

import _django  # first: puts the checkout on sys.path

ITEMS = 100_000
ANNOTATORS = 32
OVERLAP = 3
CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False},
]


def database_recreate() -> str:
    """Drop and create the benchmark database named in DATABASE_URL; refuse anything else."""
    url = os.environ.get("DATABASE_URL", "")
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if parsed.scheme not in {"postgres", "postgresql"} or "bench" not in name:
        sys.exit(f"DATABASE_URL must name a PostgreSQL database whose name contains 'bench'; got {url!r}.")
    _django.database_recreate(url)
    return name


def fixture_build(*, seed: int) -> tuple[int, list[int]]:
    """100,000 items; 30% already carry one or two historical ratings, so the walk has depth."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotation.models import Item, Rating, RatingSource, Role
    from annotation.selectors import rater_for_user
    from annotation.services.item_loads import item_load_recount
    from annotation.services.items import items_import
    from annotation.services.projects import membership_set, project_create
    from rubrics.services import rubric_create

    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    staff = users.create_user(username="staff", is_staff=True)
    version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
    project = project_create(actor=staff, name="Queue bench", rubric=version, annotations_per_item=OVERLAP)
    items_import(
        project=project,
        rows=(
            {"external_id": f"item-{n:06d}", "data": {"prompt": f"p{n}", "response": "r" * 200}} for n in range(ITEMS)
        ),
    )
    old_raters = []
    for n in range(2):
        user = users.create_user(username=f"historian{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        old_raters.append(rater_for_user(user=user))
    rng = random.Random(seed)
    ids = list(Item.objects.filter(project=project).values_list("id", flat=True))
    old = []
    for item_id in rng.sample(ids, k=ITEMS * 3 // 10):
        for rater in old_raters[: rng.choice([1, 2])]:
            old.append(
                Rating(
                    item_id=item_id,
                    rater=rater,
                    rubric_version=version,
                    values={"helpfulness": 3, "correct": True},
                    source=RatingSource.IMPORT,
                )
            )
    Rating.objects.bulk_create(old, batch_size=5_000)
    item_load_recount(project=project)
    annotators = []
    for n in range(ANNOTATORS):
        user = users.create_user(username=f"annotator{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        annotators.append(user.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return project.pk, annotators


def annotate(project_id: int, user_id: int, seconds: float, think_ms: float, start_at: float, out) -> None:
    # Forked after django.setup() and after the parent closed its connections: this process
    # opens its own connection on first use.
    from django.contrib.auth import get_user_model
    from django.db import connections

    from annotation.models import Project
    from annotation.selectors import rater_for_user
    from annotation.services.queue import assignment_claim_next, assignment_skip
    from annotation.services.ratings import rating_submit

    project = Project.objects.select_related("rubric_version").get(pk=project_id)
    user = get_user_model().objects.get(pk=user_id)
    rater = rater_for_user(user=user)
    rng = random.Random(user_id)
    claims: list[float] = []
    submits: list[float] = []
    skips = empty = 0
    time.sleep(max(0.0, start_at - time.time()))
    stop = time.monotonic() + seconds
    if think_ms:
        time.sleep(rng.uniform(0, think_ms) / 1000)  # people do not all start on the same millisecond
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        lease = assignment_claim_next(project=project, user=user)
        claims.append((time.perf_counter() - t0) * 1000)
        if lease is None:
            empty += 1
            break
        if think_ms:
            time.sleep(rng.expovariate(1 / think_ms) / 1000)
        if rng.random() < 0.05:
            assignment_skip(project=project, user=user, item=lease.item, reason="bench")
            skips += 1
            continue
        t0 = time.perf_counter()
        rating_submit(
            item=lease.item,
            rater=rater,
            values={"helpfulness": rng.randint(1, 5), "correct": rng.random() < 0.5},
            seconds_spent=1.0,
        )
        submits.append((time.perf_counter() - t0) * 1000)
    connections.close_all()
    out.put({"claims": claims, "submits": submits, "skips": skips, "empty": empty})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def phase_run(*, project_id: int, annotators: list[int], seconds: float, think_ms: float) -> dict:
    from django.db import connections

    connections.close_all()  # the children open their own
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 3  # every child forked and connected before the clock starts
    procs = [
        ctx.Process(target=annotate, args=(project_id, uid, seconds, think_ms, start_at, out)) for uid in annotators
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    claims = [ms for r in results for ms in r["claims"]]
    submits = [ms for r in results for ms in r["submits"]]
    print(f"\n{len(annotators)} annotator processes for {seconds:.0f}s, mean think time {think_ms:.0f} ms per item")
    print(f"  load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"  claims: {len(claims):,}  p50 {percentile(claims, 50):.1f} ms  p99 {percentile(claims, 99):.1f} ms  "
        f"max {max(claims):.1f} ms"
    )
    print(
        f"  submissions: {len(submits):,} = {len(submits) / seconds:.0f}/s  "
        f"(submit p50 {percentile(submits, 50):.1f} ms, p99 {percentile(submits, 99):.1f} ms); "
        f"skips {sum(r['skips'] for r in results):,}"
    )
    return {"claims": claims, "submits": submits}


def invariants_check(*, project_id: int) -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH counts AS (
                SELECT i.id, i.load,
                  (SELECT count(*) FROM annotation_rating r JOIN annotation_rater ra ON ra.id = r.rater_id
                   WHERE r.item_id = i.id AND ra.kind = 'human'
                     AND r.rubric_version_id = p.rubric_version_id) AS ratings,
                  (SELECT count(*) FROM annotation_assignment a WHERE a.item_id = i.id) AS leases,
                  (SELECT count(*) FROM annotation_assignment a WHERE a.item_id = i.id AND a.expires_at > now()) AS live
                FROM annotation_item i JOIN annotation_project p ON p.id = i.project_id WHERE p.id = %s
            )
            SELECT count(*) FILTER (WHERE ratings + live > %s), count(*) FILTER (WHERE load <> ratings + leases),
                   count(*) FILTER (WHERE ratings >= %s)
            FROM counts
            """,
            [project_id, OVERLAP, OVERLAP],
        )
        return cursor.fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--phases",
        nargs="+",
        default=["0:15:1", "0:30", "5000:60"],
        metavar="THINK_MS:SECONDS[:ANNOTATORS]",
        help="one run per phase: mean pause per item in ms (exponential; 0 is saturation), its length, "
        f"and how many of the {ANNOTATORS} annotators work in it (all by default)",
    )
    args = parser.parse_args()

    name = database_recreate()
    _django.setup()
    from django.conf import settings

    # DEBUG=1 only supplies a development SECRET_KEY; measure without DEBUG's per-query logging,
    # as production runs.
    settings.DEBUG = False

    t0 = time.monotonic()
    project_id, annotators = fixture_build(seed=1)
    print(f"database {name}: {ITEMS:,} items, {ANNOTATORS} annotators, built in {time.monotonic() - t0:.0f}s")
    print(f"load average before the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for phase in args.phases:
        think_ms, seconds, *count = (float(x) for x in phase.split(":"))
        working = annotators[: int(count[0])] if count else annotators
        phase_run(project_id=project_id, annotators=working, seconds=seconds, think_ms=think_ms)
    over, drift, full = invariants_check(project_id=project_id)
    print(f"\nitems now full: {full:,}; over-assigned items: {over}; items whose load drifted: {drift}")
    if over or drift:
        sys.exit(1)


if __name__ == "__main__":
    main()
