"""The manager's pages in the XSS sweep of tests/browser/test_xss_corpus.py: settings hub, new
project, members and invitations, rubric pin, import, items browser and item page, approval
policy, export, rubric builder; each opened as the role that uses it, and each form re-rendered
with hostile input where a refused POST shows it again."""

from __future__ import annotations

from urllib.parse import quote

from annotation.models import Rater
from rubrics.templates import template_list
from tests.browser.xss_visit import Visit
from tests.browser.xss_world import World

# The routes that only answer a POST (or JSON to a page's script), with the reason.
NOT_PAGES_MANAGE = {
    "invitations/<int:invitation_id>/answer/": "POST only: accepts or declines the invitation and redirects",
    "projects/<int:project_id>/import/upload/": (
        "POST only, answers JSON: the sweep uploads a hostile file through the import page (import-upload)"
    ),
    "projects/<int:project_id>/import/<int:job_id>/<str:action>/": (
        "POST only, answers JSON: the sweep's upload runs the check from the import page (import-upload)"
    ),
    "rubrics/preview/": "POST only, answers JSON: the builder's live preview, fetched by the sweep (builder-input)",
    "rubrics/<int:rubric_id>/v/<int:number>/publish/": "POST only: publishes the version and redirects",
    "rubrics/<int:rubric_id>/v/<int:number>/copy/": "POST only: starts a new version and redirects",
    "projects/<int:project_id>/judges/<int:judge_id>/toggle/": "POST only: enables or disables the judge, redirects",
    "projects/<int:project_id>/judges/budget/": "POST only: sets the monthly judge budget and redirects",
    "judge-runs/<int:run_id>/resume/": "POST only: resumes a run stopped at its budget and redirects",
    "projects/<int:project_id>/dashboard/audit/": (
        "POST only: draws the audit sample and redirects to the dashboard (posted by the sweep, which lands there)"
    ),
    "projects/<int:project_id>/dashboard/routing/": (
        "POST only: chooses the routing threshold and redirects to the dashboard (posted by the sweep)"
    ),
    "projects/<int:project_id>/settings/policy/posterior-fit/": (
        "POST only: fits the posterior rule and redirects to the policy page, which the sweep visits"
    ),
}


def _judge_visits(world: World, typed) -> list[Visit]:
    """The judge form: add, edit (the hostile judge), both refused with hostile fields typed back,
    and its test (a POST that renders the page: the refusal names the hostile base URL)."""
    t, j = world.tasks.pk, world.judge.pk
    hostile = {
        f"[name={name}]": typed(f"judge_form.{name}")
        for name in ("name", "model", "base_url", "temperature", "samples", "system_prompt", "provider")
    }
    return [
        Visit(f"/projects/{t}/judges/new/", "manager"),
        Visit(
            f"/projects/{t}/judges/new/",
            "manager",
            action="form",
            form="form.manage-form",
            fill=hostile,
            statuses=(400,),
        ),
        Visit(f"/projects/{t}/judges/{j}/edit/", "manager"),
        Visit(
            f"/projects/{t}/judges/{j}/edit/",
            "manager",
            action="form",
            form="form.manage-form",
            fill=hostile,
            statuses=(400,),
        ),
        Visit(
            f"/projects/{t}/judges/{j}/edit/",
            "manager",
            action="form",
            form="form[action$='/test/']",
            lands="projects/<int:project_id>/judges/<int:judge_id>/test/",
        ),
    ]


