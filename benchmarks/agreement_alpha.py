"""Benchmark: Accord's agreement engine against ``krippendorff.alpha``, side by side.

    .venv/bin/python benchmarks/agreement_alpha.py            # also rewrites docs/benchmarks.md
    .venv/bin/python benchmarks/agreement_alpha.py --no-docs  # print only

(a) 3 coders x 1,000,000 units, 5-point ordinal, 20 % of ratings missing; also the same
    ratings laid out as the reliability query returns them (item and rater primary keys,
    no ORDER BY), for the engine only: krippendorff's matrix is the same.
(b) 3 coders x 1,000,000 units, 0-100 slider at the interval level.
(c) Bootstrap: 1,000 draws on 10,000 units x 3 raters per level, and on the (a) data.

Every measurement runs in its own subprocess, which loads the data, records its peak
resident set (``VmHWM``) as a baseline, runs the method, and reports the peak growth over
that baseline, so each method is charged only for the memory it allocates.  The engine
gets long-format arrays (units, raters, values: the shape rows come out of the database);
``krippendorff`` gets its native raters x units matrix.  ``krippendorff`` runs under
``RLIMIT_AS`` of 8 GiB so that a case it cannot handle fails with ``MemoryError`` instead
of taking the machine down.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path (for ``agreement``)
import numpy as np
from _alpha_report import DOCS, SECTION, docs_write, fmt_mem, fmt_time, section_text

UNITS = 1_000_000
CODERS = 3
MISSING = 0.20
KRIPPENDORFF_ADDRESS_LIMIT = 8 * 2**30


# --------------------------------------------------------------------------- data


def data_write(directory: Path) -> None:
    """Generate both cases once, as .npy files the workers load."""
    rng = np.random.default_rng(20240601)
    units = np.repeat(np.arange(UNITS, dtype=np.int64), CODERS)
    raters = np.tile(np.arange(CODERS, dtype=np.int64), UNITS)

    # (a) 5-point ordinal: a latent score per unit, coders off by at most one point.
    truth = rng.integers(1, 6, UNITS)
    ordinal = np.clip(truth[units] + rng.choice([-1, 0, 0, 0, 1], units.size), 1, 5).astype(np.float64)
    keep = rng.random(units.size) >= MISSING
    np.save(directory / "ordinal_units.npy", units[keep])
    np.save(directory / "ordinal_raters.npy", raters[keep])
    np.save(directory / "ordinal_values.npy", ordinal[keep])
    matrix = np.where(keep, ordinal, np.nan).reshape(UNITS, CODERS).T.copy()
    np.save(directory / "ordinal_matrix.npy", matrix)
    # (a) as the database returns it: item ids of one project deep in the table (with gaps),
    # rater primary keys, rows in storage order rather than sorted by item.
    item_ids = 7_000_000 + np.sort(rng.choice(UNITS + UNITS // 10, UNITS, replace=False))
    rater_pks = np.array([17, 342, 4711])
    order = rng.permutation(int(keep.sum()))
    np.save(directory / "ordinalpk_units.npy", item_ids[units[keep]][order])
    np.save(directory / "ordinalpk_raters.npy", rater_pks[raters[keep]][order])
    np.save(directory / "ordinalpk_values.npy", ordinal[keep][order])

    # (a2) the same design on an 11-point (0-10) scale: krippendorff's cost grows with V^2.
    truth11 = rng.integers(0, 11, UNITS)
    eleven = np.clip(truth11[units] + rng.choice([-1, 0, 0, 0, 1], units.size), 0, 10).astype(np.float64)
    np.save(directory / "ordinal11_units.npy", units[keep])
    np.save(directory / "ordinal11_raters.npy", raters[keep])
    np.save(directory / "ordinal11_values.npy", eleven[keep])
    np.save(directory / "ordinal11_matrix.npy", np.where(keep, eleven, np.nan).reshape(UNITS, CODERS).T.copy())

    # (b) 0-100 slider: latent position plus coder noise, rounded to whole points.
    position = rng.uniform(0, 100, UNITS)
    slider = np.clip(np.round(position[units] + rng.normal(0, 10, units.size)), 0, 100)
    np.save(directory / "interval_units.npy", units)
    np.save(directory / "interval_raters.npy", raters)
    np.save(directory / "interval_values.npy", slider)
    np.save(directory / "interval_matrix.npy", slider.reshape(UNITS, CODERS).T.copy())

    # (c) 10,000 and 100,000 units x 3 raters, 5-point scale, for bootstrap timing.
    for name, size in (("small", 10_000), ("medium", 100_000)):
        latent = rng.integers(1, 6, size)
        unit_ids = np.repeat(np.arange(size, dtype=np.int64), CODERS)
        np.save(directory / f"{name}_units.npy", unit_ids)
        np.save(directory / f"{name}_raters.npy", np.tile(np.arange(CODERS, dtype=np.int64), size))
        noisy = np.clip(latent[unit_ids] + rng.choice([-1, 0, 0, 1], unit_ids.size), 1, 5)
        np.save(directory / f"{name}_values.npy", noisy.astype(np.float64))


# --------------------------------------------------------------------------- worker side


def peak_rss_kib() -> int:
    """High-water mark of this process's resident set, in KiB."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)\s+kB", text).group(1))


