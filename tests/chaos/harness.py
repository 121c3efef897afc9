"""Chaos harness shared by tests/chaos and benchmarks/chaos_*.py: throwaway redis-server and
PostgreSQL instances of our own (so restarting them harms nobody), a fleet of Celery workers
to SIGKILL, and the per-item counts that say whether a judge run lost or duplicated anything.

Nothing here imports Django at module level, so the benchmarks can set the environment first.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- Redis ----------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own on a free port, in ``folder``.

    ``appendonly=True`` is the broker setting production needs: a restart (or a crash, minus the
    last second with ``appendfsync everysec``) keeps the queued and unacknowledged messages.
    Without it a restart loses every chunk still queued, and its run never ends.
    """

    def __init__(self, folder: Path, *, port: int | None = None, appendonly: bool = True):
        self.binary = shutil.which("redis-server")
        self.folder, self.port, self.appendonly = folder, port or free_port(), appendonly
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.downtime = 0.0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
            "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
        _wait(self.ping, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown (what a service manager's restart does); SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def restart(self, sig: int = signal.SIGTERM) -> float:
        t0 = time.monotonic()
        self.stop(sig)
        self.start()
        self.restarts += 1
        took = time.monotonic() - t0
        self.downtime += took
        return took

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGKILL)


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None when they are not installed."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


class PostgresServer:
    """A PostgreSQL cluster of our own: initdb into ``folder``, trust auth, TCP on 127.0.0.1.

    PostgreSQL refuses to run as root; as root the cluster runs as the ``postgres`` account
    (``runuser``), which then owns ``folder``. Without ``folder``: a new one under /tmp, which
    that account can reach (pytest's tmp_path is private to root), removed on exit.
    """

    def __init__(self, folder: Path | None = None, *, port: int | None = None):
        self.bin = postgres_binaries()
        self.owned = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="accord-chaos-pg-"))
        self.port = port or free_port()
        self.data = self.folder / "data"
        self.restarts = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output to a file, not a pipe: the postmaster pg_ctl starts would hold a pipe open.
        with (self.folder / "pg_ctl.out").open("a") as out:
            subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "pg.log"),
                  "-w", *args)  # fmt: skip

    def start(self) -> PostgresServer:
        if self.bin is None:
            raise RuntimeError("initdb / pg_ctl / postgres are not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._pg_ctl("start")
        return self

    def restart(self, mode: str = "immediate") -> float:
        """``immediate``: every backend is killed and the cluster recovers from its WAL, like a crash."""
        t0 = time.monotonic()
        self._pg_ctl("-m", mode, "restart")
        self.restarts += 1
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._pg_ctl("-m", "immediate", "stop")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


# --- Celery workers -------------------------------------------------------------------------


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
        name = f"chaos-{uuid.uuid4().hex[:8]}"
        arguments = ["worker", "-c", str(self.concurrency), "--loglevel=INFO", "--without-gossip",
                     "--without-mingle", "-n", f"{name}@%h"]  # fmt: skip
        if self.module:
            command = [sys.executable, "-m", self.module, *arguments]
        else:
            command = [str(Path(sys.executable).parent / "celery"), "-A", "config", *arguments]
        log = self.logs / f"{name}.log"
        with log.open("a") as out:
            proc = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return proc, log

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
        self._kill(self.workers[index][0])
        self.worker_kills += 1
        self.workers[index] = self._spawn()

    @staticmethod
    def _kill(worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    def stop(self) -> None:
        for proc, _log in self.workers:
            self._kill(proc)

    def __enter__(self) -> WorkerFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Chaos:
    """Kills in a background thread: every ``every`` seconds (± a third), alternately a pool process
    and a whole worker, and one Redis restart once ``redis_after`` kills have been made."""

    fleet: WorkerFleet
    redis: RedisServer | None
    every: float = 3.0
    max_kills: int | None = None
    redis_after: int = 2
    redis_signal: int = signal.SIGTERM  # SIGKILL: a crash rather than a restart
    seed: int = 8
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._rng = random.Random(self.seed)
        self.redis_downtime = 0.0

    def _loop(self) -> None:
        t0 = time.monotonic()
        kills = 0
        while not self._stop.wait(self.every * self._rng.uniform(0.67, 1.33)):
            self.fleet.respawn()
            if self.max_kills is not None and kills >= self.max_kills:
                if self.redis is None or self.redis.restarts:
                    return
            elif kills % 2 == 0:
                if self.fleet.kill_child(self._rng):
                    kills += 1
                    self.events.append(f"{time.monotonic() - t0:6.1f}s SIGKILL pool process")
            else:
                self.fleet.kill_worker(self._rng)
                kills += 1
                self.events.append(f"{time.monotonic() - t0:6.1f}s SIGKILL worker (main + pool)")
            if self.redis is not None and not self.redis.restarts and kills >= self.redis_after:
                self.redis_downtime = self.redis.restart(self.redis_signal)
                self.events.append(f"{time.monotonic() - t0:6.1f}s Redis restarted ({self.redis_downtime:.2f}s down)")

    def start(self) -> Chaos:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


# --- what the database says -----------------------------------------------------------------


def run_counts(*, run_id: int) -> dict:
    """Per item of the run, how many samples, verdicts and ratings its judge version holds:
    lost = items with none, duplicated = items with more than expected (the unique constraints
    should make that impossible; counting is how the chaos run shows it)."""
    from django.db.models import Count

    from annotation.models import Rating
    from judges.models import JudgeRun, JudgeSample, JudgeVerdict, Outcome

    run = JudgeRun.objects.select_related("judge_version").get(pk=run_id)
    version = run.judge_version
    item_ids = [i for chunk in run.chunks.values_list("item_ids", flat=True) for i in chunk]
    scope = {"item_id__in": item_ids, "judge_version": version, "rubric_version_id": run.rubric_version_id}
    verdicts = dict(
        JudgeVerdict.objects.filter(**scope).values("item_id").annotate(n=Count("id")).values_list("item_id", "n")
    )
    per_sample = list(
        JudgeSample.objects.filter(**scope).values("item_id", "sample_index").annotate(n=Count("id")).values_list("n")
    )
    ratings = dict(
        Rating.objects.filter(item_id__in=item_ids, rater_id=version.rater_id, rubric_version_id=run.rubric_version_id)
        .values("item_id")
        .annotate(n=Count("id"))
        .values_list("item_id", "n")
    )
    sample_rows = JudgeSample.objects.filter(**scope).count()
    return {
        "run_status": run.status,
        "run_error": run.error,
        "items": len(item_ids),
        "items_distinct": len(set(item_ids)),
        "verdicts_expected": len(item_ids),
        "verdicts_found": sum(verdicts.values()),
        "verdicts_ok": JudgeVerdict.objects.filter(**scope, outcome=Outcome.OK).count(),
        "verdicts_lost": sum(1 for i in item_ids if i not in verdicts),
        "verdicts_duplicated": sum(n - 1 for n in verdicts.values() if n > 1),
        "samples_expected": len(item_ids) * version.samples,
        "samples_found": sample_rows,
        "samples_duplicated": sum(n[0] - 1 for n in per_sample if n[0] > 1),
        "ratings_found": sum(ratings.values()),
        "ratings_lost": sum(1 for i in item_ids if i not in ratings),
        "ratings_duplicated": sum(n - 1 for n in ratings.values() if n > 1),
        "run_done": run.done,
        "run_failed": run.failed,
        "chunks": run.chunks.count(),
        "chunk_deliveries": sum(run.chunks.values_list("attempts", flat=True)),
    }


# --- imports into a PostgreSQL that restarts ------------------------------------------------


def django_env(*, database_url: str, var_dir: Path, debug: bool = True) -> dict:
    """Environment for manage.py / gunicorn subprocesses on ``database_url``. ``debug=False`` is the
    production setting (the client then sends ``X-Forwarded-Proto: https`` as the TLS proxy would)."""
    env = {
        **os.environ,
        "DEBUG": "1" if debug else "0",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "memory://",
        "ACCORD_VAR_DIR": str(var_dir),
        "DATABASE_CONN_MAX_AGE": "60",
    }
    if not debug:
        env.update(SECRET_KEY="chaos-" + uuid.uuid4().hex * 2, ALLOWED_HOSTS="127.0.0.1")
    return env


def project_setup(env: dict, *, migrate: bool = True) -> tuple[str, int]:
    """Migrate, then create a staff user with a token, a rubric and a project: (token, project id)."""
    if migrate:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    name = f"chaos-{uuid.uuid4().hex[:8]}"
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "from annotation.services.projects import project_create\n"
        "from rubrics.services import rubric_create\n"
        f"user = get_user_model().objects.create_user('{name}', password='chaos-password-1', is_staff=True)\n"
        "criteria = [{'key': 'ok', 'title': 'OK', 'scale': {'kind': 'binary'}}]\n"
        "version = rubric_create(actor=user, name='Chaos', criteria=criteria)\n"
        f"project = project_create(actor=user, name='{name}', rubric=version)\n"
        "print(Token.objects.create(user=user).key, project.pk)\n"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[-2], int(out[-1])


def import_rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"item-{i:07d}",
            "data": {"prompt": f"Question {i}: how do I sort {i % 97} tuples?", "response": "Use sorted(). " * 8},
            "metadata": {"batch": i // 1000},
        }
        for i in range(n)
    ]


def copy_in_progress(database_url: str) -> bool:
    """True from the import's first COPY to its commit (the transaction stays open between its
    10,000-row COPYs: 'idle in transaction')."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=1, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' AND query ILIKE 'COPY %%'"
            ).fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


def items_count(database_url: str, project_id: int) -> int:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM annotation_item WHERE project_id = %s", [project_id]).fetchone()[0]


def wait_until(predicate, *, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
