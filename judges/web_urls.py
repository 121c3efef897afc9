"""Pages of the judges app; include at the site root: path("", include("judges.web_urls"))."""

from django.urls import path

from judges import views

urlpatterns = [path("judge-runs/<int:run_id>/", views.run_progress, name="judge-run-page")]