def worker(method: str, case: str, directory: Path, repeats: int, draws: int, level: str) -> dict:
    """Run one measurement in this (fresh) process and return its figures."""
    if method == "krippendorff":
        import krippendorff

        resource.setrlimit(resource.RLIMIT_AS, (KRIPPENDORFF_ADDRESS_LIMIT, KRIPPENDORFF_ADDRESS_LIMIT))
        matrix = np.load(directory / f"{case}_matrix.npy")
        krippendorff.alpha(reliability_data=matrix[:, :50], level_of_measurement=level)  # warm-up

        def run() -> float:
            return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))

    else:
        import agreement

        units = np.load(directory / f"{case}_units.npy")
        raters = np.load(directory / f"{case}_raters.npy")
        values = np.load(directory / f"{case}_values.npy")
        agreement.alpha(units[:300], raters[:300], values[:300], level=level, bootstrap_draws=20)  # warm-up

        if method == "profiles":  # finding the unit profiles only, to show where the time goes
            from agreement._profiles import unit_profiles

            def run() -> None:
                unit_profiles(units, raters, values)

        else:

            def run() -> float:
                result = agreement.alpha(units, raters, values, level=level, bootstrap_draws=draws)
                return result.alpha if draws == 0 else (result.alpha, result.ci, result.pairable_units)

    baseline = peak_rss_kib()
    times, cpu_times = [], []
    value = None
    try:
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            value = run()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    except MemoryError as error:
        return {"error": f"MemoryError: {error}", "baseline_kib": baseline}
    return {
        "value": value,
        "times": times,
        "cpu_times": cpu_times,
        "peak_kib": peak_rss_kib() - baseline,
        "baseline_kib": baseline,
    }


# --------------------------------------------------------------------------- parent side


