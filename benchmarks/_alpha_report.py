"""The report of benchmarks/agreement_alpha.py: its figures as table cells, the machine and the
time of the run, and the agreement-engine section of docs/benchmarks.md it rewrites.

The 1-minute load average is read when the benchmark starts (this module is imported then) and
again when the section is written.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import _django
import numpy as np

DOCS = _django.ROOT / "docs" / "benchmarks.md"
SECTION = "## Agreement engine"
COMMAND = ".venv/bin/python benchmarks/agreement_alpha.py"


def machine() -> str:
    model = "unknown CPU"
    if shutil.which("lscpu"):
        found = re.search(r"Model name:\s*(.+)", subprocess.run(["lscpu"], capture_output=True, text=True).stdout)
        model = found.group(1).strip() if found else model
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return (
        f"{model}, {os.cpu_count()} cores, {mem_kib / 2**20:.0f} GiB RAM; Python {platform.python_version()}, "
        f"numpy {np.__version__}, krippendorff {version('krippendorff')}"
    )


def version(package: str) -> str:
    from importlib.metadata import version as installed

    return installed(package)


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


LOAD_AT_START = load_average()


def utc_now() -> str:
    if shutil.which("date"):
        return subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    return datetime.datetime.now(datetime.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def fmt_time(result: dict) -> str:
    """Best wall time, with the best CPU time of the process in brackets."""
    if "error" in result:
        return "cannot run"
    return f"{min(result['times']) * 1000:,.0f} ms ({min(result['cpu_times']) * 1000:,.0f} ms CPU)"


def fmt_mem(result: dict) -> str:
    if "error" in result:
        return "-"
    return f"{result['peak_kib'] / 1024:,.0f} MiB"


def section_text(table: str, boot_table: str, notes: list[str]) -> str:
    """The agreement-engine section of docs/benchmarks.md, as markdown."""
    return "\n".join(
        [
            SECTION,
            "",
            f"Command: `{COMMAND}` (also `make bench-agreement`). Machine: {machine()}. Run: {utc_now()}; "
            f"1-minute load average {LOAD_AT_START} at the start and {load_average()} at the end (other work "
            "sharing the 2 cores inflates wall-clock times; CPU times are steadier).",
            "",
            "The engine (`agreement.alpha`) takes long-format arrays as they come out of the database; "
            "`krippendorff.alpha` takes its raters x units matrix. Each figure comes from a fresh "
            "subprocess: time is the best wall-clock time of several runs (5 for the engine, 3 for "
            "krippendorff in (a)), with the best CPU time of the process in brackets (CPU time is the steadier "
            "figure when the machine is shared), "
            "memory is the growth of the peak resident set (`VmHWM`) over the same process right after "
            "loading its input. krippendorff runs under an 8 GiB `RLIMIT_AS`.",
            "",
            table,
            "",
            *[f"- {note}" for note in notes],
            "",
            boot_table,
            "",
            "Why the engine scales: the coincidence matrix is never built per unit. A point estimate on a "
            "short integer scale with few raters (at most 22 bits of value counts and rater set per unit, "
            "e.g. up to 7 raters on 5 points, 3 on 9) only needs the histogram of unit profiles (see "
            "`agreement/_profiles.py`). Otherwise, and for the bootstrap: interval alpha needs "
            "only per-unit sums of squares; ordinal alpha is interval alpha on the value midranks; nominal "
            "alpha needs per-unit sums of squared value counts; ratio alpha uses value pairs within units "
            "and, above 512 distinct values, a Fourier quadrature for the expected disagreement. "
            "The bootstrap turns each block of resamples into one product of a (draws x units) weight "
            "matrix with per-unit statistics.",
            "",
        ]
    )


def docs_write(section: str) -> None:
    """Replace (or append) the agreement-engine section of docs/benchmarks.md, nothing else."""
    lines = (DOCS.read_text() if DOCS.exists() else "# Benchmarks\n").rstrip("\n").split("\n")
    if SECTION in lines:
        begin = lines.index(SECTION)
        end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[begin:end] = section.rstrip("\n").split("\n") + ([""] if end < len(lines) else [])
    else:
        lines += ["", *section.rstrip("\n").split("\n")]
    text = "\n".join(lines)
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n")
