"""Pages of the judges app; include at the site root: path("", include("judges.web_urls"))."""

from django.urls import path

from judges import budget_pages, form_pages, views

urlpatterns = [
    path("projects/<int:project_id>/judges/", views.project_judges, name="project-judges"),
    path("projects/<int:project_id>/judges/<int:judge_id>/run/", views.project_judge_run, name="project-judge-run"),
    path("projects/<int:project_id>/judges/new/", form_pages.judge_new, name="judge-new"),
    path("projects/<int:project_id>/judges/<int:judge_id>/edit/", form_pages.judge_edit, name="judge-edit"),
    path("projects/<int:project_id>/judges/<int:judge_id>/test/", form_pages.judge_test_page, name="judge-test-page"),
    path("projects/<int:project_id>/judges/<int:judge_id>/toggle/", form_pages.judge_toggle, name="judge-toggle"),
    path("projects/<int:project_id>/judges/budget/", budget_pages.project_judge_budget, name="judge-budget-page"),
    path("judge-runs/<int:run_id>/", views.run_progress, name="judge-run-page"),
    path("judge-runs/<int:run_id>/resume/", budget_pages.judge_run_resume_page, name="judge-run-resume-page"),
    path("judge-runs/<int:run_id>/verdicts/", views.run_verdicts, name="judge-run-verdicts"),
]
