"""Django for the benchmark scripts, in one place. Every script in benchmarks/ starts with::

    import _django  # before anything of the checkout: testbed, config, annotation, agreement...

A script run as ``python benchmarks/<name>.py`` has only benchmarks/ on ``sys.path``; this module
puts the checkout there and sets ``DJANGO_SETTINGS_MODULE``. ``setup()`` configures Django in the
script's own process; ``database_recreate`` / ``database_drop`` manage the PostgreSQL databases a
benchmark creates and drops for itself (never one it did not name). What runs in child processes
(manage.py, gunicorn, Celery workers, the fake LLM server) is in testbed/, shared with the tests.
"""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The PostgreSQL server the benchmarks create their databases on (as a superuser).
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def setup(env: dict | None = None, *, migrate: bool = False) -> None:
    """Configure Django in this process: ``env`` into ``os.environ`` first (the settings read it at
    import), then ``django.setup()``; with ``migrate``, bring the database up to date."""
    if env:
        os.environ.update(env)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


# The rubric of the judge benchmarks (one call per item scores every criterion it has).
JUDGE_CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "rationale_required": True,
     "scale": {"kind": "ordinal", "min": 1, "max": 5, "labels": {"1": "Useless.", "5": "Perfect."}}},
    {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["polite", "neutral", "rude"]}},
    {"key": "confidence", "title": "Confidence", "scale": {"kind": "interval", "min": 0, "max": 1}},
]  # fmt: skip


def judge_env(var_dir: Path, **settings: str) -> dict:
    """The environment of a judge benchmark, its workers and beat: production settings (DEBUG off, so
    no query log in the database cursor; a throwaway key), var/ of its own, the fake provider's
    loopback host allowed as a judge host (production refuses it otherwise), then ``settings``."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "localhost",
        "ACCORD_JUDGE_HOSTS": "127.0.0.1",
        # The benchmarks' throwaway keys may go to the loopback fake provider only, on any port.
        "ACCORD_JUDGE_KEYS": "BENCH_LLM_KEY=127.0.0.1:*;CHAOS_LLM_KEY=127.0.0.1:*",
        "ACCORD_VAR_DIR": str(var_dir),
        **settings,
    }


def judge_setup(env: dict, *, user: str, rubric: str, criteria: int = len(JUDGE_CRITERIA)):
    """``setup(env, migrate=True)``, then a staff user ``user`` and a rubric ``rubric`` of the first
    ``criteria`` JUDGE_CRITERIA: (the user, the rubric version)."""
    setup(env, migrate=True)
    from django.contrib.auth import get_user_model

    from rubrics.services import rubric_create

    staff = get_user_model().objects.create_user(user, password=f"{user}-password-1", is_staff=True)
    version = rubric_create(
        actor=staff, name=rubric, instructions="Rate the response.", criteria=JUDGE_CRITERIA[:criteria]
    )
    return staff, version


def database_url(name: str) -> str:
    return f"{PG_ADMIN_URL}/{name}"


def _admin(url: str, *statements: str, connect_timeout: float) -> None:
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = sql.Identifier(parsed.path.lstrip("/"))
    with psycopg.connect(
        parsed._replace(path="/postgres").geturl(), autocommit=True, connect_timeout=connect_timeout
    ) as conn:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(name))


def database_recreate(url: str, *, connect_timeout: float = 5) -> str:
    """Drop the PostgreSQL database of ``url`` (closing its connections) and create it empty; ``url``."""
    _admin(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}", connect_timeout=connect_timeout)
    return url


def database_drop(url: str) -> None:
    _admin(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", connect_timeout=5)


def fake_llm_start(latency_ms: float, *, stderr: int | None = None) -> tuple[subprocess.Popen, str]:
    """``python -m testbed.llm_server`` in a session of its own (its CPU apart from the client's):
    (the process, its base URL). ``stderr=subprocess.PIPE`` keeps its ``STOPPED {counts}`` line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.llm_server", "--port", "0", "--latency-ms", str(latency_ms)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True,
    )  # fmt: skip
    line = proc.stdout.readline().split()
    if line[:1] != ["READY"]:
        raise SystemExit(f"fake server did not start: {line}")
    return proc, line[1]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    return next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor()
    )
