"""The login page, throttled: Django's LoginView counts nothing, so a password could be guessed
at the speed of the server.

Failures are counted in the default cache (per process by default; shared through Redis when
CACHE_URL is set) under two keys: the client address with the username, and the client address
alone. Once either count reaches its limit within the window, the form answers 429 without
checking the password, even a right one, until the window that began with the first failure
ends. A successful login clears the address-and-username count. The client address is the one
the API throttle uses (DRF's ``NUM_PROXIES``, from ``ACCORD_TRUSTED_PROXIES``), so a client cannot
reset its count by sending its own ``X-Forwarded-For``.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle


def _client_address(request: HttpRequest) -> str:
    return BaseThrottle().get_ident(request)


def _keys(request: HttpRequest) -> tuple[str, str]:
    address = _client_address(request)
    username = (request.POST.get("username") or "").strip().lower()[:150]
    pair = hashlib.sha256(f"{address}\n{username}".encode()).hexdigest()
    return f"login-failures:user:{pair}", f"login-failures:address:{hashlib.sha256(address.encode()).hexdigest()}"


def _count(key: str) -> int:
    return cache.get(key, 0)


def _add_failure(key: str) -> None:
    # add() starts the window only once; incr() keeps it (the expiry is not renewed).
    if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


class ThrottledLoginView(LoginView):
    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user_key, address_key = _keys(request)
        if (
            _count(user_key) >= settings.LOGIN_FAILURES_PER_USER
            or _count(address_key) >= settings.LOGIN_FAILURES_PER_ADDRESS
        ):
            # Unbound: a bound AuthenticationForm would check the password while validating.
            form = self.get_form_class()(request=request, initial={"username": request.POST.get("username", "")})
            minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_SECONDS / 60))
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=True, throttle_minutes=minutes)
            )
            response.status_code = 429
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            cache.delete(user_key)
        else:
            _add_failure(user_key)
            _add_failure(address_key)
        return response
