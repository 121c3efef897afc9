"""API token authentication (``Authorization: Token <key>``) against hashed tokens.

A token authenticates while it exists, has not expired, was issued under the user's current
password (``password_stamp``) and its user is active. A token that fails for any of these reasons
is deleted, so nothing can bring it back (reactivating the user, restoring the old password).
"""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, key_digest, password_stamp

# last_used_at is written at most this often per token: a write per request would cost more
# than the request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
MAX_KEY_LENGTH = 100


def api_token_user(key: str):
    """The active user ``key`` authenticates, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
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


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        user = api_token_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return (user, None)
