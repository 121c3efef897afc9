"""Rating import benchmark: existing human labels for N items x 3 raters through ``ratings_import``.

In-process on PostgreSQL (a database of its own, created and dropped), production settings: the
import validates every row, writes the ratings and the live agreement tallies, then decides every
rated item (quality's ``items_decide``). Prints the time of each phase from a cProfile of the run.

    .venv/bin/python benchmarks/import_ratings.py [--items 5000] [--db accord_bench_ratings_import]
"""

import argparse
import cProfile
import os
import pstats
import secrets
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path

CRITERIA = [
    {"key": "quality", "title": "Quality", "scale": {"kind": "ordinal", "min": 1, "max": 5}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["polite", "neutral", "rude"]}},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--db", default="accord_bench_ratings_import")
    args = parser.parse_args()
    url = _django.database_recreate(_django.database_url(args.db))
    env = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "localhost",
           "CELERY_BROKER_URL": "memory://", "DATABASE_URL": url}  # fmt: skip
    try:
        _django.setup({**os.environ, **env}, migrate=True)
        from django.contrib.auth import get_user_model

        from annotation.services.items import items_import
        from annotation.services.projects import project_create
        from annotation.services.rating_imports import ratings_import
        from quality.services import decision_writes
        from rubrics.services import rubric_create

        staff = get_user_model().objects.create_user("bench", is_staff=True)
        version = rubric_create(actor=staff, name="Bench", criteria=CRITERIA)
        tones = ["polite", "neutral", "rude"]
        rows = [
            {"external_id": f"i{n}", "rater": f"rater-{r}",
             "values": {"quality": 1 + (n + r) % 5 if n % 3 else 4, "correct": n % 4 != 0, "tone": tones[n % 3]}}
            for n in range(args.items)
            for r in range(3)
        ]  # fmt: skip
        bulk_write = decision_writes.items_values_update

        def one_by_one(*, items, fields):  # the earlier write: one UPDATE per decided item
            for item in items:
                item.save(update_fields=fields)

        machine = f"{_django.cpu_model()}, {os.cpu_count()} cores"
        print(f"# {len(rows):,} ratings ({args.items:,} items x 3 raters); {machine}")
        # Each way twice, alternating, so that a change of the machine's load falls on both.
        ways = [("one UPDATE per item (old)", one_by_one), ("UPDATE … FROM VALUES per chunk (new)", bulk_write)]
        for round_, (label, write) in enumerate(ways * 2):
            decision_writes.items_values_update = write
            project = project_create(actor=staff, name=f"Bench {round_}", rubric=version, annotations_per_item=3)
            items_import(project=project, rows=[{"external_id": f"i{n}", "data": {"n": n}} for n in range(args.items)])
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            result = ratings_import(project=project, rows=[dict(row) for row in rows])
            profile.disable()
            seconds = time.perf_counter() - start
            stats = pstats.Stats(profile)
            phases = {
                name: next((v[3] for k, v in stats.stats.items() if k[2] == name), 0.0)  # type: ignore[attr-defined]
                for name in ("ratings_write", "tallies_record", "items_decide", "consensus_of")
            }
            load = Path("/proc/loadavg").read_text().split()[0]
            print(
                f"{label}: {seconds:.2f} s ({len(rows) / seconds:,.0f} ratings/s), {result.as_dict()}, load {load}; "
                "under cProfile, cumulative: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()),
                flush=True,
            )
            if os.environ.get("BENCH_PROFILE"):
                stats.sort_stats("tottime").print_stats(12)
        decision_writes.items_values_update = bulk_write
    finally:
        from django.db import connections

        connections.close_all()
        _django.database_drop(url)


if __name__ == "__main__":
    main()
