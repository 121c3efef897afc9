"""Stored and reflected XSS: a corpus of hostile payloads in every field a user or a model can write,
and every page of the site rendered in headless Chromium.

Each payload calls ``window.__xss(tag)`` (defined by an init script, so calls are counted even on
pages that have no script of their own), opens a dialog, or loads ``/xss-canary/<tag>`` (counted
by a route handler); the tag names the field and the payload, so a finding says where it came
from. Every page can be checked twice (`make xss`; `make test` runs the second only): with the
Content-Security-Policy enforced (a payload that
reached the DOM as markup shows up as a CSP violation) and with it bypassed (the escaping and the
Markdown sanitiser must hold on their own). Each page's DOM is also searched for what escaping
must never let through: ``on*`` attributes, ``javascript:`` / ``data:text/html`` URLs, inline
scripts, frames, objects, ``<base>`` and ``<meta http-equiv>``.

The sweep is complete by construction: ``test_the_sweep_covers_every_page_of_the_urlconf`` walks
``django.urls.get_resolver()`` and fails on any route the sweep neither visits nor lists in
``NOT_PAGES`` with a reason.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.models import Item, ItemStatus, Role, Skip
from annotation.selectors import rater_for_user
from annotation.services.drafts import draft_save
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.queue import assignment_claim_next
from annotation.services.ratings import rating_submit
from annotation.services.review import gold_set
from exports.models import ExportSnapshot
from judges.models import JudgeRun, JudgeSample, JudgeVerdict, JudgeVersion, Outcome, RunStatus
from judges.services.judges import judge_create
from quality.services.approval import item_reject
from rubrics.services import rubric_create

pytestmark = [pytest.mark.browser]

# --- the corpus --------------------------------------------------------------------------------
# ``{t}`` is replaced by a tag naming the field and the payload. Tags are [A-Za-z0-9_.-] only.
PAYLOADS = [
    '<script>__xss("{t}")</script>',
    "<img src=x onerror=__xss('{t}')>",
    "<svg onload=__xss('{t}')>",
    "<svg><script>__xss('{t}')</script></svg>",
    '"><img src=x onerror=__xss("{t}")>',  # breaks out of a double-quoted attribute
    "'><svg onload=__xss('{t}')>",  # ... of a single-quoted one
    "</textarea><script>__xss('{t}')</script>",
    "</script><script>__xss('{t}')</script>",  # a closing </script> inside JSON
    "<iframe src=/xss-canary/{t}></iframe>",
    "<a href=\"javascript:__xss('{t}')\">link {t}</a>",
    "[md link {t}](javascript:__xss('{t}'))",
    "[md entity {t}](&#106;avascript:__xss('{t}'))",
    "![md img {t}](x\" onerror=\"__xss('{t}'))",
    "<javascript:__xss('{t}')>",  # Markdown autolink
    "[md ref {t}][r-{t}]\n\n[r-{t}]: javascript:__xss('{t}')\n",
    "```js\" onmouseover=\"__xss('{t}')\n{t}\n```\n",  # fence language breaking the class attribute
    '<a href="data:text/html,<script>__xss(1)</script>">data {t}</a>',
    "<details open ontoggle=__xss('{t}')>",
    "<math><mtext><table><mglyph><style><img src=x onerror=__xss('{t}')>",  # mutation XSS
    "<noscript><p title=\"</noscript><img src=x onerror=__xss('{t}')>\">",
    "<!--<img src=\"--><img src=x onerror=__xss('{t}')//\">",
    "<form action=\"javascript:__xss('{t}')\"><button formaction=\"javascript:__xss('{t}')\">go</button></form>",
    "<meta http-equiv=refresh content=\"0;url=javascript:__xss('{t}')\">",
    "<base href=/xss-canary/{t}/><object data=/xss-canary/{t}></object><embed src=/xss-canary/{t}>",
    "<style>@import '/xss-canary/{t}';</style>",
    '{{ "{t}"|upper }}{% debug %}{{ constructor.constructor("__xss(\'{t}\')")() }}',  # template engines
    "javascript:__xss('{t}')",  # bare, for URL-ish fields and linkifiers
    "\uff1cscript\uff1e__xss('{t}')\uff1c/script\uff1e \u202e{t}\u202c \u2028\u2029",  # look-alikes, RLO, LS/PS
]
TEMPLATE_PAYLOAD = next(i for i, p in enumerate(PAYLOADS) if "|upper" in p)


def payload(index: int, tag: str) -> str:
    return PAYLOADS[index].replace("{t}", tag)


@dataclass
class Corpus:
    """What was planted where: ``planted[field] = [tags]``."""

    planted: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str, *, limit: int | None = None, markdown: bool = True) -> str:
        """Every payload that fits in ``limit`` characters, tagged ``name.<index>``."""
        parts, tags = ["**hostile**" if markdown else "hostile"], []
        for i in range(len(PAYLOADS)):
            tag = f"{name}.{i}"
            piece = payload(i, tag)
            if limit is not None and len(" ".join([*parts, piece])) > limit:
                continue
            parts.append(piece)
            tags.append(tag)
        self.planted.setdefault(name, []).extend(tags)
        return "\n".join(parts) if markdown else " ".join(parts)

    def one(self, name: str, index: int) -> str:
        tag = f"{name}.{index}"
        self.planted.setdefault(name, []).append(tag)
        return payload(index, tag)

    @property
    def count(self) -> int:
        return sum(len(tags) for tags in self.planted.values())


# --- the hostile world -------------------------------------------------------------------------


@dataclass
class World:
    corpus: Corpus
    users: dict
    tasks: object  # project of tasks (acceptance rubric)
    traces: object  # project of agent traces whose tasks_project is ``tasks``
    empty: object  # a project with nothing left to annotate
    items: dict
    judge: object
    run: object
    snapshot: object
    rubric_version: object
    tokens: list[str]


def _user(corpus: Corpus, name: str, index: int, **extra):
    # Usernames with markup cannot be made through the API or the admin (Django's username
    # validator); they are written straight to the table here, as an SSO back end or a future
    # form could, so that the pages are tested on what the column can hold.
    user = get_user_model().objects.create_user(
        username=corpus.one(f"user.{name}", index)[:150],
        password="correct-horse-battery",
        email=f"{name}@example.org",
        first_name=corpus.one(f"user.{name}.first_name", index)[:150],
        last_name=corpus.one(f"user.{name}.last_name", (index + 1) % len(PAYLOADS))[:150],
        **extra,
    )
    return user


def _all_shapes(corpus: Corpus, item: str) -> dict:
    """Item data with every shape item_display knows: text, Markdown, code, chat, trace, JSON, task."""
    c = corpus
    return {
        "instruction": c.text(f"{item}.instruction", markdown=False),  # plain text
        "prompt": c.text(f"{item}.prompt"),  # Markdown
        "context": c.text(f"{item}.context", markdown=False),
        "messages": [
            {"role": c.one(f"{item}.messages.role", 1), "content": c.text(f"{item}.messages.content")},
            {
                "role": "assistant",
                "content": c.text(f"{item}.messages.content2", markdown=False),
                "name": c.text(f"{item}.messages.extra", markdown=False),
            },
            {"role": "user", "content": {"nested": c.text(f"{item}.messages.json", markdown=False)}},
        ],
        "response": c.text(f"{item}.response"),
        "trace": [
            {"kind": "thought", "content": c.text(f"{item}.trace.thought")},
            {
                "kind": "tool_call",
                "name": c.one(f"{item}.trace.tool_name", 0),
                "args": {"cmd": c.text(f"{item}.trace.args", markdown=False)},
            },
            {"kind": "tool_call", "name": "bash", "args": c.text(f"{item}.trace.args_text", markdown=False)},
            {
                "kind": "tool_output",
                "name": c.one(f"{item}.trace.output_name", 2),
                "content": c.text(f"{item}.trace.output", markdown=False),
            },
            {"kind": c.one(f"{item}.trace.kind", 3), "content": c.text(f"{item}.trace.unknown_kind")},
            c.text(f"{item}.trace.bare_step", markdown=False),
        ],
        "solution": c.text(f"{item}.solution", markdown=False),  # code by field name
        "tests": c.text(f"{item}.tests", markdown=False),
        "environment": "FROM python:3.12\n" + c.text(f"{item}.environment", markdown=False),
        "diff": "diff --git a/x b/x\n" + c.text(f"{item}.diff", markdown=False),
        "code_guess": "def f():\n    return 1\nimport os\n" + c.text(f"{item}.code_guess", markdown=False),
        c.one(f"{item}.key", 4): c.text(f"{item}.hostile_key_value"),  # a hostile field name
        "nested": {"deep": [c.text(f"{item}.nested", markdown=False), 1, None, True]},
        "scalar": 3,
    }


def world_build() -> World:
    corpus = Corpus()
    c = corpus
    staff = _user(c, "staff", 0, is_staff=True, is_superuser=True)
    users = {"staff": staff}
    for i, role in enumerate(("manager", "reviewer", "annotator", "annotator2", "outsider"), start=1):
        users[role] = _user(c, role, i)
    criteria = [
        {
            "key": "works",
            "title": c.text("criterion.title.works", limit=200, markdown=False),
            "description": c.text("criterion.description.works"),
            "scale": {
                "kind": "binary",
                "labels": {"true": c.text("criterion.anchor.true"), "false": c.text("criterion.anchor.false")},
            },
        },
        {
            "key": "quality",
            "title": c.text("criterion.title.quality", limit=200, markdown=False),
            "description": c.text("criterion.description.quality"),
            "rationale_required": True,
            "scale": {
                "kind": "ordinal",
                "min": 1,
                "max": 3,
                "labels": {str(n): c.text(f"criterion.anchor.{n}") for n in (1, 2, 3)},
            },
        },
        {
            "key": "rejection_reason",
            "title": "Rejection reason",
            "required": False,
            "scale": {
                "kind": "categorical",
                "choices": [c.one("criterion.choice.reason", i) for i in range(len(PAYLOADS))],
            },
        },
        {
            "key": "failure_mode",
            "title": "Failure mode",
            "required": False,
            "scale": {
                "kind": "categorical",
                "choices": [c.one("criterion.choice.mode", i) for i in range(len(PAYLOADS))],
            },
        },
        {
            "key": "score",
            "title": "Score",
            "required": False,
            "scale": {"kind": "interval", "min": 0, "max": 10, "labels": {"0": c.text("criterion.interval_anchor")}},
        },
        {
            "key": "cost",
            "title": "Cost",
            "required": False,
            "scale": {"kind": "ratio", "unit": c.text("criterion.unit", markdown=False)},
        },
        {
            "key": "notes",
            "title": c.text("criterion.title.notes", limit=200, markdown=False),
            "required": False,
            "scale": {"kind": "text"},
        },
    ]
    version = rubric_create(
        actor=staff,
        name=c.text("rubric.name", limit=200, markdown=False),
        instructions=c.text("rubric.instructions"),
        criteria=criteria,
    )
    reason = version.criteria.get(key="rejection_reason").scale["choices"]
    # An anchor per categorical choice, on the first choices (labels are keyed by the choice).
    criterion = version.criteria.get(key="rejection_reason")
    criterion.scale["labels"] = {choice: c.text(f"criterion.choice_anchor.{i}") for i, choice in enumerate(reason[:3])}
    criterion.save(update_fields=["scale"])
    modes = version.criteria.get(key="failure_mode").scale["choices"]

    tasks = project_create(
        actor=users["manager"],
        name=c.text("project.name", limit=200, markdown=False),
        rubric=version,
        guidelines=c.text("project.guidelines"),
        annotations_per_item=3,
    )
    traces = project_create(
        actor=users["manager"],
        name=c.text("project.traces.name", limit=200, markdown=False),
        rubric=version,
        guidelines=c.text("project.traces.guidelines"),
        tasks_project=tasks,
    )
    empty = project_create(
        actor=users["manager"],
        name=c.text("project.empty.name", limit=200, markdown=False),
        rubric=version,
    )
    # More project names: the home page lists them all.
    for i in range(len(PAYLOADS)):
        project_create(actor=users["manager"], name=c.one("project.name.each", i), rubric=version)
    for project in (tasks, traces, empty):
        membership_set(project=project, user=users["reviewer"], role=Role.REVIEWER)
        membership_set(project=project, user=users["annotator"], role=Role.ANNOTATOR)
        membership_set(project=project, user=users["annotator2"], role=Role.ANNOTATOR)

    external = [c.text(f"item.external_id.{n}", limit=255, markdown=False) for n in range(5)]
    items_import(
        project=tasks,
        rows=[
            {
                "external_id": external[n],
                "data": _all_shapes(c, f"item{n}"),
                "metadata": {"note": c.text(f"item{n}.metadata", markdown=False), "pass_rate": 0.5, "tool_calls": 3},
            }
            for n in range(5)
        ],
    )
    items_import(
        project=traces,
        rows=[
            {
                "external_id": c.one("trace.external_id", i),
                "metadata": {"pass_rate": 1, "output_tokens": 10},
                "data": {
                    "task": external[2 + i % 2],
                    "trace": [{"kind": "thought", "content": c.text(f"trace{i}.thought")}],
                },
            }
            for i in range(len(PAYLOADS))
        ],
    )
    disputed, open_item, accepted, rejected, skipped = (tasks.items.get(external_id=e) for e in external)

    # Two people and a judge disagree on ``disputed``: it is on the review page.
    for person, quality in ((users["annotator"], 1), (users["annotator2"], 3)):
        assignment_claim_next(project=tasks, user=person)
        rating_submit(
            item=disputed,
            rater=rater_for_user(user=person),
            values={
                "works": quality == 3,
                "quality": quality,
                "rejection_reason": reason[quality],
                "notes": c.text(f"rating.text_value.{person.pk}"),
            },
            rationales={"quality": c.text(f"rating.rationale.{person.pk}")},
        )
    judge = judge_create(
        actor=users["manager"],
        project=tasks,
        name=c.text("judge.name", limit=150, markdown=False),
        provider="openai_compatible",
        model=c.text("judge.model", limit=200, markdown=False),
        base_url="http://127.0.0.1:9/v1",
        system_prompt=c.text("judge.system_prompt"),
    )
    version_row = judge.current_version()
    # A URL the API refuses (judges.services.judges checks base_url), written straight to the row.
    JudgeVersion.objects.filter(pk=version_row.pk).update(base_url=c.one("judge.base_url", 4))
    judge_rating = rating_submit(
        item=disputed,
        rater=version_row.rater,
        source="judge",
        values={"works": True, "quality": 2},
        rationales={"quality": c.text("judge.rationale")},
    )
    run = JudgeRun.objects.create(
        project=tasks,
        judge_version=version_row,
        rubric_version=version,
        status=RunStatus.FAILED,
        items_selector="all",
        total=1,
        error=c.text("judge_run.error", markdown=False),
        created_by=users["manager"],
    )
    JudgeSample.objects.create(
        item=disputed,
        judge_version=version_row,
        rubric_version=version,
        sample_index=0,
        run=run,
        outcome=Outcome.OK,
        rationales={"quality": c.text("judge_sample.rationale")},
        raw_output=c.text("judge_sample.raw_output", markdown=False),
        reason=c.text("judge_sample.reason"),
    )
    JudgeVerdict.objects.create(
        item=disputed,
        judge_version=version_row,
        rubric_version=version,
        run=run,
        outcome=Outcome.OK,
        rating=judge_rating,
        reason=c.text("judge_verdict.reason"),
    )
    # A failed verdict: its reason is listed on the run page ("why items were not rated").
    JudgeVerdict.objects.create(
        item=open_item,
        judge_version=version_row,
        rubric_version=version,
        run=run,
        outcome=Outcome.FAILED,
        reason=c.text("judge_verdict.failed_reason"),
    )
    Item.objects.filter(pk=disputed.pk).update(
        status=ItemStatus.NEEDS_REVIEW, decision_reason=c.text("item.decision_reason")
    )

    # The annotator's open item, with a hostile draft restored into the form.
    lease = assignment_claim_next(project=tasks, user=users["annotator"])
    assert lease is not None and lease.item_id == open_item.pk, "the annotator must be offered open_item"
    draft_save(
        item=open_item,
        user=users["annotator"],
        seconds_spent=3,
        values={"notes": c.text("draft.text_value")},
        rationales={"quality": c.text("draft.rationale"), "works": c.text("draft.rationale2")},
    )

    # Decided tasks: accepted (with gold) and rejected, so the tasks page has both buckets.
    gold_set(
        item=accepted,
        reviewer=users["reviewer"],
        values={"works": True, "quality": 3},
        rationales={"quality": c.text("gold.rationale")},
        note=c.text("gold.note"),
    )
    Item.objects.filter(pk=accepted.pk).update(
        status=ItemStatus.APPROVED,
        approved_by="reviewer",
        decided_at=timezone.now(),
        consensus={"works": True, "quality": 3},
        decision_reason=c.text("item.decision_reason.accepted"),
    )
    Item.objects.filter(pk=rejected.pk).update(consensus={"works": False, "rejection_reason": reason[5]})
    item_reject(item=rejected, actor=users["manager"], reason=c.text("item.reject_reason"))
    Skip.objects.create(
        project=tasks, item=skipped, user=users["annotator2"], reason=c.text("skip.reason", limit=500, markdown=False)
    )
    for i, trace in enumerate(traces.items.order_by("id")):
        Item.objects.filter(pk=trace.pk).update(
            status=ItemStatus.APPROVED, approved_by="consensus", consensus={"failure_mode": modes[i % len(modes)]}
        )

    snapshot = ExportSnapshot.objects.create(
        project=tasks,
        requested_by=users["manager"],
        format="jsonl",
        params={},
        status="failed",
        error=c.text("export_snapshot.error", markdown=False),
    )
    Group.objects.create(name=c.text("group.name", limit=150, markdown=False))
    tokens = [Token.objects.get_or_create(user=u)[0].key for u in users.values()]
    return World(
        corpus=corpus,
        users=users,
        tasks=tasks,
        traces=traces,
        empty=empty,
        items={"disputed": disputed, "open": open_item, "accepted": accepted, "rejected": rejected, "skipped": skipped},
        judge=judge,
        run=run,
        snapshot=snapshot,
        rubric_version=version,
        tokens=tokens,
    )


# --- the pages ---------------------------------------------------------------------------------


@dataclass
class Visit:
    path: str
    user: str | None  # key of World.users, or None for anonymous
    action: str = ""  # "" (just load) | "annotate-submit" | "review-submit" | "login-fail"
    content_type: str = "text/html"
    statuses: tuple[int, ...] = (200,)
    covers: str = ""  # the route of the page an action renders (a form's POST target), if not path's

    @property
    def route(self) -> str:
        return self.covers or route_of(self.path)


# Routes that are not pages a browser renders, with the reason. Everything else must be visited.
NOT_PAGES = {
    "accounts/logout/": "POST only: logs out and redirects",
    "admin/logout/": "POST only: logs out and redirects",
    "projects/<int:project_id>/annotate/<int:item_id>/skip/": "POST only: records the skip and redirects",
    "projects/<int:project_id>/judges/<int:judge_id>/run/": "POST only: starts a judge run and redirects",
    "admin/jsi18n/": "JavaScript catalogue, no user data",
    "admin/autocomplete/": "JSON for autocomplete widgets (no model declares autocomplete_fields)",
    "admin/r/<path:content_type_id>/<path:object_id>/": "view-on-site redirect (no model has get_absolute_url)",
    "admin/(?P<url>.*)$": "catch-all that redirects or answers 404",
    "api/schema/": "OpenAPI YAML, not HTML (checked below: never served as text/html)",
    "api/v1/projects/<int:project_id>/export/": "a download (JSON Lines / CSV / Parquet), not HTML",
    "api/v1/export-snapshots/<int:snapshot_id>/download/": "a download, not HTML",
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
    }
    visits = []
    for route in all_routes():
        if not route.startswith("api/v1/") or route in NOT_PAGES:
            continue
        path = "/" + re.sub(r"<(?:int:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)
        # The health probe answers 503 when the broker is unreachable, which says nothing about XSS.
        statuses = (200, 503) if route == "api/v1/health/" else (200, 400, 405, 409)
        visits.append(Visit(path, "staff", statuses=statuses, content_type="application/json"))
    visits.append(
        Visit(f"/api/v1/projects/{world.traces.pk}/reports/failure-modes/", "manager", content_type="application/json")
    )
    visits.append(Visit(f"/api/v1/items/{world.items['open'].pk}/draft/", "annotator", content_type="application/json"))
    return visits


def site_visits(world: World) -> list[Visit]:
    t, tr, e = world.tasks.pk, world.traces.pk, world.empty.pk
    hostile_next = quote(payload(4, "login.next"))
    return [
        Visit("/", "annotator"),
        Visit("/", "manager"),
        Visit("/", "staff"),
        Visit(f"/projects/{t}/annotate/", "annotator"),
        Visit(
            f"/projects/{t}/annotate/",
            "annotator",
            action="annotate-submit",
            statuses=(400,),
            covers="projects/<int:project_id>/annotate/<int:item_id>/submit/",
        ),
        Visit(f"/projects/{e}/annotate/", "annotator"),  # nothing left: queue_empty.html
        Visit(f"/projects/{t}/review/", "reviewer"),
        Visit(
            f"/projects/{t}/review/",
            "reviewer",
            action="review-submit",
            statuses=(400,),
            covers="projects/<int:project_id>/review/<int:item_id>/",
        ),
        Visit(f"/projects/{t}/review/", "outsider", statuses=(403,)),  # 403.html
        Visit(f"/projects/{t}/dashboard/", "manager"),
        Visit(f"/projects/{t}/tasks/", "reviewer"),
        Visit(f"/projects/{t}/tasks/?bucket=rejected", "reviewer"),
        Visit(f"/projects/{t}/tasks/?bucket=undecided&page=" + quote(payload(1, "tasks.page")), "reviewer"),
        Visit(f"/projects/{tr}/report/", "manager"),
        Visit(f"/judge-runs/{world.run.pk}/", "manager"),
        Visit(f"/projects/{t}/judges/", "manager"),
        Visit(f"/accounts/login/?next={hostile_next}", None),
        Visit("/accounts/login/", None, action="login-fail"),
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


def route_of(path: str) -> str:
    return resolve(path.split("?", 1)[0]).route


# --- the browser side --------------------------------------------------------------------------

RECORDER = """
window.__xssHits = [];
window.__xss = function (tag) { window.__xssHits.push(String(tag)); };
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""

