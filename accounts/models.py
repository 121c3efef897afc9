import hashlib

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


def password_stamp(password_hash: str) -> str:
    """What a token remembers of its user's password: a hash of the stored password hash. When
    the password changes, by any path (the account pages, the admin, ``changepassword``, a
    reset), the stamp no longer matches and every token issued before is dead."""
    return hashlib.sha256(f"accord-token:{password_hash}".encode()).hexdigest()[:32]


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. Only its SHA-256 is stored: the key is shown once, when it is issued; the
    prefix (its first characters) identifies it in lists."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="api_tokens", on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    name = models.CharField(max_length=100, blank=True)
    password_stamp = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class UserSession(AbstractBaseSession):
    """Django's database session, plus the user it signs in, so that every session of a user can
    be ended at once (accounts/sessions.py is the session engine that fills it in)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
