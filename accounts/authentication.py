"""API token authentication (``Authorization: Token <key>``) against hashed tokens.

A token authenticates while it exists, has not expired, was issued under the user's current
password (``password_stamp``) and its user is active. A token that fails for any of these reasons
is deleted, so nothing can bring it back (reactivating the user, restoring the old password).
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, key_digest, password_stamp
from config.round_trips import columns, instance, width

# last_used_at is written at most this often per token: a write per request would cost more
# than the request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
MAX_KEY_LENGTH = 100


def api_token_user(key: str):
    """The active user ``key`` authenticates, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    token = _token_with_user(key_digest(key))
    if token is None:
        return None
    now = timezone.now()
    user = token.user
    dead = token.expires_at is not None and token.expires_at <= now
    if dead or not user.is_active or token.password_stamp != password_stamp(user.password):
        token.delete()
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return user


def _token_with_user(digest: str) -> ApiToken | None:
    """The token of ``digest`` with its user, in one query. On PostgreSQL hand-written: every API
    request starts here, and building the same query through the ORM costs more Python time than
    the database spends on it."""
    if connection.vendor != "postgresql":
        return ApiToken.objects.select_related("user").filter(digest=digest).first()
    user_model = get_user_model()
    sql = (
        f"SELECT {columns(ApiToken, 't')}, {columns(user_model, 'u')} FROM {ApiToken._meta.db_table} t "
        f"JOIN {user_model._meta.db_table} u ON u.id = t.user_id WHERE t.digest = %s LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    token = instance(ApiToken, row[: width(ApiToken)])
    token.user = instance(user_model, row[width(ApiToken) :])
    return token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        user = api_token_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return (user, None)