DOM_SCAN = r"""() => {
  const found = [];
  const urlAttrs = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "poster", "background",
                            "ping", "srcdoc"]);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on")) found.push(`<${tag} ${name}="${a.value.slice(0, 80)}">`);
      if (urlAttrs.has(name) || name.endsWith(":href")) {
        const v = a.value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
        if (/^(javascript|vbscript|data:text\/html)/.test(v) || name === "srcdoc")
          found.push(`<${tag} ${name}="${a.value.slice(0, 80)}">`);
      }
    }
    if (["iframe", "frame", "object", "embed", "base", "applet", "portal"].includes(tag)) found.push(`<${tag}>`);
    if (tag === "meta" && el.hasAttribute("http-equiv")) found.push(`<meta http-equiv>`);
    if (tag === "script") {
      const type = (el.getAttribute("type") || "").toLowerCase();
      if (!el.src && type !== "application/json") found.push(`inline <script>${el.textContent.slice(0, 80)}`);
      if (el.src && new URL(el.src).origin !== location.origin) found.push(`foreign <script src=${el.src}>`);
    }
    if (tag === "style" && /xss/.test(el.textContent)) found.push(`<style>${el.textContent.slice(0, 80)}`);
  }
  return found;
}"""


@dataclass
class Findings:
    visits: int = 0
    executions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    canary: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    dom: list[str] = field(default_factory=list)
    template: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)


