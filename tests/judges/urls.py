"""The site's URLs plus the judges pages (until config.urls includes judges.web_urls)."""

from django.urls import include, path

from config.urls import urlpatterns as site

urlpatterns = [path("", include("judges.web_urls")), *site]
