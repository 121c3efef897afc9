from django.urls import path

from quality.apis import approval, estimate, items, reports, routing

urlpatterns = [
    path("projects/<int:project_id>/items/", items.ProjectItemsApi.as_view(), name="project-items"),
    path("projects/<int:project_id>/agreement/", approval.ProjectAgreementApi.as_view(), name="agreement"),
    path(
        "projects/<int:project_id>/agreement/items/",
        approval.ProjectDisagreementApi.as_view(),
        name="agreement-items",
    ),
    path("projects/<int:project_id>/approval-policy/", approval.ApprovalPolicyApi.as_view(), name="approval-policy"),
    path(
        "projects/<int:project_id>/approval-policy/preview/",
        approval.ApprovalPolicyPreviewApi.as_view(),
        name="approval-policy-preview",
    ),
    path(
        "projects/<int:project_id>/approval/refresh/",
        approval.ApprovalRefreshApi.as_view(),
        name="approval-refresh",
    ),
    path("projects/<int:project_id>/trust/refresh/", approval.TrustRefreshApi.as_view(), name="trust-refresh"),
    path(
        "projects/<int:project_id>/reports/failure-modes/",
        reports.FailureModeReportApi.as_view(),
        name="report-failure-modes",
    ),
    path("projects/<int:project_id>/estimate/", estimate.ProjectEstimateApi.as_view(), name="estimate"),
    path("projects/<int:project_id>/audit/", estimate.ProjectAuditApi.as_view(), name="audit"),
    path("projects/<int:project_id>/routing/", routing.ProjectRoutingApi.as_view(), name="routing"),
    path("projects/<int:project_id>/posterior/fit/", routing.PosteriorFitApi.as_view(), name="posterior-fit"),
    path(
        "projects/<int:project_id>/routing/threshold/", routing.RoutingThresholdApi.as_view(), name="routing-threshold"
    ),
    path("items/<int:item_id>/", items.ItemDetailApi.as_view(), name="item-detail"),
    path("items/<int:item_id>/reject/", approval.ItemRejectApi.as_view(), name="item-reject"),
    path("items/<int:item_id>/send-to-review/", approval.ItemSendToReviewApi.as_view(), name="item-send-to-review"),
    path("items/<int:item_id>/reopen/", approval.ItemReopenApi.as_view(), name="item-reopen"),
]
