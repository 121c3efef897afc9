"""The pages the XSS sweep of tests/browser/test_xss_corpus.py visits, and the routes it leaves out
(NOT_PAGES, each with its reason)."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiToken
from tests.browser.xss_pages_manage import NOT_PAGES_MANAGE, manage_visits
from tests.browser.xss_payloads import payload
from tests.browser.xss_visit import Visit, route_of
from tests.browser.xss_world import World

__all__ = ["NOT_PAGES", "Visit", "all_routes", "all_visits", "route_of"]

# Routes that are not pages a browser renders, with the reason. Everything else must be visited.
NOT_PAGES = {
    "accounts/logout/": "POST only: logs out and redirects",
    "account/revoke/": "POST only: ends every token and session, logs out and redirects",
    "account/tokens/<int:token_id>/revoke/": "POST only: revokes a token and redirects",
    "admin/logout/": "POST only: logs out and redirects",
    "projects/<int:project_id>/annotate/<int:item_id>/skip/": "POST only: records the skip and redirects",
    "projects/<int:project_id>/annotate/<int:item_id>/unskip/": "POST only: takes the skip back and redirects",
    "projects/<int:project_id>/review/<int:item_id>/send-back/": "POST only: sends the item back and redirects",
    "projects/<int:project_id>/judges/<int:judge_id>/run/": "POST only: starts a judge run and redirects",
    "admin/jsi18n/": "JavaScript catalogue, no user data",
    "admin/autocomplete/": "JSON for autocomplete widgets (no model declares autocomplete_fields)",
    "admin/r/<path:content_type_id>/<path:object_id>/": "view-on-site redirect (no model has get_absolute_url)",
    "admin/(?P<url>.*)$": "catch-all that redirects or answers 404",
    "api/schema/": "OpenAPI YAML, not HTML (checked below: never served as text/html)",
    "api/v1/projects/<int:project_id>/export/": "a download (JSON Lines / CSV / Parquet), not HTML",
    "api/v1/export-snapshots/<int:snapshot_id>/download/": "a download, not HTML",
    **NOT_PAGES_MANAGE,
}


def admin_visits(world: World) -> list[Visit]:
    objects = {
        "auth.user": world.users["annotator"],
        "auth.group": Group.objects.first(),
    }
    visits = [
        Visit("/admin/", "staff"),
        Visit("/admin/password_change/", "staff"),
        Visit("/admin/password_change/done/", "staff"),
        Visit("/admin/login/", "staff"),
        Visit("/admin/rubrics/rubric/from-template/", "staff"),
        Visit(f"/admin/auth/user/{world.users['annotator'].pk}/password/", "staff"),
    ]
    for model, _model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        visits.append(Visit(f"/admin/{opts.app_label}/", "staff"))
        visits.append(Visit(base, "staff"))
        visits.append(Visit(base + "?q=" + quote(payload(0, "admin.search")), "staff"))
        visits.append(Visit(base + "add/", "staff", statuses=(200, 403)))
        obj = objects.get(opts.label_lower) or model._default_manager.order_by("-pk").first()
        assert obj is not None, f"the hostile world has no {opts.label}: add one so its admin pages are swept"
        pk = quote(str(obj.pk))
        for suffix in ("", "change/", "history/", "delete/"):
            visits.append(Visit(f"{base}{pk}/{suffix}", "staff", statuses=(200, 403)))
    return visits


def api_visits(world: World) -> list[Visit]:
    """Every API route, opened in the browser as the hostile staff user: JSON, never an HTML page
    (the browsable API is off: config/settings.py REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"])."""
    ids = {
        "project_id": world.tasks.pk,
        "item_id": world.items["disputed"].pk,
        "judge_id": world.judge.pk,
        "run_id": world.run.pk,
        "snapshot_id": world.snapshot.pk,
        "rubric_id": world.rubric_version.rubric_id,
        "number": world.rubric_version.number,
        "user_id": world.users["annotator"].pk,
        "invitation_id": world.manage["invitation"].pk,
        "token_id": ApiToken.objects.filter(user=world.users["staff"]).values_list("pk", flat=True).first(),
    }
    visits = []
    for route in all_routes():
        if not route.startswith("api/v1/") or route in NOT_PAGES:
            continue
        path = "/" + re.sub(r"<(?:int:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)
        # The health probe answers 503 when the broker is unreachable, which says nothing about XSS.
        statuses = (200, 503) if route == "api/v1/health/" else (200, 400, 405, 409)
        if route == "api/v1/items/<int:item_id>/ratings/mine/":
            statuses = (404,)  # staff has not rated: annotator2's own rating and history are visited below
        visits.append(Visit(path, "staff", statuses=statuses, content_type="application/json"))
    visits.append(
        Visit(f"/api/v1/projects/{world.traces.pk}/reports/failure-modes/", "manager", content_type="application/json")
    )
    visits.append(Visit(f"/api/v1/items/{world.items['open'].pk}/draft/", "annotator", content_type="application/json"))
    # The outsider's own invitations: hostile project names, invited by the hostile manager.
    visits.append(Visit("/api/v1/invitations/", "outsider", content_type="application/json"))
    mine = f"/api/v1/items/{world.items['disputed'].pk}/ratings/mine/"
    visits.append(Visit(mine, "annotator2", content_type="application/json"))
    return visits


def site_visits(world: World) -> list[Visit]:
    t, tr, e = world.tasks.pk, world.traces.pk, world.empty.pk
    hostile_next = quote(payload(4, "login.next"))
    return [
        Visit("/", "annotator"),
        Visit("/", "manager"),
        Visit("/", "staff"),
        Visit(f"/projects/{t}/annotate/", "annotator"),
        Visit(f"/projects/{t}/annotate/", "annotator", action="annotate-submit", statuses=(400,)),
        Visit(f"/projects/{e}/annotate/", "annotator"),  # nothing left: queue_empty.html
        # annotator2's corrected rating of the disputed item: the form, its history, the recent list.
        Visit(f"/projects/{t}/annotate/{world.items['disputed'].pk}/", "annotator2"),
        Visit(
            f"/projects/{t}/annotate/{world.items['disputed'].pk}/",
            "annotator2",
            action="annotate-submit",
            statuses=(400,),
        ),
        Visit(f"/projects/{t}/annotate/{world.items['skipped'].pk}/", "annotator2"),  # the skip and its reason
        Visit(f"/projects/{t}/annotate/{world.items['skipped'].pk}/", "annotator"),  # sent back, with a note
        Visit(f"/projects/{t}/review/", "reviewer"),
        Visit(f"/projects/{t}/review/", "reviewer", action="review-submit", statuses=(400,)),
        Visit(f"/projects/{t}/review/", "outsider", statuses=(403,)),  # 403.html
        Visit(f"/projects/{t}/dashboard/", "manager"),
        Visit(f"/projects/{t}/tasks/", "reviewer"),
        Visit(f"/projects/{t}/tasks/?bucket=rejected", "reviewer"),
        Visit(f"/projects/{t}/tasks/?bucket=undecided&page=" + quote(payload(1, "tasks.page")), "reviewer"),
        Visit(f"/projects/{tr}/report/", "manager"),
        Visit(f"/judge-runs/{world.run.pk}/", "manager"),
        Visit(f"/judge-runs/{world.run.pk}/verdicts/", "manager"),
        Visit(f"/projects/{t}/judges/", "manager"),
        Visit(f"/accounts/login/?next={hostile_next}", None),
        Visit("/accounts/login/", None, action="login-fail"),
        Visit("/account/", "annotator"),
        Visit("/accounts/password_change/", "annotator"),
        Visit("/accounts/password_change/done/", "annotator"),
        Visit("/accounts/password_reset/", None),
        Visit("/accounts/password_reset/done/", None),
        Visit("/accounts/reset/" + quote(payload(2, "reset.uid"), safe="") + "/set-password/", None),
        Visit("/accounts/reset/done/", None),
        Visit("/api/docs/", "annotator"),
        Visit(
            "/api/docs/?url="
            + quote("javascript:__xss('swagger.url')")
            + "&configUrl="
            + quote("/xss-canary/swagger.config"),
            "annotator",
        ),
    ]


def all_visits(world: World) -> list[Visit]:
    return site_visits(world) + manage_visits(world) + admin_visits(world) + api_visits(world)


def _routes(resolver: URLResolver, prefix: str = ""):
    # Joined as ResolverMatch.route joins them (a nested regex loses its leading ^).
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern).removeprefix("^") if prefix else str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def all_routes() -> list[str]:
    return sorted(set(_routes(get_resolver())))