def manage_visits(world: World) -> list[Visit]:
    c, m = world.corpus, world.manage
    t = world.tasks.pk
    disputed, rejected, skipped = (world.items[k].pk for k in ("disputed", "rejected", "skipped"))
    own, v2 = m["own_rubric"], m["v2"]
    r = v2.rubric_id

    def typed(name: str) -> str:
        return c.text(f"typed.{name}", markdown=False)

    external = Rater.objects.filter(project=world.tasks).values_list("pk", flat=True).first()
    hostile_query = "&".join(
        f"{name}={quote(typed('items.' + name))}" for name in ("q", "status", "bucket", "rater", "judge", "sort")
    )
    return [
        Visit(f"/projects/{t}/settings/", "manager"),
        Visit("/projects/new/", "manager"),
        Visit("/projects/new/", "staff"),
        Visit(
            "/projects/new/",
            "manager",
            action="form",
            form="form.manage-form",
            fill={
                "[name=name]": typed("project_new.name"),
                "[name=guidelines]": c.text("typed.project_new.guidelines"),
                "[name=annotations_per_item]": typed("project_new.overlap"),
                "[name=lease_minutes]": typed("project_new.lease"),
            },
            statuses=(400,),
        ),
        Visit(f"/projects/{t}/members/", "manager"),
        Visit(
            f"/projects/{t}/members/",
            "manager",
            action="form",
            form="form:has(input[name=invitee])",
            fill={"[name=invitee]": typed("members.invitee")},
            statuses=(400,),
        ),
        Visit("/invitations/", "outsider"),
        Visit(f"/projects/{t}/rubric/", "manager"),
        Visit(f"/projects/{t}/rubric/?version={v2.pk}", "manager"),  # the confirmation, what happens
        Visit(
            f"/projects/{t}/rubric/?version={v2.pk}",
            "manager",
            action="form",
            form="form:has(input[name=confirm])",
            fill={"[name=version]": typed("rubric_pin.version")},
            statuses=(400,),
        ),
        Visit(f"/projects/{t}/import/", "manager"),  # recent uploads: the hostile file and its rows
        Visit(f"/projects/{t}/import/", "manager", action="import-upload"),
        Visit(f"/projects/{t}/import/{m['job'].pk}/", "manager", content_type="application/json"),
        Visit(f"/projects/{t}/items/", "reviewer"),
        Visit(f"/projects/{t}/items/?rater={external}", "manager"),
        Visit(f"/projects/{t}/items/?{hostile_query}", "reviewer", statuses=(200, 400)),
        Visit(f"/projects/{t}/items/{disputed}/", "manager"),  # every rater, history, review request
        Visit(f"/projects/{t}/items/{rejected}/", "reviewer"),
        Visit(
            f"/projects/{t}/items/{skipped}/",
            "manager",
            action="form",
            form="form:has(input[value=send_to_review])",
            fill={"[name=reason]": c.text("typed.item.send_to_review")},  # done: the reason in the history
        ),
        Visit(
            f"/projects/{t}/items/{disputed}/",
            "reviewer",
            action="form",
            form="form:has(input[value=reject])",
            fill={"[name=action]": typed("item.action"), "[name=reason]": typed("item.reason")},
            statuses=(400,),
        ),
        Visit(f"/projects/{t}/settings/policy/", "manager"),
        Visit(
            f"/projects/{t}/settings/policy/",
            "manager",
            action="form",
            form="#policy-form",
            fill={
                "[name=majority_threshold]": typed("policy.majority"),
                "[name=numeric_tolerance]": "7",
                "[name=trust_min_items]": typed("policy.min_items"),
                "[name=slice_by]": typed("policy.slice_by"),
                "[name=action]": "preview",
            },
            statuses=(400,),
        ),
        Visit(
            f"/projects/{t}/settings/policy/",
            "manager",
            action="form",
            form="#policy-form",
            fill={"[name=majority_threshold]": "0.6", "[name=action]": "preview"},  # the preview itself
        ),
        Visit(f"/projects/{t}/export/", "manager"),
        Visit(f"/projects/{t}/export/?since=" + quote(typed("export.since_query")), "manager"),
        Visit(
            f"/projects/{t}/export/",
            "manager",
            action="form",
            form="#export-form",
            fill={"[name=since]": typed("export.since")},
            statuses=(400,),
        ),
        *_judge_visits(world, typed),
        # The dashboard's triage forms: each redirects back with its message (a refused size, the
        # threshold or why there is none) beside the estimate and the trade-off.
        Visit(
            f"/projects/{t}/dashboard/",
            "manager",
            action="form",
            form="[data-role=audit-form]",
            fill={"[name=size]": typed("audit.size")},
        ),
        Visit(f"/projects/{t}/dashboard/", "manager", action="form", form="[data-role=routing-form]"),
        Visit(f"/projects/{t}/dashboard/", "reviewer"),
        Visit("/rubrics/", "manager"),
        Visit("/rubrics/", "staff"),
        Visit("/rubrics/new/", "manager"),
        Visit(f"/rubrics/new/?template={template_list()[0]['key']}", "manager"),  # a template as the start
        Visit(
            "/rubrics/new/",
            "manager",
            action="form",
            form="#builder",
            fill={
                "[name=name]": typed("builder.new.name"),
                "[name=instructions]": c.text("typed.builder.new.instructions"),
                "[data-role=title]": typed("builder.new.title"),
                "[data-role=key]": typed("builder.new.key"),
            },
            statuses=(400,),
        ),
        Visit(f"/rubrics/{own.rubric_id}/v/{own.number}/", "manager"),  # the manager's own draft
        Visit(f"/rubrics/{own.rubric_id}/v/{own.number}/", "manager", action="builder-input"),
        Visit(
            f"/rubrics/{own.rubric_id}/v/{own.number}/",
            "manager",
            action="form",
            form="#builder",
            fill={"[data-role=key]": typed("builder.key"), "[data-role=title]": typed("builder.title")},
            statuses=(400,),
        ),
        Visit(f"/rubrics/{r}/v/{v2.number}/", "staff"),  # the draft version 2, editable by staff
        Visit(f"/rubrics/{r}/v/{v2.number}/", "manager"),  # ... read-only for the manager
        Visit(f"/rubrics/{r}/v/1/", "manager"),  # frozen
        Visit(f"/rubrics/{r}/diff/?from=1&to={v2.number}", "manager"),
        Visit(f"/rubrics/{r}/diff/?from=" + quote(typed("diff.from")), "manager"),
    ]
