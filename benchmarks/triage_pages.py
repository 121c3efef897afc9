"""Benchmark: what the triage parts of the dashboard cost on a large project (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_triage_bench DEBUG=1 \\
        .venv/bin/python benchmarks/triage_pages.py [--items 100000]

The database named in DATABASE_URL is dropped and recreated (its name must contain "bench").
One project of N items, a judge verdict with a distribution and a confidence on every item, an
audit of 1,000 items decided by people, gold on 500 of them, two human ratings on 2,000 items.
Times each selector the dashboard calls (the estimate, calibration, the routing trade-off, the
ratings-per-item summary, the audit's progress), best of three, one audit draw, and the whole
dashboard page as a (non-staff) manager gets it through Django's test client (server time).
"""

import argparse
import os
import random
import sys
import time
from urllib.parse import urlparse

import _django  # first: puts the checkout on sys.path


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).scheme not in {"postgres", "postgresql"} or "bench" not in urlparse(url).path:
        sys.exit("DATABASE_URL must name a PostgreSQL database whose name contains 'bench'.")
    _django.database_recreate(url)
    _django.setup(migrate=True)
    from django.conf import settings
    from django.contrib.auth import get_user_model

    settings.DEBUG = False
    from annotation.models import ApprovedBy, Gold, Item, ItemStatus, Rater, RaterKind, Rating, Role
    from annotation.selectors import rater_for_user
    from annotation.services.items import items_import
    from annotation.services.projects import membership_set, project_create, project_update
    from quality.selectors.audit import audit_progress
    from quality.selectors.calibration import judge_calibration
    from quality.selectors.estimate import project_estimate
    from quality.selectors.overlap import overlap_summary
    from quality.selectors.policy import policy_for
    from quality.selectors.routing import routing_tradeoff
    from quality.selectors.triage_cache import triage_fingerprint
    from quality.services.audit import audit_sample_draw
    from rubrics.services import rubric_create

    rng = random.Random(1)
    staff = get_user_model().objects.create_user("bench-staff", is_staff=True)
    criteria = [
        {"key": "helpfulness", "title": "Helpfulness", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
        {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    ]
    version = rubric_create(actor=staff, name="Bench", criteria=criteria)
    project = project_create(actor=staff, name="Triage bench", rubric=version, annotations_per_item=3)
    t0 = time.monotonic()
    for start in range(0, args.items, 10_000):
        rows = [
            {"external_id": f"t{i}", "data": {"n": i}, "metadata": {"source": f"source-{i % 4}"}}
            for i in range(start, min(start + 10_000, args.items))
        ]
        items_import(project=project, rows=rows)
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="bench judge v1", version=1)

    def verdict(i: int) -> Rating:
        good = rng.random() < 0.7
        p = rng.choice([0.34, 0.67, 1.0])
        return Rating(
            item_id=i,
            rater=judge,
            rubric_version=version,
            values={"helpfulness": 4 if good else 2, "correct": good},
            distribution={"correct": {"true": p if good else 1 - p, "false": 1 - p if good else p}},
            confidence=p,
            source="judge",
        )

    for start in range(0, len(ids), 5_000):
        Rating.objects.bulk_create([verdict(i) for i in ids[start : start + 5_000]])
    people = [rater_for_user(user=get_user_model().objects.create_user(f"bench-{n}")) for n in range(2)]
    Rating.objects.bulk_create(
        Rating(item_id=i, rater=r, rubric_version=version, values={"helpfulness": 4, "correct": rng.random() < 0.8})
        for i in ids[:2_000]
        for r in people
    )
    built = time.monotonic() - t0
    t0 = time.perf_counter()
    audit_sample_draw(project=project, size=1_000, seed=7)
    draw = time.perf_counter() - t0
    audited = list(Item.objects.filter(project=project, audit_rank__isnull=False).values_list("id", flat=True))
    Item.objects.filter(pk__in=audited).update(
        status=ItemStatus.APPROVED, approved_by=ApprovedBy.CONSENSUS, consensus={"helpfulness": 4, "correct": True}
    )
    Gold.objects.bulk_create(
        Gold(item_id=i, rubric_version=version, values={"helpfulness": 4, "correct": True}) for i in audited[:500]
    )
    policy = policy_for(project=project)
    print(f"{args.items:,} items built in {built:.0f}s; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"audit_sample_draw(size=1000): {draw * 1000:.0f} ms")
    for name, fn in (
        ("project_estimate", lambda: project_estimate(project=project)),
        ("judge_calibration", lambda: judge_calibration(project=project)),
        ("routing_tradeoff", lambda: routing_tradeoff(project=project, policy=policy)),
        ("overlap_summary", lambda: overlap_summary(project=project)),
        ("audit_progress", lambda: audit_progress(project=project)),
        ("triage_fingerprint (the cache key)", lambda: triage_fingerprint(project=project, policy=policy)),
    ):
        print(f"{name}: {_best(fn) * 1000:.0f} ms (best of 3)")
    from quality.services.posterior import posterior_model_fit

    # Adaptive overlap 1-3, so the posterior rule decides.
    project = project_update(project=project, overlap_min=1)
    policy.stopping_rule = "posterior"
    policy.save(update_fields=["stopping_rule"])
    t0 = time.perf_counter()
    posterior_model_fit(project=project)  # what the policy page's "Fit now" runs in its request
    print(f"posterior_model_fit (the policy page's Fit now): {(time.perf_counter() - t0) * 1000:.0f} ms")
    # The fit's re-decision went to a worker (too large for a request): decide here, so the rule
    # approves the rated items it settles; the next fit reads them again (agreement.reopen_below).
    from quality.services.approval import posteriors_of_settled, project_decide
    from quality.stopping import settled_items

    limit, settings.INLINE_WORK_LIMIT = settings.INLINE_WORK_LIMIT, 10**12
    project_decide(project=project)
    settings.INLINE_WORK_LIMIT = limit
    settled = settled_items(project_id=project.pk).count()
    policy = policy_for(project=project)
    seconds = _best(lambda: posteriors_of_settled(project=project, policy=policy))
    print(f"posteriors_of_settled ({settled:,} items approved by the rule): {seconds * 1000:.0f} ms (best of 3)")
    policy.slice_by = "source"  # the slice check reads every item's metadata once
    policy.save(update_fields=["slice_by"])
    t0 = time.perf_counter()
    fit = posterior_model_fit(project=project)[0].posterior_model
    checked = sum(bool(c.get("slices")) for c in fit["criteria"].values())
    print(
        f"posterior_model_fit with slice_by (4 slices; checked on {checked} of {len(fit['criteria'])} criteria; "
        f"{settled:,} items approved by the rule): {(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    policy.slice_by = ""
    policy.stopping_rule = "agreement"
    policy.save(update_fields=["stopping_rule", "slice_by"])
    from django.test import Client

    manager = get_user_model().objects.create_user("bench-manager")
    membership_set(project=project, user=manager, role=Role.MANAGER)
    client = Client()
    client.force_login(manager)
    page = f"/projects/{project.pk}/dashboard/"
    assert client.get(page).status_code == 200
    from django.core.cache import cache

    def cold() -> None:
        cache.clear()
        client.get(page)

    print(f"dashboard page (GET, cache emptied first): {_best(cold, 5) * 1000:.0f} ms (best of 5)")
    print(
        f"dashboard page (GET, nothing changed since the last view): {_best(lambda: client.get(page), 5) * 1000:.0f} ms"
    )
    from django.db import connections

    if os.environ.get("TRIAGE_BENCH_PROFILE"):
        import cProfile
        import pstats

        cProfile.runctx("project_estimate(project=project)", globals(), locals(), "/tmp/h19/estimate.prof")
        pstats.Stats("/tmp/h19/estimate.prof").sort_stats("cumulative").print_stats(18)
    connections.close_all()
    _django.database_drop(url)


if __name__ == "__main__":
    main()
