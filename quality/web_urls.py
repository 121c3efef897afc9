from django.urls import path

from quality.views import dashboard, items, policy, reports, triage

urlpatterns = [
    path("projects/<int:project_id>/dashboard/", dashboard.project_dashboard, name="dashboard"),
    path("projects/<int:project_id>/dashboard/audit/", triage.audit_draw, name="dashboard-audit"),
    path("projects/<int:project_id>/dashboard/routing/", triage.routing_threshold, name="dashboard-routing"),
    path("projects/<int:project_id>/tasks/", reports.tasks, name="tasks"),
    path("projects/<int:project_id>/report/", reports.report, name="report"),
    path("projects/<int:project_id>/settings/policy/", policy.policy_page, name="project-policy-page"),
    path("projects/<int:project_id>/settings/policy/posterior-fit/", triage.posterior_fit, name="policy-posterior-fit"),
    path("projects/<int:project_id>/items/", items.items_browser, name="project-items-page"),
    path("projects/<int:project_id>/items/<int:item_id>/", items.item_page, name="project-item-page"),
]
