import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, UserSession, key_digest, password_stamp
from config.errors import Conflict

# A client that asks for a token on every run would pile them up; past this many live tokens
# the oldest is revoked when a new one is issued.
MAX_TOKENS_PER_USER = 50
KEY_PREFIX = "acc_"
PREFIX_LENGTH = 12  # "acc_" and 8 characters of the key: enough to tell tokens apart in a list


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> AbstractBaseUser:
    """Create a user. Only staff reach this (the API checks), so only staff can make staff."""
    User = get_user_model()
    user = User(username=username, email=email or "", is_staff=is_staff)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    if User.objects.filter(username=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", errors={"username": ["already taken."]})
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def api_tokens_live(*, user: AbstractBaseUser):
    """The user's tokens that still authenticate: not expired, issued under the current password."""
    return ApiToken.objects.filter(user=user, password_stamp=password_stamp(user.password)).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


@transaction.atomic
def api_token_create(
    *, user: AbstractBaseUser, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue a token; returns it and its key, which is never stored and cannot be shown again.

    Tokens that no longer authenticate (expired, or issued before a password change) are removed,
    and past MAX_TOKENS_PER_USER live ones the oldest is revoked."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_in_days": ["the expiry must be in the future."]})
    ApiToken.objects.filter(user=user).exclude(pk__in=api_tokens_live(user=user).values("pk")).delete()
    live = list(api_tokens_live(user=user).order_by("created_at", "id").values_list("pk", flat=True))
    if len(live) >= MAX_TOKENS_PER_USER:
        ApiToken.objects.filter(pk__in=live[: len(live) - MAX_TOKENS_PER_USER + 1]).delete()
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user,
        digest=key_digest(key),
        prefix=key[:PREFIX_LENGTH],
        name=name,
        password_stamp=password_stamp(user.password),
        expires_at=expires_at,
    )
    return token, key


def api_token_expiry(*, days: int | None) -> datetime | None:
    if days is None:
        default = settings.API_TOKEN_DEFAULT_DAYS
        return timezone.now() + timedelta(days=default) if default else None
    return timezone.now() + timedelta(days=days)


def api_token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    """Revoke one of the user's own tokens (raises ApiToken.DoesNotExist for anyone else's)."""
    ApiToken.objects.get(pk=token_id, user=user).delete()


@transaction.atomic
def user_credentials_revoke(*, user: AbstractBaseUser, keep_session: str | None = None) -> dict[str, int]:
    """End every API token and every session of ``user`` (but ``keep_session``, the session key
    of a request that should stay signed in). Returns how many of each were ended."""
    tokens, _ = ApiToken.objects.filter(user=user).delete()
    sessions = UserSession.objects.filter(user=user)
    if keep_session:
        sessions = sessions.exclude(session_key=keep_session)
    ended, _ = sessions.delete()
    return {"tokens": tokens, "sessions": ended}


@transaction.atomic
def user_deactivate(*, user: AbstractBaseUser) -> AbstractBaseUser:
    """Deactivate an account: it cannot sign in, and every token and session it had is ended, so
    that reactivating it later revives none of them."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_credentials_revoke(user=user)
    return user


@transaction.atomic
def user_reactivate(*, user: AbstractBaseUser) -> AbstractBaseUser:
    """Let a deactivated account sign in again. It issues nothing: the user signs in afresh."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user
