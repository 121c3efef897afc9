"""Issue 16, item 2: API tokens are stored hashed and end with the password, the account and an
explicit revoke; so do sessions. Reactivating an account revives nothing."""

import hashlib
import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.models import ApiToken, UserSession

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-new-Passw0rd-for-you"


def issue(username: str, **extra) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    status = client.get("/api/v1/users/me/").status_code
    assert status in (200, 401)
    return status == 200


def signed_in_browser(username: str) -> Client:
    browser = Client()
    assert browser.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def session_works(browser: Client) -> bool:
    return browser.get("/").status_code == 200  # anonymous visitors are sent to the login page


@pytest.mark.django_db
def test_tokens_are_stored_as_a_hash_with_a_prefix_to_tell_them_apart(make_user):
    user = make_user("ana")
    issued = issue("ana", name="notebook")
    key = issued["token"]
    token = ApiToken.objects.get(user=user)
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) < len(key) // 2 and issued["prefix"] == token.prefix
    stored = [str(value) for value in ApiToken.objects.values_list().get()]
    assert not any(key in value for value in stored), "the key itself is stored"
    assert works(key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = client.get("/api/v1/users/me/tokens/").json()
    assert [(t["prefix"], t["name"]) for t in listed] == [(token.prefix, "notebook")]
    assert key not in str(listed)


@pytest.mark.django_db
def test_a_token_can_expire(make_user):
    make_user("bea")
    issued = issue("bea", expires_in_days=1)
    assert works(issued["token"])
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not works(issued["token"])
    assert not ApiToken.objects.exists()  # a dead token is removed


@pytest.mark.django_db
def test_changing_the_password_ends_every_token_and_other_session(make_user):
    make_user("cid")
    key = issue("cid")["token"]
    elsewhere, here = signed_in_browser("cid"), signed_in_browser("cid")
    changed = here.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert not works(key)
    assert not session_works(elsewhere)
    assert session_works(here)  # the session that made the change stays signed in


@pytest.mark.django_db
def test_a_password_reset_ends_every_token_and_session(make_user):
    user = make_user("dot")
    key = issue("dot")["token"]
    browser = signed_in_browser("dot")
    user.refresh_from_db()  # the reset link depends on the last login
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = Client()
    step = link.get(f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/")
    assert step.status_code == 302
    done = link.post(step.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content.decode()[-3000:]
    assert not works(key) and not session_works(browser)


@pytest.mark.django_db
def test_a_password_set_by_staff_in_the_admin_ends_every_token(make_user, admin_client):
    user = make_user("eve")
    key = issue("eve")["token"]
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not works(key)


@pytest.mark.django_db
def test_deactivation_through_the_api_ends_tokens_and_sessions_and_reactivation_revives_none(make_user, staff):
    user = make_user("fay")
    key = issue("fay")["token"]
    browser = signed_in_browser("fay")
    admin = APIClient()
    admin.force_authenticate(staff)
    other = APIClient()
    other.force_authenticate(make_user("gil"))
    assert other.post(f"/api/v1/users/{user.pk}/deactivate/").status_code == 403  # staff only, as the pages
    response = admin.post(f"/api/v1/users/{user.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert not ApiToken.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert admin.post(f"/api/v1/users/{user.pk}/reactivate/").json()["is_active"] is True
    assert not works(key) and not session_works(browser)
    assert not ApiToken.objects.filter(user=user).exists()  # reactivation issued nothing
    assert works(issue("fay")["token"])  # signing in afresh works


@pytest.mark.django_db
def test_deactivation_in_the_admin_ends_tokens_and_sessions_too(make_user, admin_client):
    user = make_user("hal")
    key = issue("hal")["token"]
    browser = signed_in_browser("hal")
    form = admin_client.get(f"/admin/auth/user/{user.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(is_active="", date_joined_0="2026-01-01", date_joined_1="00:00:00", last_login_0="", last_login_1="")
    data["groups"], data["user_permissions"] = [], []
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content[:500]
    user.refresh_from_db()
    assert user.is_active is False
    user.is_active = True  # reactivated, by any means
    user.save()
    assert not works(key) and not session_works(browser)


@pytest.mark.django_db
def test_revoking_everything_ends_every_token_and_session(make_user):
    make_user("ida")
    keys = [issue("ida")["token"] for _ in range(2)]
    browser = signed_in_browser("ida")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    response = client.post("/api/v1/users/me/revoke/")
    assert response.status_code == 200 and response.json() == {"tokens": 2, "sessions": 1}
    assert not any(works(key) for key in keys) and not session_works(browser)


@pytest.mark.django_db
def test_revoking_one_token_leaves_the_others_and_nobody_revokes_anothers(make_user):
    make_user("jo")
    make_user("kim")
    first, second = issue("jo"), issue("jo")
    theirs = issue("kim")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    assert client.post(f"/api/v1/users/me/tokens/{theirs['id']}/revoke/").status_code == 404
    assert client.post(f"/api/v1/users/me/tokens/{second['id']}/revoke/").status_code == 204
    assert works(first["token"]) and not works(second["token"]) and works(theirs["token"])


@pytest.mark.django_db
def test_the_account_page_lists_tokens_by_prefix_and_revokes_them(make_user):
    make_user("lee")
    issued = issue("lee", name="laptop")
    browser = signed_in_browser("lee")
    page = browser.get("/account/").content.decode()
    assert issued["prefix"] in page and "laptop" in page and issued["token"] not in page
    assert 'href="/account/"' in browser.get("/").content.decode()  # reachable from the navigation
    revoked = browser.post(f"/account/tokens/{issued['id']}/revoke/")
    assert revoked.status_code == 302 and not works(issued["token"])
    everything = browser.post("/account/revoke/")
    assert everything.status_code == 302 and not session_works(browser)


@pytest.mark.django_db
def test_tokens_issued_before_hashing_keep_working_after_the_migration(make_user):
    """DRF's authtoken_token (plain keys) is moved to ApiToken by the accounts migration."""
    user = make_user("max")
    legacy = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer NOT NULL, created timestamp)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [legacy, user.pk, timezone.now()])
    migration = importlib.import_module("accounts.migrations.0001_hashed_api_tokens_and_user_sessions")
    migration.tokens_from_drf(apps, SimpleNamespace(connection=connection))  # it needs only the connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # no plain key is left
    token = ApiToken.objects.get(user=user)
    assert token.prefix == legacy[:8] and token.digest != legacy
    assert works(legacy)
