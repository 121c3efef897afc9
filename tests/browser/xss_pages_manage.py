"""The XSS sweep's visits of issue 17 part B's pages (new project, members, invitations, import,
a project's rubric version, the rubric builder), with the hostile rows they show: an invitation,
an import job whose file name, preview and report carry the payloads, a second rubric version."""

from __future__ import annotations

from annotation.models import ImportJob, ImportJobStatus, Invitation, Role
from rubrics.services import rubric_version_copy
from rubrics.templates import template_list
from tests.browser.xss_world import World

# POST-only routes of these pages (each answers a redirect or JSON, never a page of its own).
NOT_PAGES_MANAGE = {
    "invitations/<int:invitation_id>/answer/": "POST only: accepts or declines, then redirects",
    "projects/<int:project_id>/import/upload/": "POST only: JSON of the uploaded file's preview (visited as the job)",
    "projects/<int:project_id>/import/<int:job_id>/<str:action>/": "POST only: starts a check or an import; JSON",
    "rubrics/preview/": "POST only: JSON holding the server-rendered annotator form of the posted fields",
    "rubrics/<int:rubric_id>/v/<int:number>/publish/": "POST only: publishes and redirects",
    "rubrics/<int:rubric_id>/v/<int:number>/copy/": "POST only: makes a new version and redirects",
}


def manage_visits(world: World, visit) -> list:
    """``visit``: the sweep's Visit class (passed in: xss_pages imports this module)."""
    c = world.corpus
    t = world.tasks
    users = world.users
    Invitation.objects.get_or_create(
        project=t, user=users["outsider"], defaults={"role": Role.REVIEWER, "invited_by": users["manager"]}
    )
    job = ImportJob.objects.filter(project=t).first() or ImportJob.objects.create(
        project=t,
        kind="items",
        created_by=users["manager"],
        file_name=c.text("import.file_name", limit=255, markdown=False),
        path="/nonexistent",
        size=1,
        rows_total=2,
        preview={
            "rows": [{"line": 1, "value": {"external_id": c.text("import.preview", markdown=False)}, "error": None}],
            "fields": {"row": [c.one("import.field", 0)], "data": [c.one("import.field", 1)]},
        },
        status=ImportJobStatus.REJECTED,
        errors={"detail": c.text("import.detail", markdown=False), "rows": [{"row": 2, "errors": {"x": ["y"]}}]},
    )
    rubric = world.rubric_version.rubric
    newer = rubric.versions.order_by("-number").first()
    if newer.pk == world.rubric_version.pk:
        newer = rubric_version_copy(actor=users["staff"], version=world.rubric_version)
    r, old, new = rubric.pk, world.rubric_version.number, newer.number
    return [
        visit("/projects/new/", "staff"),
        visit(f"/projects/{t.pk}/members/", "manager"),
        visit("/invitations/", "outsider"),
        visit(f"/projects/{t.pk}/import/", "manager"),
        visit(f"/projects/{t.pk}/import/{job.pk}/", "manager", content_type="application/json"),
        visit(f"/projects/{t.pk}/rubric/", "manager"),
        visit(f"/projects/{t.pk}/rubric/?version={newer.pk}", "manager"),  # the confirmation
        visit("/rubrics/", "staff"),
        visit("/rubrics/new/", "staff"),
        visit(f"/rubrics/new/?template={template_list()[0]['key']}", "staff"),
        visit(f"/rubrics/{r}/v/{old}/", "manager"),  # read-only: not the latest, not the author
        visit(f"/rubrics/{r}/v/{new}/", "staff"),  # the builder on the hostile criteria
        visit(f"/rubrics/{r}/diff/?from={old}&to={new}", "staff"),
    ]
