"""The login page is throttled (accounts/views.py), client addresses cannot be forged through
X-Forwarded-For, and no API token reaches a page or a cookie that page scripts can read."""

import socket
import time

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.services import token_for_user

LOGIN = "/accounts/login/"
PASSWORD = "correct-horse-battery"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    """The throttle counts in the configured cache: per process by default, Redis with CACHE_URL."""
    if request.param == "redis":
        if not redis_up():
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/6",
            }
        }
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_USER = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 8
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 60


def login(client: Client, username: str, password: str, **extra):
    client.get(LOGIN, **extra)  # the CSRF cookie
    return client.post(
        LOGIN,
        {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        **extra,
    )


def client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.django_db
def test_it_locks_a_username_out_from_an_address_after_five_failures(make_user, limits, cache_backend):
    make_user("alice")
    browser = client()
    for _ in range(5):
        assert login(browser, "alice", "wrong").status_code == 200  # the form with its error
    locked = login(browser, "alice", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert b"Too many failed attempts" in locked.content
    assert "_auth_user_id" not in browser.session
    # The same username from another address, and another username from this one, still log in.
    assert login(client(), "alice", PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 302
    make_user("bob")
    assert login(client(), "bob", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_it_locks_an_address_out_after_too_many_failures_across_usernames(make_user, limits, cache_backend):
    make_user("carol")
    browser = client()
    for n in range(8):  # a password spray: a different username each time
        assert login(browser, f"user{n}", "wrong").status_code == 200
    assert login(browser, "carol", PASSWORD).status_code == 429
    assert login(client(), "carol", PASSWORD, REMOTE_ADDR="10.0.0.10").status_code == 302


@pytest.mark.django_db
def test_the_lockout_ends_with_its_window_and_a_success_resets_the_count(make_user, limits, settings, cache_backend):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 1
    make_user("dave")
    browser = client()
    for _ in range(4):
        login(browser, "dave", "wrong")
    assert login(browser, "dave", PASSWORD).status_code == 302  # the 5th attempt succeeds: count reset
    browser = client()
    for _ in range(5):
        login(browser, "dave", "wrong")
    assert login(browser, "dave", PASSWORD).status_code == 429
    time.sleep(1.2)
    assert login(browser, "dave", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_reset_the_count(make_user, limits, settings, cache_backend):
    make_user("erin")
    # No proxy in front (the default with DEBUG on): the header is ignored.
    browser = client()
    for n in range(5):
        login(browser, "erin", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert login(browser, "erin", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    # One proxy in front (production): the address is the entry the proxy appended, the last one.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    make_user("frank")
    for n in range(5):
        login(browser, "frank", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 192.0.2.7")
    assert login(browser, "frank", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.7").status_code == 429
    assert login(client(), "frank", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 302


@pytest.mark.django_db
def test_the_token_endpoint_cannot_be_unthrottled_with_x_forwarded_for(make_user):
    # ACCORD_AUTH_THROTTLE, 20/min: a new X-Forwarded-For on every attempt used to be a new client.
    make_user("grace")
    api = Client()
    statuses = [
        api.post(
            "/api/v1/auth/token/",
            {"username": "grace", "password": "wrong"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(21)
    ]
    assert statuses == [400] * 20 + [429]


@pytest.mark.django_db
def test_the_login_throttle_still_needs_a_csrf_token(make_user, limits):
    make_user("heidi")
    browser = client()
    response = browser.post(LOGIN, {"username": "heidi", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.django_db
def test_no_api_token_is_in_a_cookie_page_scripts_can_read(make_user):
    user = make_user("ivan")
    token = token_for_user(user=user)
    browser = client()
    assert login(browser, "ivan", PASSWORD).status_code == 302
    api = browser.post(
        "/api/v1/auth/token/", {"username": "ivan", "password": PASSWORD}, content_type="application/json"
    )
    assert api.json()["token"] == token
    for page in ("/", "/api/docs/", "/accounts/password_change/"):
        response = browser.get(page)
        assert token.encode() not in response.content, page
    cookies = browser.cookies
    assert cookies["sessionid"]["httponly"] is True
    readable = {name for name, morsel in cookies.items() if not morsel["httponly"]}
    assert readable <= {"csrftoken"}, readable
    assert all(token not in morsel.value for morsel in cookies.values())


@pytest.mark.django_db
def test_the_admin_never_shows_token_keys(make_user, admin_user):
    token = token_for_user(user=make_user("judy"))
    admin_client = Client()
    admin_client.force_login(admin_user)
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404  # DRF's token admin is off
    for path in ("/admin/", "/admin/auth/user/", f"/admin/auth/user/{Token.objects.get(key=token).user_id}/change/"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert token.encode() not in response.content, path
