"""Real Celery worker processes beside a test or a benchmark: start one (``worker_start``), SIGKILL it
with its pool (``worker_kill``), or keep a fleet of them to kill at random (``WorkerFleet``, the
chaos runs). ``database_url`` hands a worker the database this process uses (pytest-django's test
database), so both see the same rows.

Nothing here imports Django at module level, so the benchmarks can set the environment first.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

from testbed import REPO


def database_url() -> str:
    """This process's default database as a DATABASE_URL (PostgreSQL), for worker processes to share."""
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_start(
    env: dict,
    log: Path,
    *,
    name: str | None = None,
    concurrency: int = 2,
    module: str | None = None,
    pool: str | None = None,
    queue: str | None = None,
    loglevel: str = "INFO",
    heartbeat: bool = True,
) -> subprocess.Popen:
    """``celery -A config worker -c concurrency`` with ``env``, its output appended to ``log``; the node
    is ``name`` (default ``test-<random>``). ``module``: a launcher to run instead of ``celery``.
    ``pool`` (``-P``, e.g. "solo"), ``queue`` (``-Q``: only that queue), ``loglevel``, and
    ``heartbeat`` False for ``--without-heartbeat``."""
    arguments = [
        "worker", "-c", str(concurrency), f"--loglevel={loglevel}", "--without-gossip", "--without-mingle",
        "-n", f"{name or f'test-{uuid.uuid4().hex[:8]}'}@%h",
    ]  # fmt: skip
    arguments += ["-P", pool] if pool else []
    arguments += ["-Q", queue] if queue else []
    arguments += [] if heartbeat else ["--without-heartbeat"]
    if module:
        command = [sys.executable, "-m", module, *arguments]
    else:
        command = [str(Path(sys.executable).parent / "celery"), "-A", "config", *arguments]
    with log.open("a") as out:
        # Its own session, so worker_kill reaches the pool children and nothing else.
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def worker_kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool children, as a crash or the OOM killer would."""
    if worker.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                out.extend(int(c) for c in (task / "children").read_text().split())
    return out


class WorkerFleet:
    """``size`` Celery workers (``-c concurrency`` pool processes each), each in its own session
    so that killing one reaches its pool children and nothing else, and each logging to its own
    file in ``logs``. A worker that exits is started again (``respawn``), as a service manager
    would. ``module``: a launcher to run instead of the ``celery`` command."""

    def __init__(self, env: dict, logs: Path, *, size: int = 2, concurrency: int = 2, module: str | None = None):
        self.env, self.logs, self.size, self.concurrency, self.module = env, logs, size, concurrency, module
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.child_kills = 0
        self.worker_kills = 0
        self.respawns = 0

    def _spawn(self) -> tuple[subprocess.Popen, Path]:
        log = self.logs / f"chaos-{uuid.uuid4().hex[:8]}.log"
        return worker_start(self.env, log, name=log.stem, concurrency=self.concurrency, module=self.module), log

    def start(self) -> WorkerFleet:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers = [self._spawn() for _ in range(self.size)]
        return self

    @staticmethod
    def _ready(log: Path) -> bool:
        return log.exists() and " ready." in log.read_text()

    def ready_count(self) -> int:
        return sum(1 for proc, log in self.workers if proc.poll() is None and self._ready(log))

    def text(self) -> str:
        """Every worker log so far, oldest worker first."""
        return "".join(log.read_text() for log in sorted(self.logs.glob("*.log"), key=lambda p: p.stat().st_mtime))

    def respawn(self) -> None:
        for index, (proc, _log) in enumerate(self.workers):
            if proc.poll() is not None:
                self.workers[index] = self._spawn()
                self.respawns += 1

    def kill_child(self, rng: random.Random) -> bool:
        """SIGKILL one pool process of a ready worker: the worker requeues the chunk at once.
        (A pool process killed while its worker is still starting takes the worker down.)"""
        children = [
            c for proc, log in self.workers if proc.poll() is None and self._ready(log) for c in _children(proc.pid)
        ]
        if not children:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(rng.choice(children), signal.SIGKILL)
            self.child_kills += 1
            return True
        return False

    def kill_worker(self, rng: random.Random) -> None:
        """SIGKILL a whole worker (main process and pool): its unacknowledged chunk comes back after
        the broker's visibility timeout. A fresh worker takes its place."""
        index = rng.randrange(len(self.workers))
        worker_kill(self.workers[index][0])
        self.worker_kills += 1
        self.workers[index] = self._spawn()

    def stop(self) -> None:
        for proc, _log in self.workers:
            worker_kill(proc)

    def __enter__(self) -> WorkerFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
