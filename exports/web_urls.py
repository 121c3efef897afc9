"""Pages of the exports app; include at the site root: path("", include("exports.web_urls"))."""

from django.urls import path

from exports import views

urlpatterns = [
    path("projects/<int:project_id>/export/", views.export_page, name="project-export-page"),
]
