"""Security settings: CSRF on session-authenticated API calls, throttled logins, cookies, headers,
the production deploy check and the Celery wire format. docs/reliability.md lists what each proves."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import api_token_create

PASSWORD = "correct-horse-battery"
# What a deployment behind a TLS-terminating proxy sets (docs/reliability.md, "Production env").
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "q8Vd-3mZ_tR7wLx0Kp2Nf9Hc4Jy6Bs1Ge5Ua8Wi3Ov7Tl0Rz2Qn6Md4Xk9Cj1Ph",
    "ALLOWED_HOSTS": "accord.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://accord.example.org",
    "SECURE_HSTS_PRELOAD": "1",
}


def run_in_production(args: list[str], tmp_path, **extra: str) -> subprocess.CompletedProcess:
    """Run ``args`` with only the production environment (none of this shell's Django variables)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "CELERY_", "JUDGES_", "ACCORD_"))
        and k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "CACHE_URL"}
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # set by the browser tests' conftest; never in production
    }
    env = {**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", "ACCORD_VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, *args],
        env={**env, **PRODUCTION_ENV, **extra},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )


# --- CSRF: a session cookie alone never authorises a write --------------------------------------


@pytest.fixture
def session_client(staff):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


def test_it_refuses_an_api_write_by_session_without_a_csrf_token(session_client):
    response = session_client.post("/api/v1/rubrics/", {}, format="json")
    assert response.status_code == 403
    assert "CSRF" in json.dumps(response.json())


def test_it_refuses_an_api_write_by_session_with_a_wrong_csrf_token(session_client):
    session_client.get("/accounts/login/")  # sets the csrftoken cookie
    assert session_client.cookies.get("csrftoken")
    response = session_client.post("/api/v1/rubrics/", {}, format="json", HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert "CSRF" in json.dumps(response.json())


def test_it_accepts_an_api_write_by_session_with_the_right_csrf_token(session_client):
    session_client.get("/accounts/login/")
    token = session_client.cookies["csrftoken"].value
    response = session_client.post("/api/v1/rubrics/", {}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400  # past CSRF and auth, stopped by validation of the empty body


def test_token_auth_needs_no_csrf_token(staff):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=staff)[1]}")
    response = client.post("/api/v1/rubrics/", {}, format="json")
    assert response.status_code == 400, response.json()


def test_the_login_form_refuses_a_post_without_a_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


# --- Throttling of password guessing ------------------------------------------------------------


def test_the_token_endpoint_answers_429_after_the_auth_rate(staff):
    allowed = int(re.match(r"(\d+)/", settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"]).group(1))
    client = APIClient()
    right = {"username": staff.username, "password": PASSWORD}
    statuses = [client.post("/api/v1/auth/token/", right, format="json").status_code for _ in range(allowed)]
    assert statuses == [200] * allowed  # failures have their own, lower limit (tests/security/test_login_throttle.py)
    blocked = client.post("/api/v1/auth/token/", right, format="json")
    assert blocked.status_code == 429  # even the right password, once the budget is spent
    assert "Retry-After" in blocked.headers


# --- Cookies and headers --------------------------------------------------------------------------


def test_the_session_cookie_is_httponly(staff):
    client = Client()
    response = client.post("/accounts/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"] is True
    assert response.cookies["sessionid"]["samesite"] == "Lax"


def test_every_page_carries_the_security_headers(client):
    response = client.get("/accounts/login/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


# --- Production settings ------------------------------------------------------------------------


def test_the_deploy_check_is_clean_in_production(tmp_path):
    result = run_in_production(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_redirects_to_https_but_not_the_health_probe(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='accord.example.org')\n"
        "print(c.get('/accounts/login/').status_code, c.get('/accounts/login/', secure=True).status_code,"
        " c.get('/accounts/login/', HTTP_X_FORWARDED_PROTO='https').status_code,"
        " c.get('/api/v1/health/').status_code != 301)\n"
        "from django.conf import settings as s\n"
        "print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)\n"
    )
    result = run_in_production(["-c", script], tmp_path, LOG_LEVEL="ERROR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["301 200 200 True", "31536000 True True"]


# --- Celery -----------------------------------------------------------------------------------------


def test_celery_speaks_json_only_and_prefetches_one_task():
    from config.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize("visibility_timeout", ["3600", "60"])  # the default, and the clamp
def test_every_judge_task_ends_before_redis_would_redeliver_it(tmp_path, visibility_timeout):
    script = (
        "import json, django; django.setup()\n"
        "from config.celery import app\n"
        "import judges.tasks\n"
        "tasks = {n: t.time_limit for n, t in app.tasks.items() if n.startswith('judges.')}\n"
        "print(json.dumps({'vt': app.conf.broker_transport_options['visibility_timeout'], 'tasks': tasks}))\n"
    )
    result = run_in_production(
        ["-c", script],
        tmp_path,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",  # parsed, never connected
        CELERY_VISIBILITY_TIMEOUT=visibility_timeout,
        LOG_LEVEL="ERROR",
    )
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout.strip().splitlines()[-1])
    assert conf["vt"] == int(visibility_timeout)
    assert conf["tasks"], "no judge tasks registered"
    for name, time_limit in conf["tasks"].items():
        assert time_limit is not None and time_limit < conf["vt"], (name, time_limit, conf["vt"])