def measure(method: str, case: str, directory: Path, *, level: str, repeats: int, draws: int = 0) -> dict:
    """Run :func:`worker` in a subprocess and parse its JSON line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        method,
        case,
        str(directory),
        str(repeats),
        str(draws),
        level,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-docs", action="store_true", help="print the table without updating docs/benchmarks.md")
    parser.add_argument("--section-to", type=Path, help="write the docs section to this file instead of the docs")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, case, directory, repeats, draws, level = args.worker
        print(json.dumps(worker(method, case, Path(directory), int(repeats), int(draws), level)))
        return

    directory = Path(tempfile.mkdtemp(prefix="accord-agreement-bench-"))
    try:
        print(f"generating data in {directory} ...", file=sys.stderr)
        data_write(directory)
        rows: list[str] = []
        notes: list[str] = []

        print("(a) ordinal, 1M units ...", file=sys.stderr)
        engine_a = measure("engine", "ordinal", directory, level="ordinal", repeats=5)
        ref_a = measure("krippendorff", "ordinal", directory, level="ordinal", repeats=3)
        if "error" in engine_a or "error" in ref_a:
            raise SystemExit(f"case (a) failed: engine {engine_a.get('error')}, krippendorff {ref_a.get('error')}")
        gap = abs(engine_a["value"] - ref_a["value"])
        speedup = min(ref_a["times"]) / min(engine_a["times"])
        cpu_speedup = min(ref_a["cpu_times"]) / min(engine_a["cpu_times"])
        memory_ratio = engine_a["peak_kib"] / ref_a["peak_kib"]
        rows.append(
            f"| (a) ordinal 5-point, 3 coders x 1,000,000 units, 20 % missing | {fmt_time(engine_a)} "
            f"| {fmt_mem(engine_a)} | {fmt_time(ref_a)} | {fmt_mem(ref_a)} "
            f"| {engine_a['value']:.6f} vs {ref_a['value']:.6f} (Δ {gap:.1e}) |"
        )
        notes.append(
            f"(a): engine {speedup:.1f}x faster by wall time ({cpu_speedup:.1f}x by CPU time) at "
            f"{memory_ratio:.2f}x the peak memory of krippendorff (targets ≥ 10x and ≤ 0.25x)."
        )
        profiles = measure("profiles", "ordinal", directory, level="ordinal", repeats=5)
        profiles_ms, engine_ms = min(profiles["cpu_times"]) * 1000, min(engine_a["cpu_times"]) * 1000
        notes.append(
            "(a) takes the engine's profile path (few raters on a short integer scale, no bootstrap): one "
            "`np.bincount` over the 2.4 million ratings gives every unit's value counts and rater set "
            "packed in one exact float, which also proves there is no duplicate (unit, rater); a second "
            "bincount over the units groups them into a few dozen distinct profiles, and alpha comes from "
            "V x V arithmetic on those. Finding the profiles (range checks, integer check, packing, the two "
            f"bincounts) is practically the whole call: {profiles_ms:.0f} ms CPU measured on its own in another "
            f"process, against {engine_ms:.0f} ms for `agreement.alpha`."
        )
        if cpu_speedup < 10:
            notes.append(
                "(a) misses the 10x target by CPU time: both sides are memory-bound at V = 5, where "
                "krippendorff's per-unit tensor has only 25 cells; the gap grows with V^2, as (a2) shows."
            )

        engine_pk = measure("engine", "ordinalpk", directory, level="ordinal", repeats=5)
        rows.append(
            f"| (a) same ratings as the query returns them: item and rater primary keys, unordered rows "
            f"| {fmt_time(engine_pk)} | {fmt_mem(engine_pk)} | (as (a)) | (as (a)) "
            f"| {engine_pk['value']:.6f} vs {ref_a['value']:.6f} (Δ {abs(engine_pk['value'] - ref_a['value']):.1e}) |"
        )
        notes.append(
            f"(a) as the query returns it: engine {min(ref_a['cpu_times']) / min(engine_pk['cpu_times']):.1f}x "
            "faster than krippendorff by CPU time. Offset item ids cost one subtraction pass and sparse rater "
            "keys one small bincount; unordered rows make the per-unit bincount scatter at random over "
            "8 MB of unit sums instead of streaming through them, which is most of the difference."
        )

        print("(a2) ordinal 0-10, 1M units ...", file=sys.stderr)
        engine_a2 = measure("engine", "ordinal11", directory, level="ordinal", repeats=5)
        ref_a2 = measure("krippendorff", "ordinal11", directory, level="ordinal", repeats=3)
        if "error" in ref_a2:
            rows.append(
                f"| (a2) ordinal 11-point (0-10), otherwise as (a) | {fmt_time(engine_a2)} | {fmt_mem(engine_a2)} "
                f"| cannot run | - | {engine_a2['value']:.6f} vs MemoryError |"
            )
        else:
            gap2 = abs(engine_a2["value"] - ref_a2["value"])
            rows.append(
                f"| (a2) ordinal 11-point (0-10), otherwise as (a) | {fmt_time(engine_a2)} | {fmt_mem(engine_a2)} "
                f"| {fmt_time(ref_a2)} | {fmt_mem(ref_a2)} "
                f"| {engine_a2['value']:.6f} vs {ref_a2['value']:.6f} (Δ {gap2:.1e}) |"
            )
            notes.append(
                f"(a2): engine {min(ref_a2['times']) / min(engine_a2['times']):.1f}x faster at "
                f"{engine_a2['peak_kib'] / ref_a2['peak_kib']:.2f}x the peak memory: the reference's cost grows "
                f"with the square of the number of scale points, the engine's does not."
            )

        print("(b) interval slider, 1M units ...", file=sys.stderr)
        engine_b = measure("engine", "interval", directory, level="interval", repeats=5)
        ref_b = measure("krippendorff", "interval", directory, level="interval", repeats=1)
        ref_note = "MemoryError / cannot run" if "error" in ref_b else f"{ref_b['value']:.6f}"
        rows.append(
            f"| (b) interval 0-100 slider, 3 coders x 1,000,000 units | {fmt_time(engine_b)} "
            f"| {fmt_mem(engine_b)} | {'cannot run' if 'error' in ref_b else fmt_time(ref_b)} "
            f"| {fmt_mem(ref_b)} | {engine_b['value']:.6f} vs {ref_note} |"
        )
        if "error" in ref_b:
            notes.append(f"(b): krippendorff under an 8 GiB address-space limit: `{ref_b['error'][:160]}`.")
        notes.append(f"(b): engine {min(engine_b['times']) * 1000:.0f} ms (target ≤ 300 ms).")

        print("(c) bootstrap ...", file=sys.stderr)
        boot_rows = []
        for level in ("nominal", "ordinal", "interval", "ratio"):
            result = measure("engine", "small", directory, level=level, repeats=3, draws=1000)
            alpha_value, ci, _ = result["value"]
            boot_rows.append(
                f"| 1,000 draws, 10,000 units x 3 raters, 5-point, {level} | {fmt_time(result)} "
                f"| {fmt_mem(result)} | {alpha_value:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] |"
            )
        big = measure("engine", "medium", directory, level="ordinal", repeats=1, draws=1000)
        alpha_value, ci, _ = big["value"]
        boot_rows.append(
            f"| 1,000 draws, 100,000 units x 3 raters, 5-point, ordinal | {fmt_time(big)} "
            f"| {fmt_mem(big)} | {alpha_value:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] |"
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    table = "\n".join(
        [
            "| case | engine time | engine peak memory | krippendorff time | krippendorff peak memory | alpha |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
            *rows,
        ]
    )
    boot_table = "\n".join(
        [
            "| bootstrap (engine, including the point estimate) | time | peak memory | alpha [95 % CI] |",
            "| --- | ---: | ---: | --- |",
            *boot_rows,
        ]
    )
    print(table)
    print()
    print(boot_table)
    print()
    for note in notes:
        print(note)
    if args.section_to:
        args.section_to.write_text(section_text(table, boot_table, notes))
        print(f"\nwrote the '{SECTION}' section to {args.section_to}", file=sys.stderr)
    elif not args.no_docs:
        docs_write(section_text(table, boot_table, notes))
        print(f"\nwrote the '{SECTION}' section of {DOCS.relative_to(_django.ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
