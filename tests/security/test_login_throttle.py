"""Issue 16, items 3 and 10: every sign-in path (the login page, /admin/login/, the token endpoint)
and the password-reset pages limit failures per account and per client address, answering 429
with Retry-After; the counts live in a cache every web process shares; anonymous requests carry
small bodies only. Client addresses cannot be forged through X-Forwarded-For, and no API token
reaches a page or a cookie that page scripts can read."""

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from accounts.models import ApiToken
from accounts.services import api_token_create

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "correct-horse-battery"
LIMIT = 5


def redis_url() -> str | None:
    """A Redis database of this run's own (the Celery broker's), when one answers."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        return None
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return None
    return url


@pytest.fixture(params=["database", "redis"])
def cache_backend(request, settings):
    """The counts are kept in the default cache: a database table, or Redis with CACHE_URL. Both are
    shared by every process; the Redis keys get a prefix of their own, so nothing else is cleared."""
    from axes.handlers.proxy import AxesProxyHandler
    from django.core.cache import cache

    if request.param == "redis":
        url = redis_url()
        if url is None:
            pytest.skip("no Redis broker (CELERY_BROKER_URL) to share")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            }
        }
    AxesProxyHandler.get_implementation(force=True)  # axes keeps the cache it was built with
    yield request.param
    if request.param == "database":
        cache.clear()
    AxesProxyHandler.get_implementation(force=True)


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 60
    settings.AXES_COOLOFF_TIME = timedelta(seconds=60)


def login(client: Client, username: str, password: str, path: str = LOGIN, **extra):
    client.get(path, **extra)  # the CSRF cookie
    return client.post(
        path,
        {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        **extra,
    )


def client() -> Client:
    return Client(enforce_csrf_checks=True)


def address(n: int) -> dict:
    return {"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"}


@pytest.mark.django_db
def test_an_account_is_locked_after_failures_from_any_addresses(make_user, limits, cache_backend):
    make_user("alice")
    for n in range(LIMIT - 1):
        assert login(client(), "alice", "wrong", **address(n)).status_code == 200  # the form with its error
    locked = login(client(), "alice", "wrong", **address(99))
    assert locked.status_code == 429
    assert login(client(), "alice", PASSWORD, **address(100)).status_code == 429  # even the right password
    assert locked["Retry-After"] == "60"
    assert b"Too many failed attempts" in locked.content
    make_user("bob")
    assert login(client(), "bob", PASSWORD, **address(99)).status_code == 302  # another account still signs in


@pytest.mark.django_db
def test_an_address_is_locked_after_failures_across_accounts(make_user, limits, cache_backend):
    make_user("carol")
    browser = client()
    for n in range(LIMIT):  # a password spray: a different account each time
        login(browser, f"user{n}", "wrong")
    assert login(browser, "carol", PASSWORD).status_code == 429
    assert login(client(), "carol", PASSWORD, **address(7)).status_code == 302


@pytest.mark.django_db
def test_the_admin_login_is_limited_too(make_user, limits, cache_backend):
    make_user("root", is_staff=True)
    statuses = [login(client(), "root", "wrong", path=ADMIN_LOGIN, **address(n)).status_code for n in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]
    locked = login(client(), "root", PASSWORD, path=ADMIN_LOGIN, **address(50))
    assert locked.status_code == 429 and locked["Retry-After"] == "60"


@pytest.mark.django_db
def test_the_token_endpoint_limits_failures_per_account_across_addresses(make_user, limits, cache_backend):
    make_user("dave")
    api = Client()
    statuses = [
        api.post(TOKEN, {"username": "dave", "password": "wrong"}, "application/json", **address(n)).status_code
        for n in range(LIMIT + 1)
    ]
    assert statuses == [400] * (LIMIT - 1) + [429, 429]
    right = api.post(TOKEN, {"username": "dave", "password": PASSWORD}, "application/json", **address(77))
    assert right.status_code == 429 and right["Retry-After"] == "60"
    assert "try again" in right.json()["detail"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_the_lockout_ends_with_its_window(make_user, limits, settings, cache_backend):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=3)
    make_user("erin")
    for n in range(LIMIT):
        login(client(), "erin", "wrong", **address(n))
    assert login(client(), "erin", PASSWORD).status_code == 429  # an attempt while locked starts the window again
    time.sleep(3.5)
    assert login(client(), "erin", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_reset_the_count(make_user, limits, settings, cache_backend):
    # No proxy in front (the default with DEBUG on): the header is ignored.
    browser = client()
    for n in range(LIMIT):
        login(browser, f"spray{n}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    make_user("frank")
    assert login(browser, "frank", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    # One proxy in front (production): the address is the entry the proxy appended, the last one.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(LIMIT):
        login(browser, f"spray-b{n}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 192.0.2.7")
    assert login(browser, "frank", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.7").status_code == 429
    assert login(client(), "frank", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 302


@pytest.mark.django_db
def test_the_token_endpoint_cannot_be_unthrottled_with_x_forwarded_for(make_user):
    # ACCORD_AUTH_THROTTLE, 20/min: a new X-Forwarded-For on every attempt used to be a new client.
    make_user("grace")
    api = Client()
    statuses = [
        api.post(
            TOKEN,
            {"username": "grace", "password": PASSWORD},
            "application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(21)
    ]
    assert statuses == [200] * 20 + [429]


@pytest.mark.django_db
def test_password_reset_emails_are_limited_per_address_asked_for(make_user, settings, cache_backend):
    settings.PASSWORD_RESET_EMAIL_RATE = "3/hour"
    user = make_user("heidi")
    user.email = "heidi@example.org"
    user.save()
    statuses = [
        Client().post("/accounts/password_reset/", {"email": "Heidi@example.org"}, **address(n)).status_code
        for n in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    late = Client().post("/accounts/password_reset/", {"email": "heidi@example.org"}, **address(9))
    assert late.status_code == 429 and int(late["Retry-After"]) > 0


@pytest.mark.django_db
def test_password_reset_requests_and_links_are_limited_per_client(make_user, settings, cache_backend):
    settings.PASSWORD_RESET_RATE = "4/hour"
    browser = Client()
    asked = [browser.post("/accounts/password_reset/", {"email": f"n{n}@example.org"}).status_code for n in range(5)]
    assert asked == [302] * 4 + [429]
    guesses = [Client().get(f"/accounts/reset/MQ/guess-{n}/", **address(3)).status_code for n in range(5)]
    assert guesses == [200] * 4 + [429]  # an invalid link is a page saying so; then no more guessing


@pytest.mark.django_db
def test_anonymous_requests_carry_small_bodies_only(make_user, client_for, project, members):
    filler = "x" * (80 * 1024)
    api = Client()
    big = api.post(TOKEN, {"username": "nobody", "password": filler}, "application/json")
    assert big.status_code == 413 and "sign in" in big.json()["detail"]
    assert Client().post(LOGIN, {"username": "u", "password": filler}).status_code == 413
    forged = api.post(TOKEN, {"x": filler}, "application/json", HTTP_AUTHORIZATION="Token made-up")
    assert forged.status_code == 413  # a token must be valid to lift the limit
    rows = [{"external_id": f"e{i}", "data": {"text": filler[:2000]}} for i in range(100)]  # about 200 KB
    key = api_token_create(user=members["manager"])[1]
    imported = api.post(
        f"/api/v1/projects/{project.pk}/items/", rows, "application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert imported.status_code == 201


@pytest.mark.django_db
def test_the_login_throttle_still_needs_a_csrf_token(make_user, limits):
    make_user("ivan")
    browser = client()
    response = browser.post(LOGIN, {"username": "ivan", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.django_db
def test_no_api_token_is_in_a_cookie_page_scripts_can_read(make_user):
    make_user("judy")
    browser = client()
    assert login(browser, "judy", PASSWORD).status_code == 302
    api = browser.post(TOKEN, {"username": "judy", "password": PASSWORD}, content_type="application/json")
    token = api.json()["token"]
    for page in ("/", "/account/", "/api/docs/", "/accounts/password_change/"):
        response = browser.get(page)
        assert response.status_code == 200, page
        assert token.encode() not in response.content, page
    cookies = browser.cookies
    assert cookies["sessionid"]["httponly"] is True
    readable = {name for name, morsel in cookies.items() if not morsel["httponly"]}
    assert readable <= {"csrftoken"}, readable
    assert all(token not in morsel.value for morsel in cookies.values())


@pytest.mark.django_db
def test_the_admin_never_shows_token_keys(make_user, admin_user):
    user = make_user("kate")
    token, key = api_token_create(user=user)
    admin_client = Client()
    admin_client.force_login(admin_user)
    pages = ("/admin/", "/admin/auth/user/", f"/admin/auth/user/{user.pk}/change/", "/admin/accounts/apitoken/")
    for path in (*pages, f"/admin/accounts/apitoken/{token.pk}/change/"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert key.encode() not in response.content, path
    assert token.prefix.encode() in admin_client.get("/admin/accounts/apitoken/").content


SHARED = """
import django, sys
django.setup()
from django.conf import settings
from django.contrib.auth import authenticate
from django.test import RequestFactory
# What is shared is the count of failures; no user table is needed for one to fail.
settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]
request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.9.9.9")
for _ in range(int(sys.argv[1])):
    authenticate(request, username="shared-account", password="wrong")
