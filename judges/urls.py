from django.urls import path

from judges import apis, budget_apis

urlpatterns = [
    path("judges/", apis.JudgeListCreateApi.as_view(), name="judge-list"),
    path("judges/<int:judge_id>/", apis.JudgeDetailApi.as_view(), name="judge-detail"),
    path("judges/<int:judge_id>/test/", apis.JudgeTestApi.as_view(), name="judge-test"),
    path("judges/<int:judge_id>/estimate/", budget_apis.JudgeEstimateApi.as_view(), name="judge-estimate"),
    path(
        "projects/<int:project_id>/judge-budget/",
        budget_apis.ProjectJudgeBudgetApi.as_view(),
        name="project-judge-budget",
    ),
    path("projects/<int:project_id>/judge-runs/", apis.ProjectJudgeRunsApi.as_view(), name="project-judge-runs"),
    path("judge-runs/<int:run_id>/", apis.JudgeRunDetailApi.as_view(), name="judge-run-detail"),
    path("judge-runs/<int:run_id>/cancel/", apis.JudgeRunCancelApi.as_view(), name="judge-run-cancel"),
    path("judge-runs/<int:run_id>/resume/", budget_apis.JudgeRunResumeApi.as_view(), name="judge-run-resume"),
]
