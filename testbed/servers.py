"""Servers of our own for tests and benchmarks, on free loopback ports: a redis-server and a
PostgreSQL cluster that can be restarted or killed without harming anybody else's (the chaos runs),
and free_port / wait_until for anything else that listens.

Nothing here imports Django, so the benchmarks can set the environment first.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


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
        if not wait_until(self.ping, timeout=10, interval=0.05):
            raise TimeoutError(f"timed out after 10s waiting for redis-server on port {self.port}")
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
