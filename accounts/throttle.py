"""Limits on guessing: sign-in failures (django-axes) and password resets (DRF's rate throttle).

Every sign-in path calls ``django.contrib.auth.authenticate`` with the request (the site's login
page, /admin/login/, the token endpoint), and django-axes (settings: AXES_*) counts its failures
per account and per client address in the default cache, which every web process shares: Redis
with CACHE_URL, the database cache otherwise. Once either count reaches ACCORD_LOGIN_FAILURES
within the window, that path answers 429 with Retry-After, even to the right password, until
the window has passed since the last attempt. The callables below are what the AXES_* settings
name: the client address and the account as Accord counts them, and the 429 answer.

Password resets do not authenticate: they are limited with DRF's rate throttle on the same
cache, per client address (requests for a reset e-mail, and visits to reset links) and per
e-mail address asked for (so one inbox cannot be flooded from many addresses).
"""

import hashlib

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address as the API throttles see it: REMOTE_ADDR, or with
    ACCORD_TRUSTED_PROXIES=n the n-th X-Forwarded-For entry from the right (a client cannot
    reset its count by sending its own header)."""
    return BaseThrottle().get_ident(request)


def login_account(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a sign-in attempt is counted against. Prefixed, so that a username spelled
    like an IP address does not share the count of that address."""
    username = (credentials or {}).get("username")
    if username is None:
        data = getattr(request, "data", None) or request.POST
        username = data.get("username") if hasattr(data, "get") else None
    if not isinstance(username, str):
        return None
    return "account:" + username.strip().lower()[:150]


def _retry_after() -> int:
    return settings.LOGIN_FAILURE_WINDOW_SECONDS


def login_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The answer once axes has locked a sign-in path: 429 with Retry-After; JSON under /api/,
    otherwise the login page with the form empty and the reason."""
    retry_after = _retry_after()
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": locked_out_message()}, status=429)
    else:
        form = AuthenticationForm(request=request, initial={"username": request.POST.get("username", "")})
        context = {"form": form, "throttled": True, "throttle_minutes": max(1, round(retry_after / 60))}
        response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def locked_out_message() -> str:
    minutes = max(1, round(_retry_after() / 60))
    return f"Too many failed sign-in attempts: try again in {minutes} minute{'s' if minutes != 1 else ''}."


class _RateLimit(SimpleRateThrottle):
    """DRF's sliding-window throttle on the shared cache, keyed by what the caller names."""

    def __init__(self, *, scope: str, rate: str, ident: str):
        self.scope, self.rate = scope, rate
        self.num_requests, self.duration = self.parse_rate(rate)
        self.ident = hashlib.sha256(ident.encode()).hexdigest()

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def password_reset_wait(request: HttpRequest, *, email: str | None = None) -> int | None:
    """Count one password-reset request (or reset-link visit) of this client, and one e-mail
    to ``email``; the seconds to wait when either limit is reached, else None."""
    limits = [_RateLimit(scope="password-reset", rate=settings.PASSWORD_RESET_RATE, ident=client_address(request))]
    if email is not None:
        ident = email.strip().lower()
        limits.append(_RateLimit(scope="password-reset-email", rate=settings.PASSWORD_RESET_EMAIL_RATE, ident=ident))
    waits = [limit.wait() for limit in limits if not limit.allow_request(request, None)]
    return max(1, round(max(w or 1 for w in waits))) if waits else None


def password_reset_throttled(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "registration/throttled.html", {"minutes": max(1, round(wait / 60))}, status=429)
    response["Retry-After"] = str(wait)
    return response
