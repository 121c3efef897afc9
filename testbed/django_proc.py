"""Accord in child processes, for tests and benchmarks that need it outside pytest's own process
(gunicorn, ``manage.py import_items``, a database pytest does not manage): the environment, a
``manage.py`` command, and a staff user with a token and a project to post to.

Nothing here imports Django, so the benchmarks can set the environment first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from testbed import REPO


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


def manage(env: dict, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``python manage.py *args`` in the checkout with ``env``; its output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=check, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def manage_shell(env: dict, code: str) -> list[str]:
    """Run ``code`` in ``manage.py shell``; the words it printed."""
    return manage(env, "shell", "-c", code).stdout.split()


def manage_migrate(env: dict) -> None:
    """``manage.py migrate`` on the database of ``env`` (its errors on this process's stderr)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)


def project_setup(env: dict, *, migrate: bool = True, name: str | None = None) -> tuple[str, int]:
    """Create a staff user with a token, a one-criterion rubric and a project, all called ``name``
    (default ``chaos-<random>``), migrating first: (token, project id)."""
    if migrate:
        manage_migrate(env)
    name = name or f"chaos-{uuid.uuid4().hex[:8]}"
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from accounts.services import api_token_create\n"
        "from annotation.services.projects import project_create\n"
        "from rubrics.services import rubric_create\n"
        f"user = get_user_model().objects.create_user('{name}', password='{name}-password-1', is_staff=True)\n"
        "criteria = [{'key': 'ok', 'title': 'OK', 'scale': {'kind': 'binary'}}]\n"
        f"version = rubric_create(actor=user, name='{name}', criteria=criteria)\n"
        f"project = project_create(actor=user, name='{name}', rubric=version)\n"
        "print(api_token_create(user=user)[1], project.pk)\n"
    )
    token, project_id = manage_shell(env, code)[-2:]
    return token, int(project_id)
