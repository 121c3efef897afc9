from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import apis as account_apis
from accounts.views import ThrottledLoginView
from config.health import HealthApi

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("auth/token/", account_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("users/", account_apis.UserCreateApi.as_view(), name="user-create"),
    path("users/me/", account_apis.MeApi.as_view(), name="user-me"),
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
    # Before Django's auth URLs, so that /accounts/login/ is the throttled view.
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("judges.web_urls")),
    path("", include("annotation.web_urls")),
    path("", include("quality.web_urls")),
]

# Under /api/ an unmatched URL (such as a non-numeric id) or a crash answers JSON, not a page.
handler404 = "config.errors.api_not_found"
handler500 = "config.errors.api_server_error"