print("locked" if getattr(request, "axes_locked_out", False) else "open")
"""


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_every_web_process_sees_the_same_counts(backend, tmp_path):
    """Two processes, as two gunicorn workers: the second sees the failures of the first. (Before,
    the default cache was each process's memory.)"""
    env = {**os.environ, "DEBUG": "1", "ACCORD_VAR_DIR": str(tmp_path)}
    env.pop("CACHE_URL", None)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"  # a file both processes open
    if backend == "redis":
        url = redis_url()
        if url is None:
            pytest.skip("no Redis broker (CELERY_BROKER_URL) to share")
        env["CACHE_URL"] = url
    else:
        subprocess.run([sys.executable, "manage.py", "createcachetable"], env=env, check=True, capture_output=True)
    run = [sys.executable, "-c", SHARED]
    limit = django_settings.AXES_FAILURE_LIMIT
    try:
        first = subprocess.run([*run, str(limit - 1)], env=env, capture_output=True)
        assert first.returncode == 0, first.stderr.decode()[-2000:]
        assert first.stdout.decode().split()[-1] == "open"
        second = subprocess.run([*run, "1"], env=env, capture_output=True)
        assert second.stdout.decode().split()[-1] == "locked", second.stderr.decode()[-2000:]
    finally:
        if backend == "redis":
            reset = "import django; django.setup(); from axes.handlers.proxy import AxesProxyHandler as h\n"
            reset += "h.reset_attempts(username='account:shared-account')\nh.reset_attempts(ip_address='10.9.9.9')"
            subprocess.run([sys.executable, "-c", reset], env=env, check=True)