def _session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}


def _act(page, visit: Visit, world: World):
    """Load the page, or do the action that renders it; returns the last main-frame response."""
    if visit.action == "annotate-submit":
        page.goto(visit.path)
        # Typed text with no values picked: the page comes back with errors and the typed text.
        for box in page.locator("textarea").all():
            if box.is_enabled():
                box.fill(payload(6, "annotate.typed"))
        with page.expect_navigation() as nav:
            page.locator("#rating-form").evaluate("form => form.submit()")
        return nav.value
    if visit.action == "review-submit":
        page.goto(visit.path)
        form = page.locator("form.gold-form").first
        for box in form.locator("textarea").all():
            box.fill(payload(7, "review.typed"))
        form.locator("input[type=number]").first.fill("99999")  # out of range: refused, page re-rendered
        with page.expect_navigation() as nav:
            form.evaluate("form => form.submit()")
        return nav.value
    if visit.action == "login-fail":
        page.goto(visit.path)
        page.fill("input[name=username]", payload(4, "login.username"))
        page.fill("input[name=password]", "wrong")
        with page.expect_navigation() as nav:
            page.locator("form[action$='/login/'] button[type=submit]").click()
        return nav.value
    return page.goto(visit.path)


def sweep(browser, live_server, world: World, *, bypass_csp: bool) -> Findings:
    findings = Findings()
    visits = site_visits(world) + admin_visits(world) + api_visits(world)
    secrets = [settings.SECRET_KEY, *world.tokens]
    upper_tags = [
        t.upper() for tags in world.corpus.planted.values() for t in tags if t.endswith(f".{TEMPLATE_PAYLOAD}")
    ]
    contexts = {}
    try:
        for visit in visits:
            if visit.user not in contexts:
                context = browser.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
                context.add_init_script(RECORDER)
                if visit.user is not None:
                    context.add_cookies([_session_cookie(world.users[visit.user], live_server.url)])
                context.route(
                    lambda url: urlsplit(url).path.startswith("/xss-canary/"),
                    lambda route: (findings.canary.append(route.request.url), route.fulfill(status=204)),
                )
                contexts[visit.user] = context
            if visit.content_type != "text/html":
                # Not a page: fetched, not rendered; it must never come back as HTML.
                answer = contexts[visit.user].request.get(visit.path, headers={"Accept": "text/html,*/*;q=0.8"})
                findings.visits += 1
                findings.routes.add(visit.route)
                kind = answer.headers.get("content-type", "")
                if answer.status not in (*visit.statuses, 204) or (
                    answer.status != 204 and not kind.startswith(visit.content_type)
                ):
                    findings.errors.append(f"{visit.path}: {answer.status} {kind}, expected {visit.content_type}")
                if answer.headers.get("x-content-type-options") != "nosniff":
                    findings.errors.append(f"{visit.path}: no nosniff")
                findings.secrets += [
                    f"{visit.path}: a secret or API token" for s in secrets if s and s in answer.text()
                ]
                continue
            page = contexts[visit.user].new_page()
            page.set_default_timeout(15_000)
            page.on("dialog", lambda d: (findings.dialogs.append(f"{d.message}"), d.dismiss()))
            console: list[str] = []
            page.on("console", lambda m, console=console: console.append(m.text))
            response = _act(page, visit, world)
            where = f"{visit.path} as {visit.user} {visit.action}".strip()
            findings.visits += 1
            status = response.status if response else None
            if status not in visit.statuses:
                findings.errors.append(f"{where}: status {status}, expected {visit.statuses}")
            findings.routes.add(visit.route)
            if visit.covers and response is not None:
                assert route_of(urlsplit(response.url).path) == visit.covers, (response.url, visit.covers)
            content_type = (response.headers.get("content-type") or "") if response else ""
            if not content_type.startswith(visit.content_type):
                findings.errors.append(f"{where}: {content_type}, expected {visit.content_type}")
            with contextlib.suppress(Exception):  # a page that keeps polling (judge run) never idles
                page.wait_for_load_state("networkidle", timeout=5_000)
            for hit in page.evaluate("window.__xssHits || []"):
                findings.executions.append(f"{where}: {hit}")
            findings.csp += [f"{where}: {v}" for v in page.evaluate("window.__cspViolations || []")]
            findings.csp += [f"{where}: {m}" for m in console if "content security policy" in m.lower()]
            findings.dom += [f"{where}: {d}" for d in page.evaluate(DOM_SCAN)]
            html = page.content()
            findings.template += [f"{where}: {t}" for t in upper_tags if t in html]
            findings.secrets += [f"{where}: a secret or API token" for s in secrets if s and s in html]
            page.close()
    finally:
        for context in contexts.values():
            context.close()
    return findings


