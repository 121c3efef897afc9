"""Serve the app under gunicorn for a benchmark or a chaos test: one sync worker by default, ready when
health answers."""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from testbed import REPO
from testbed.servers import free_port


@contextmanager
def gunicorn(env: dict, *, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield ``(base url, the gunicorn master process)``; stop the server on the way out."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--timeout",
            "900",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/api/v1/health/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, server
    finally:
        server.terminate()
        server.wait()
