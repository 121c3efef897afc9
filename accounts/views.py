"""The account page (API tokens, sign out everywhere) and the password-reset pages, throttled.

Sign-in needs no view of ours: Django's login view calls authenticate(), which django-axes
limits (accounts/throttle.py).
"""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import ApiToken
from accounts.services import api_token_revoke, api_tokens_live, user_credentials_revoke
from accounts.throttle import password_reset_throttled, password_reset_wait


class PasswordResetView(auth_views.PasswordResetView):
    """Django's "forgot your password" form; each client address, and each e-mail address asked
    for, may ask a limited number of times (ACCORD_PASSWORD_RESET_RATE, _EMAIL_RATE)."""

    def post(self, request, *args, **kwargs):
        wait = password_reset_wait(request, email=str(request.POST.get("email", ""))[:254])
        if wait is not None:
            return password_reset_throttled(request, wait)
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset link; visits count against the client's reset limit, so link tokens cannot
    be guessed at the server's speed. A reset ends every session (Django) and every API token
    (issued under the old password, accounts/authentication.py) of the user."""

    def dispatch(self, request, *args, **kwargs):
        wait = password_reset_wait(request)
        if wait is not None:
            return password_reset_throttled(request, wait)
        return super().dispatch(request, *args, **kwargs)


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """Your account: your API tokens (by prefix), revoking one or all, changing your password."""
    tokens = list(api_tokens_live(user=request.user))
    return render(request, "accounts/account.html", {"tokens": tokens})


@login_required
@require_POST
def account_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        api_token_revoke(user=request.user, token_id=token_id)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    messages.success(request, "The token was revoked.")
    return redirect("account")


@login_required
@require_POST
def account_revoke(request: HttpRequest) -> HttpResponse:
    """Sign out everywhere: every API token and every session of this account, this one included."""
    ended = user_credentials_revoke(user=request.user)
    logout(request)
    messages.success(
        request,
        f"Signed out everywhere: {ended['tokens']} API token(s) revoked, {ended['sessions']} session(s) ended.",
    )
    return redirect("login")
