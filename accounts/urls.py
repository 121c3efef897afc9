from django.urls import path

from accounts import views

# Before Django's auth URLs (config/urls.py), so that these names resolve to the throttled views.
urlpatterns = [
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("account/", views.account, name="account"),
    path("account/tokens/<int:token_id>/revoke/", views.account_token_revoke, name="account-token-revoke"),
    path("account/revoke/", views.account_revoke, name="account-revoke"),
]
