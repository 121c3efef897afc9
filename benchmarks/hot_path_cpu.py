"""Benchmark: the Python CPU one annotator's round (next → submit) costs the web process.

    .venv/bin/python benchmarks/hot_path_cpu.py                # 600 rounds, DEBUG on as in make run
    .venv/bin/python benchmarks/hot_path_cpu.py --profile 40   # and the 40 costliest functions

The same project as `make bench-make-run` (10,000 items, three annotators, overlap 3) in its own
PostgreSQL database (accord_bench_cpu, dropped afterwards); the rounds go through Django's whole
request handling in this process (middleware, DRF, services, psycopg), without HTTP or a second
client, so the figure is the server's own CPU per round, steady from run to run where the
latencies of `make bench-make-run` move with whatever else the two cores are doing. Wall time
per round adds the database's time (one request at a time, nothing waits for a lock).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import _django  # first: puts the checkout on sys.path

DB_NAME = "accord_bench_cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profile", type=int, default=0, help="print this many functions by CPU time")
    args = parser.parse_args()
    os.environ.setdefault("DEBUG", "1")
    url = _django.database_url(DB_NAME)
    os.environ["DATABASE_URL"] = url
    _django.database_recreate(url)
    try:
        _django.setup(migrate=True)
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        _django.database_drop(url)


def run(args) -> None:
    from django.test import Client
    from make_run_server import fixture_build

    project_id, keys = fixture_build(items=args.items)
    clients = [Client(HTTP_AUTHORIZATION=f"Token {key}") for key in keys[:3]]

    def round_(client: Client) -> None:
        lease = client.post(f"/api/v1/projects/{project_id}/queue/next/")
        assert lease.status_code == 200, lease.content
        item = lease.json()["item"]["id"]
        values = {"helpfulness": 1 + item % 5, "correct": item % 3 == 0}
        rated = client.post(f"/api/v1/items/{item}/ratings/", {"values": values}, content_type="application/json")
        assert rated.status_code == 201, rated.content

    for n in range(60):  # warm-up: every annotator's rater exists, caches are filled
        round_(clients[n % 3])
    profile = cProfile.Profile(time.process_time) if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    for n in range(args.rounds):
        round_(clients[n % 3])
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# hot path CPU: {_django.cpu_model()}, load {os.getloadavg()[0]:.1f}, {when}, DEBUG={os.environ['DEBUG']}")
    print(
        f"{args.rounds} rounds (next + submit): Python CPU {cpu / args.rounds * 1000:.2f} ms per round, "
        f"wall {wall / args.rounds * 1000:.2f} ms per round" + (" (profiled: slower)" if profile else "")
    )
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
