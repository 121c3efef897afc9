from django.urls import path

from annotation import apis, approval_apis, report_apis

urlpatterns = [
    path("projects/", apis.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<int:project_id>/", apis.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", apis.ProjectMembersApi.as_view(), name="project-members"),
    path("projects/<int:project_id>/items/", apis.ProjectItemsApi.as_view(), name="project-items"),
    path(
        "projects/<int:project_id>/ratings/import/",
        apis.ProjectRatingsImportApi.as_view(),
        name="project-ratings-import",
    ),
    path("projects/<int:project_id>/queue/next/", apis.QueueNextApi.as_view(), name="queue-next"),
    path("projects/<int:project_id>/queue/skip/", apis.QueueSkipApi.as_view(), name="queue-skip"),
    path("projects/<int:project_id>/review/", apis.ProjectReviewApi.as_view(), name="project-review"),
    path("projects/<int:project_id>/agreement/", approval_apis.ProjectAgreementApi.as_view(), name="agreement"),
    path(
        "projects/<int:project_id>/agreement/items/",
        approval_apis.ProjectDisagreementApi.as_view(),
        name="agreement-items",
    ),
    path(
        "projects/<int:project_id>/approval-policy/", approval_apis.ApprovalPolicyApi.as_view(), name="approval-policy"
    ),
    path(
        "projects/<int:project_id>/approval/refresh/",
        approval_apis.ApprovalRefreshApi.as_view(),
        name="approval-refresh",
    ),
    path("projects/<int:project_id>/trust/refresh/", approval_apis.TrustRefreshApi.as_view(), name="trust-refresh"),
    path(
        "projects/<int:project_id>/reports/failure-modes/",
        report_apis.FailureModeReportApi.as_view(),
        name="report-failure-modes",
    ),
    path("items/<int:item_id>/reject/", approval_apis.ItemRejectApi.as_view(), name="item-reject"),
    path("items/<int:item_id>/", apis.ItemDetailApi.as_view(), name="item-detail"),
    path("items/<int:item_id>/ratings/", apis.ItemRatingsApi.as_view(), name="item-ratings"),
    path("items/<int:item_id>/draft/", apis.ItemDraftApi.as_view(), name="item-draft"),
    path("items/<int:item_id>/gold/", apis.ItemGoldApi.as_view(), name="item-gold"),
]
