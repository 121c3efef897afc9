from django.urls import path

from annotation import dashboard, report_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:project_id>/annotate/", views.annotate, name="annotate"),
    path("projects/<int:project_id>/annotate/<int:item_id>/submit/", views.annotate_submit, name="annotate-submit"),
    path("projects/<int:project_id>/annotate/<int:item_id>/skip/", views.annotate_skip, name="annotate-skip"),
    path("projects/<int:project_id>/review/", views.review, name="review"),
    path("projects/<int:project_id>/dashboard/", dashboard.project_dashboard, name="dashboard"),
    path("projects/<int:project_id>/review/<int:item_id>/", views.review_gold, name="review-gold"),
    path("projects/<int:project_id>/tasks/", report_views.tasks, name="tasks"),
    path("projects/<int:project_id>/report/", report_views.report, name="report"),
]