# Each sweep takes minutes, so `make test` runs one: with the CSP bypassed, escaping and nh3 must
# hold alone. `make xss` (ACCORD_XSS_CSP_MODES=enforced,bypassed) adds the sweep under the policy.
CSP_MODES = [m for m in os.environ.get("ACCORD_XSS_CSP_MODES", "bypassed").split(",") if m]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("csp", CSP_MODES)
def test_the_xss_corpus_executes_nothing_on_any_page(browser, live_server, csp, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    world = world_build()
    findings = sweep(browser, live_server, world, bypass_csp=csp == "bypassed")
    report = (
        f"XSS sweep (CSP {csp}): {len(PAYLOADS)} payloads, {len(world.corpus.planted)} fields, "
        f"{world.corpus.count} plantings, {findings.visits} page visits, {len(findings.routes)} routes; "
        f"executions {len(findings.executions)}, dialogs {len(findings.dialogs)}, canary loads "
        f"{len(findings.canary)}, CSP violations {len(findings.csp)}, DOM findings {len(findings.dom)}"
    )
    print(report)
    for name in ("csp", "dom"):
        for line in getattr(findings, name):
            print(name, line[:300])
    assert findings.errors == [], findings.errors
    assert findings.executions == [], findings.executions
    assert findings.dialogs == [], findings.dialogs
    assert findings.canary == [], findings.canary
    assert findings.csp == [], findings.csp
    assert findings.dom == [], findings.dom
    assert findings.template == [], "rendered as a template: " + repr(findings.template)
    assert findings.secrets == [], findings.secrets


@pytest.mark.django_db
def test_the_sweep_covers_every_page_of_the_urlconf(settings, tmp_path):
    """Fails when a route exists that the sweep neither visits nor lists in NOT_PAGES."""
    settings.VAR_DIR = tmp_path
    world = world_build()
    visited = {v.route for v in site_visits(world) + admin_visits(world) + api_visits(world)}
    routes = set(all_routes())
    missing = sorted(routes - visited - set(NOT_PAGES))
    assert missing == [], (
        f"pages the XSS sweep does not visit (add them to it, or to NOT_PAGES with a reason): {missing}"
    )
    stale = sorted(set(NOT_PAGES) - routes)
    assert stale == [], f"NOT_PAGES lists routes that no longer exist: {stale}"


@pytest.mark.django_db
def test_what_is_not_a_page_is_never_served_as_html(settings, tmp_path):
    """The routes left out of the browser sweep answer with a non-HTML type and nosniff, so a
    browser never renders hostile data from them as a page."""
    settings.VAR_DIR = tmp_path
    world = world_build()
    client = Client()
    client.force_login(world.users["staff"])
    for path in (
        "/api/schema/",
        f"/api/v1/projects/{world.tasks.pk}/export/?format=jsonl",
        f"/api/v1/projects/{world.tasks.pk}/export/?format=csv",
        "/admin/jsi18n/",
    ):
        response = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
        assert response.status_code == 200, path
        assert "text/html" not in response["Content-Type"], (path, response["Content-Type"])
        assert response["X-Content-Type-Options"] == "nosniff", path
