from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import apis as account_apis
from config.health import HealthApi

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("auth/token/", account_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("users/", account_apis.UserCreateApi.as_view(), name="user-create"),
    path("users/me/", account_apis.MeApi.as_view(), name="user-me"),
    path("users/me/tokens/", account_apis.MyTokensApi.as_view(), name="user-me-tokens"),
    path(
        "users/me/tokens/<int:token_id>/revoke/", account_apis.MyTokenRevokeApi.as_view(), name="user-me-token-revoke"
    ),
    path("users/me/revoke/", account_apis.MyCredentialsRevokeApi.as_view(), name="user-me-revoke"),
    path("users/<int:user_id>/deactivate/", account_apis.UserDeactivateApi.as_view(), name="user-deactivate"),
    path("users/<int:user_id>/reactivate/", account_apis.UserReactivateApi.as_view(), name="user-reactivate"),
    path("", include("rubrics.urls")),
    path("", include("annotation.urls")),
    path("", include("quality.urls")),
    path("", include("judges.urls")),
    path("", include("exports.urls")),
]

# The split view serves Swagger's start-up script as a same-origin file, so script-src 'self'
# holds; what stays inline is drf-spectacular's small <style> block, allowed by its hash alone.
SWAGGER_CSP = {
    **settings.SECURE_CSP,
    "style-src": [*settings.SECURE_CSP["style-src"], "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"],
}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        csp_override(SWAGGER_CSP)(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
    path("api/v1/", include(api_v1)),
    # Before Django's auth URLs: the password-reset pages are throttled (accounts/views.py).
    path("", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("judges.web_urls")),
    path("", include("annotation.web_urls")),
    path("", include("quality.web_urls")),
    path("", include("exports.web_urls")),
    path("", include("rubrics.web_urls")),
]

# Under /api/ an unmatched URL (such as a non-numeric id) or a crash answers JSON, not a page.
handler404 = "config.errors.api_not_found"
handler500 = "config.errors.api_server_error"
