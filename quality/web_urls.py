from django.urls import path

from quality.views import dashboard, reports

urlpatterns = [
    path("projects/<int:project_id>/dashboard/", dashboard.project_dashboard, name="dashboard"),
    path("projects/<int:project_id>/tasks/", reports.tasks, name="tasks"),
    path("projects/<int:project_id>/report/", reports.report, name="report"),
]
