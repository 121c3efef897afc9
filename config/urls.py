from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import apis as account_apis
from config.health import HealthApi

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("auth/token/", account_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("users/", account_apis.UserCreateApi.as_view(), name="user-create"),
    path("users/me/", account_apis.MeApi.as_view(), name="user-me"),
    path("", include("rubrics.urls")),
    path("", include("annotation.urls")),
    path("", include("judges.urls")),
    path("", include("exports.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("judges.web_urls")),
    path("", include("annotation.web_urls")),
]
