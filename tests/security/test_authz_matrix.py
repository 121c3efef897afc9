"""The authorization matrix: every operation of the OpenAPI schema x seven roles, with the ids of
the caller's own project and of the other project in the path, the body and the filters.

What each role may do is written down below (POLICY), from the README's "who may do what", not
read off the code. A cell whose role is not allowed must get a 4xx (401 for anonymous), change
nothing in the database and show nothing it should not; an allowed cell must get the status its
call expects. Every response, allowed or not, is searched for the markers of tests/security/world.py
that the role may not see, for password hashes and for other people's API tokens.

A new operation in the schema without a POLICY row fails test_every_operation_has_a_policy_row.
"""

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from annotation.models import Membership, Project
from rubrics.templates import template_list
from tests.security.conftest import REPORTS, db_fingerprint
from tests.security.world import CRITERIA, GOOD_VALUES, ROLES

# Relations of a caller to what a request is about.
ANON, USER, STAFF = "anonymous", "signed-in user", "staff"
OUTSIDER, ANNOTATOR, REVIEWER, MANAGER, AUTHOR = "outsider", "annotator", "reviewer", "manager", "rubric author"

ANYONE = frozenset({ANON, USER, OUTSIDER, ANNOTATOR, REVIEWER, MANAGER, AUTHOR, STAFF})
SIGNED_IN = ANYONE - {ANON}
RATE = frozenset({ANNOTATOR, REVIEWER, MANAGER, STAFF})
REVIEW = frozenset({REVIEWER, MANAGER, STAFF})
MANAGE = frozenset({MANAGER, STAFF})
STAFF_ONLY = frozenset({STAFF})
NOBODY = frozenset()
RUBRIC_READERS = RATE | {AUTHOR}  # members of a project that uses it, its author, staff
RUBRIC_WRITERS = frozenset({AUTHOR, STAFF})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset
    # "project": the caller's role in the project the path (or body) names; "global": signed in or staff.
    scope: str = "project"


P = "/api/v1"
POLICY: dict[tuple[str, str], Rule] = {
    ("GET", f"{P}/health/"): Rule(ANYONE, "global"),
    ("POST", f"{P}/auth/token/"): Rule(ANYONE, "global"),
    ("GET", f"{P}/users/me/"): Rule(SIGNED_IN, "global"),
    ("POST", f"{P}/users/"): Rule(STAFF_ONLY, "global"),
    # Rubrics: visible to the members of a project using them and to their author; edited by
    # their author (or the change_rubric permission) and staff; created by staff (or add_rubric).
    ("GET", f"{P}/rubrics/"): Rule(SIGNED_IN, "global"),
    ("POST", f"{P}/rubrics/"): Rule(STAFF_ONLY, "global"),
    ("POST", f"{P}/rubrics/from-template/"): Rule(STAFF_ONLY, "global"),
    ("GET", f"{P}/rubric-templates/"): Rule(SIGNED_IN, "global"),
    ("GET", f"{P}/rubrics/{{rubric_id}}/"): Rule(RUBRIC_READERS),
    ("PUT", f"{P}/rubrics/{{rubric_id}}/"): Rule(RUBRIC_WRITERS),
    ("PATCH", f"{P}/rubrics/{{rubric_id}}/"): Rule(RUBRIC_WRITERS),
    ("GET", f"{P}/rubrics/{{rubric_id}}/versions/"): Rule(RUBRIC_READERS),
    ("GET", f"{P}/rubrics/{{rubric_id}}/versions/{{number}}/"): Rule(RUBRIC_READERS),
    # Projects: listed to their members; created by staff (or add_project); managed by managers.
    ("GET", f"{P}/projects/"): Rule(SIGNED_IN, "global"),
    ("POST", f"{P}/projects/"): Rule(STAFF_ONLY, "global"),
    ("GET", f"{P}/projects/{{project_id}}/"): Rule(RATE),
    ("PATCH", f"{P}/projects/{{project_id}}/"): Rule(MANAGE),
    ("GET", f"{P}/projects/{{project_id}}/members/"): Rule(MANAGE),
    ("POST", f"{P}/projects/{{project_id}}/members/"): Rule(MANAGE),
    # Items and ratings: every member rates; annotators see only their own ratings (checked by markers).
    ("GET", f"{P}/projects/{{project_id}}/items/"): Rule(RATE),
    ("POST", f"{P}/projects/{{project_id}}/items/"): Rule(MANAGE),
    ("POST", f"{P}/projects/{{project_id}}/ratings/import/"): Rule(MANAGE),
    ("GET", f"{P}/items/{{item_id}}/"): Rule(RATE),
    ("GET", f"{P}/items/{{item_id}}/ratings/"): Rule(RATE),
    ("POST", f"{P}/items/{{item_id}}/ratings/"): Rule(RATE),
    ("GET", f"{P}/items/{{item_id}}/draft/"): Rule(RATE),
    ("PUT", f"{P}/items/{{item_id}}/draft/"): Rule(RATE),
    ("POST", f"{P}/projects/{{project_id}}/queue/next/"): Rule(RATE),
    ("POST", f"{P}/projects/{{project_id}}/queue/skip/"): Rule(RATE),
    # Review, agreement, approval: reviewers and managers read and decide; managers change the policy.
    ("GET", f"{P}/projects/{{project_id}}/review/"): Rule(REVIEW),
    ("POST", f"{P}/items/{{item_id}}/gold/"): Rule(REVIEW),
    ("POST", f"{P}/items/{{item_id}}/reject/"): Rule(REVIEW),
    ("GET", f"{P}/projects/{{project_id}}/agreement/"): Rule(REVIEW),
    ("GET", f"{P}/projects/{{project_id}}/agreement/items/"): Rule(REVIEW),
    ("GET", f"{P}/projects/{{project_id}}/approval-policy/"): Rule(REVIEW),
    ("PATCH", f"{P}/projects/{{project_id}}/approval-policy/"): Rule(MANAGE),
    ("POST", f"{P}/projects/{{project_id}}/approval/refresh/"): Rule(MANAGE),
    ("POST", f"{P}/projects/{{project_id}}/trust/refresh/"): Rule(MANAGE),
    # Added while this matrix was written: an aggregate of decisions, like agreement.
    ("GET", f"{P}/projects/{{project_id}}/reports/failure-modes/"): Rule(REVIEW),
    # Judges: every member sees them and their runs; managers create, change, start and cancel.
    ("GET", f"{P}/judges/"): Rule(SIGNED_IN, "global"),
    ("POST", f"{P}/judges/"): Rule(MANAGE),
    ("GET", f"{P}/judges/{{judge_id}}/"): Rule(RATE),
    ("PUT", f"{P}/judges/{{judge_id}}/"): Rule(MANAGE),
    ("PATCH", f"{P}/judges/{{judge_id}}/"): Rule(MANAGE),
    ("GET", f"{P}/projects/{{project_id}}/judge-runs/"): Rule(RATE),
    ("POST", f"{P}/projects/{{project_id}}/judge-runs/"): Rule(MANAGE),
    ("GET", f"{P}/judge-runs/{{run_id}}/"): Rule(RATE),
    ("POST", f"{P}/judge-runs/{{run_id}}/cancel/"): Rule(MANAGE),
    # Export: managers and staff only.
    ("GET", f"{P}/projects/{{project_id}}/export/"): Rule(MANAGE),
    ("GET", f"{P}/projects/{{project_id}}/export/manifest/"): Rule(MANAGE),
    ("POST", f"{P}/projects/{{project_id}}/export/snapshots/"): Rule(MANAGE),
    ("GET", f"{P}/export-snapshots/{{snapshot_id}}/"): Rule(MANAGE),
    ("GET", f"{P}/export-snapshots/{{snapshot_id}}/download/"): Rule(MANAGE),
}

# What each role may read: the markers of tests/security/world.py, by role.
ALL_MARKERS = (
    "SECRET-A",
    "SECRET-B",
    "OWN-A-ann",
    "OWN-B-ann",
    "PEER-A-",
    "PEER-B-",
    "DRAFT-A-ann",
    "DRAFT-A-rev",
    "DRAFT-B-ann",
)
MAY_SEE = {
    "anonymous": set(),
    "annotator_a": {"SECRET-A", "OWN-A-ann", "DRAFT-A-ann"},
    "annotator_b": {"SECRET-B", "OWN-B-ann", "DRAFT-B-ann"},
    "reviewer_a": {"SECRET-A", "OWN-A-ann", "PEER-A-", "DRAFT-A-rev"},
    "manager_a": {"SECRET-A", "OWN-A-ann", "PEER-A-"},
    "manager_b": {"SECRET-B", "OWN-B-ann", "PEER-B-"},
    "staff": {"SECRET-A", "SECRET-B", "OWN-A-ann", "OWN-B-ann", "PEER-A-", "PEER-B-"},
}
SECRET_SHAPES = ("md5$", "pbkdf2_", "argon2", "bcrypt")
ROLE_NAMES = [name for name, *_ in ROLES]
OK = frozenset({200, 201, 202, 204})


@dataclass
class Call:
    """How to call one operation about one side (project) of the world."""

    path: dict = field(default_factory=dict)  # path parameters that differ from the defaults
    body: Any = None
    query: dict | None = None
    fmt: str = "json"
    ok: frozenset = OK  # what an allowed caller gets


def _item(n):
    return lambda w, s, actor: Call(path={"item_id": s.items[n].pk})


def _rating_body(s):
    return {"values": GOOD_VALUES, "rationales": {"helpfulness": "fine"}}


# Requests that need more than the default path ids. ``w`` the world, ``s`` the side (project),
# ``actor`` the calling user (None for anonymous).
CALLS = {
    ("POST", f"{P}/auth/token/"): lambda w, s, actor: Call(
        body={"username": actor.username if actor else "staff", "password": "wrong"}, ok=frozenset({400})
    ),
    ("POST", f"{P}/users/"): lambda w, s, actor: Call(body={"username": "newcomer", "password": "a-long-Passw0rd-xyz"}),
    ("POST", f"{P}/rubrics/"): lambda w, s, actor: Call(body={"name": "New", "criteria": CRITERIA}),
    ("POST", f"{P}/rubrics/from-template/"): lambda w, s, actor: Call(body={"template": template_list()[0]["key"]}),
    ("PUT", f"{P}/rubrics/{{rubric_id}}/"): lambda w, s, actor: Call(
        body={"name": "Renamed", "instructions": "i", "criteria": CRITERIA}
    ),
    ("PATCH", f"{P}/rubrics/{{rubric_id}}/"): lambda w, s, actor: Call(body={"name": "Renamed"}),
    ("POST", f"{P}/projects/"): lambda w, s, actor: Call(body={"name": "New", "rubric": s.rubric.pk}),
    ("PATCH", f"{P}/projects/{{project_id}}/"): lambda w, s, actor: Call(body={"name": "Renamed", "guidelines": "g"}),
    # Everyone tries to make themselves a manager.
    ("POST", f"{P}/projects/{{project_id}}/members/"): lambda w, s, actor: Call(
        body={"user": (actor or w.users["annotator_a"]).pk, "role": "manager"}, ok=frozenset({201})
    ),
    ("GET", f"{P}/projects/{{project_id}}/items/"): lambda w, s, actor: Call(query={"status": "pending"}),
    ("POST", f"{P}/projects/{{project_id}}/items/"): lambda w, s, actor: Call(
        body=[{"external_id": "new-1", "data": {"prompt": "p"}}], ok=frozenset({201})
    ),
    ("POST", f"{P}/projects/{{project_id}}/ratings/import/"): lambda w, s, actor: Call(
        body=[
            {
                "external_id": s.items[4].external_id,
                "rater": f"annotator_{s.name.lower()}",
                "values": GOOD_VALUES,
                "rationales": {"helpfulness": "imported"},
            }
        ],
        ok=frozenset({201}),
    ),
    ("GET", f"{P}/items/{{item_id}}/draft/"): _item(1),
    ("PUT", f"{P}/items/{{item_id}}/draft/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body={"values": {"helpfulness": 5}, "rationales": {}}
    ),
    ("POST", f"{P}/items/{{item_id}}/ratings/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body=_rating_body(s), ok=frozenset({201})
    ),
    ("POST", f"{P}/projects/{{project_id}}/queue/skip/"): lambda w, s, actor: Call(body={"item": s.items[5].pk}),
    ("POST", f"{P}/items/{{item_id}}/gold/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body=_rating_body(s), ok=frozenset({201})
    ),
    ("POST", f"{P}/items/{{item_id}}/reject/"): lambda w, s, actor: Call(
        path={"item_id": s.items[4].pk}, body={"reason": "off topic"}
    ),
    # Neither project names a tasks project, so an allowed caller gets past the checks to a 400.
    ("GET", f"{P}/projects/{{project_id}}/reports/failure-modes/"): lambda w, s, actor: Call(ok=frozenset({400})),
    ("GET", f"{P}/projects/{{project_id}}/agreement/"): lambda w, s, actor: Call(query={"bootstrap": 0}),
    ("PATCH", f"{P}/projects/{{project_id}}/approval-policy/"): lambda w, s, actor: Call(
        body={"judge_may_approve": False}
    ),
    # The judges list is filtered by the side's project: a stranger must get an empty list.
    ("GET", f"{P}/judges/"): lambda w, s, actor: Call(query={"project": s.project.pk}),
    ("POST", f"{P}/judges/"): lambda w, s, actor: Call(
        body={
            "project": s.project.pk,
            "name": "new judge",
            "provider": "openai_compatible",
            "model": "m",
            "base_url": "http://127.0.0.1:9/v1",
        }
    ),
    ("PUT", f"{P}/judges/{{judge_id}}/"): lambda w, s, actor: Call(body={"name": "renamed"}),
    ("PATCH", f"{P}/judges/{{judge_id}}/"): lambda w, s, actor: Call(body={"name": "renamed"}),
    ("POST", f"{P}/projects/{{project_id}}/judge-runs/"): lambda w, s, actor: Call(
        body={"judge": s.spare_judge.pk, "items": "all"}
    ),
    ("GET", f"{P}/projects/{{project_id}}/export/"): lambda w, s, actor: Call(
        query={"status": "all", "include": "ratings,judges"}
    ),
    ("GET", f"{P}/projects/{{project_id}}/export/manifest/"): lambda w, s, actor: Call(
        query={"status": "all", "include": "ratings,judges"}
    ),
    ("POST", f"{P}/projects/{{project_id}}/export/snapshots/"): lambda w, s, actor: Call(body={"status": "all"}),
}


@dataclass(frozen=True)
class Foreign:
    """A request about project A that names something of project B in its body or filters."""

    method: str
    path: str
    label: str
    allowed: frozenset  # relations to project A that may do it
    build: Any


FOREIGN = [
    Foreign(
        "PATCH",
        f"{P}/projects/{{project_id}}/",
        "pin project A to rubric B",
        STAFF_ONLY,
        lambda w, a, b, actor: Call(body={"rubric": b.rubric.pk, "rubric_version": 1}),
    ),
    Foreign(
        "PATCH",
        f"{P}/projects/{{project_id}}/",
        "link project B as A's tasks project",
        STAFF_ONLY,
        lambda w, a, b, actor: Call(body={"tasks_project": b.project.pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/judge-runs/",
        "run judge B in project A",
        NOBODY,
        lambda w, a, b, actor: Call(body={"judge": b.spare_judge.pk, "items": "all"}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/judge-runs/",
        "run judge A on items of B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"judge": a.spare_judge.pk, "items": [b.items[0].pk]}),
    ),
    Foreign(
        "PATCH",
        f"{P}/judges/{{judge_id}}/",
        "move judge A to project B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"project": b.project.pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/queue/skip/",
        "skip an item of B in A's queue",
        NOBODY,
        lambda w, a, b, actor: Call(body={"item": b.items[5].pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/ratings/import/",
        "import ratings as B's annotator into A",
        NOBODY,
        lambda w, a, b, actor: Call(
            body=[
                {
                    "external_id": a.items[4].external_id,
                    "rater": "annotator_b",
                    "values": GOOD_VALUES,
                    "rationales": {"helpfulness": "x"},
                }
            ]
        ),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/ratings/import/",
        "import ratings onto B's item ids into A",
        NOBODY,
        lambda w, a, b, actor: Call(
            body=[
                {
                    "external_id": b.items[4].external_id,
                    "rater": "annotator_a",
                    "values": GOOD_VALUES,
                    "rationales": {"helpfulness": "x"},
                }
            ]
        ),
    ),
    # A filter only reviewers and managers may use.
    Foreign(
        "GET",
        f"{P}/projects/{{project_id}}/items/",
        "filter items by acceptance bucket",
        REVIEW,
        lambda w, a, b, actor: Call(query={"bucket": "accepted"}),
    ),
    # Managers add whom they like, by id or name: not a leak, but the body names a user of B.
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/members/",
        "add B's annotator to A",
        MANAGE,
        lambda w, a, b, actor: Call(body={"user": "annotator_b", "role": "annotator"}, ok=frozenset({201})),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/export/snapshots/",
        "snapshot of A filtered with B's ids",
        MANAGE,
        # The snapshot body takes no project: naming B there is refused (400), never half-used.
        lambda w, a, b, actor: Call(body={"status": "all", "project": b.project.pk}, ok=frozenset({400})),
    ),
]


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


class Matrix:
    def __init__(self, world):
        self.world = world
        self.clients = {}
        for name in ROLE_NAMES:
            client = APIClient()
            if name != "anonymous":
                client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[name]}")
            self.clients[name] = client
        self.baseline = db_fingerprint()
        self.cells = 0
        self.leaks: list[str] = []  # unexpected 2xx, foreign rows, DB changes after a denial
        self.mismatches: list[str] = []  # allowed by the policy but refused, or a 5xx
        self.statuses = Counter()

    def relations(self, role: str, side, scope: str) -> set[str]:
        if role == "anonymous":
            return {ANON}
        user = self.world.users[role]
        if user.is_staff:
            return {STAFF}
        if scope == "global":
            return {USER}
        found = set(Membership.objects.filter(project=side.project, user=user).values_list("role", flat=True))
        relations = found or {OUTSIDER}
        if side.rubric.created_by_id == user.pk:
            relations.add(AUTHOR)
        return relations

    def cell(
        self, *, role: str, method: str, template: str, call: Call, allowed: bool, what: str, public: bool = False
    ) -> None:
        """One request in a savepoint that is rolled back, so every cell starts from the same world.
        ``public``: the path is open to anonymous callers, so a refusal need not be a 401."""
        self.cells += 1
        cache.clear()  # the token endpoint's throttle would otherwise count every cell
        url = template.format(**call.path)
        if call.query:
            url += "?" + urlencode(call.query)
        client = self.clients[role]
        label = f"{role:12} {method:5} {url} ({what})"
        with transaction.atomic():
            try:
                kwargs = {} if call.body is None else {"data": call.body, "format": call.fmt}
                response = getattr(client, method.lower())(url, **kwargs)
                status = response.status_code
                # Reading a streamed body to its end closes it, as the test client closes the others
                # (closing again here would fire request_finished and close the test's connection).
                body = b"".join(response.streaming_content) if response.streaming else response.content
            except Exception as exc:  # an unhandled exception is a 500 for the client
                status, body = 500, repr(exc).encode()
            self.statuses[status] += 1
            text = body.decode("utf-8", "replace")
            if status >= 500:
                self.mismatches.append(f"{label}: {status} {text[:300]}")
            elif not allowed:
                if 200 <= status < 300:
                    self.leaks.append(f"{label}: denied by the policy but got {status}: {text[:200]}")
                elif role == "anonymous" and not public and status != 401:
                    self.mismatches.append(f"{label}: anonymous got {status}, not 401")
                elif db_fingerprint() != self.baseline:
                    self.leaks.append(f"{label}: refused with {status} but the database changed")
            elif status not in call.ok:
                self.mismatches.append(f"{label}: allowed by the policy but got {status}: {text[:200]}")
            self.check_text(role, label, text)
            transaction.set_rollback(True)

    def check_text(self, role: str, label: str, text: str) -> None:
        for marker in ALL_MARKERS:
            if marker in text and marker not in MAY_SEE[role]:
                self.leaks.append(f"{label}: response shows {marker!r}, which {role} may not see")
        for shape in SECRET_SHAPES:
            if shape in text:
                self.leaks.append(f"{label}: response holds something shaped like a password hash ({shape})")
        for owner, key in self.world.tokens.items():
            if owner != role and key in text:
                self.leaks.append(f"{label}: response holds {owner}'s API token")


def test_every_operation_has_a_policy_row(db):
    operations = schema_operations()
    missing = sorted(operations - set(POLICY))
    stale = sorted(set(POLICY) - operations)
    assert not missing, f"operations with no row in POLICY (say who may call them): {missing}"
    assert not stale, f"POLICY rows for operations the schema no longer has: {stale}"


def test_the_authorization_matrix_has_no_leaks(world):
    matrix = Matrix(world)
    operations = schema_operations()
    for method, template in sorted(operations):
        rule = POLICY[(method, template)]
        build = CALLS.get((method, template), lambda w, s, actor: Call())
        names_a_side = rule.scope == "project" or "{" in template or (method, template) in CALLS
        for side_name in ("A", "B") if names_a_side else ("A",):
            side = world.sides[side_name]
            for role in ROLE_NAMES:
                actor = world.users.get(role)
                call = build(world, side, actor)
                call.path = {**side.path_ids(), **call.path}
                allowed = bool(matrix.relations(role, side, rule.scope) & rule.allowed)
                matrix.cell(
                    role=role, method=method, template=template, call=call, allowed=allowed, what=f"side {side_name}"
                )
    a, b = world.sides["A"], world.sides["B"]
    for foreign in FOREIGN:
        assert (foreign.method, foreign.path) in operations, foreign
        for role in ROLE_NAMES:
            call = foreign.build(world, a, b, world.users.get(role))
            call.path = {**a.path_ids(), **call.path}
            allowed = bool(matrix.relations(role, a, "project") & foreign.allowed)
            matrix.cell(
                role=role, method=foreign.method, template=foreign.path, call=call, allowed=allowed, what=foreign.label
            )
    # Methods the schema does not list for a path must be refused too (no hidden write). DRF checks
    # authentication and permissions before it looks for the method, so staff (who passes every
    # check) and anonymous (who passes none) cover every role.
    paths = {}
    for method, template in operations:
        paths.setdefault(template, set()).add(method)
    for template, listed in sorted(paths.items()):
        public = any(ANON in POLICY[(method, template)].allowed for method in listed)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - listed):
            for role in ("anonymous", "annotator_a", "staff"):
                call = Call(path=a.path_ids(), body={} if method != "GET" else None)
                matrix.cell(
                    role=role,
                    method=method,
                    template=template,
                    call=call,
                    allowed=False,
                    what="unlisted method",
                    public=public,
                )

    summary = {
        "operations": len(operations),
        "roles": len(ROLE_NAMES),
        "cells": matrix.cells,
        "leaks": len(matrix.leaks),
        "mismatches": len(matrix.mismatches),
        "statuses": dict(sorted(matrix.statuses.items())),
    }
    REPORTS["authorization matrix"] = summary
    if os.environ.get("ACCORD_AUTHZ_REPORT"):
        with open(os.environ["ACCORD_AUTHZ_REPORT"], "w") as out:
            json.dump({**summary, "leak_list": matrix.leaks, "mismatch_list": matrix.mismatches}, out, indent=1)
    assert not matrix.leaks, "leaks:\n" + "\n".join(matrix.leaks)
    assert not matrix.mismatches, "policy and behaviour disagree:\n" + "\n".join(matrix.mismatches)
    assert matrix.cells > 7 * len(operations)


def test_people_cannot_raise_their_own_role_or_staff_flag(world):
    """Every non-staff user tries every write that touches users or memberships on themselves."""
    for role in ROLE_NAMES:
        if role in ("anonymous", "staff"):
            continue
        user = world.users[role]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        before = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
        attempts = [
            (method, f"{P}/users/me/", {"is_staff": True, "is_superuser": True}) for method in ("put", "patch", "post")
        ]
        attempts.append(("post", f"{P}/users/", {"username": role, "password": "x-Long-passw0rd!", "is_staff": True}))
        for side in world.sides.values():
            members = f"{P}/projects/{side.project.pk}/members/"
            attempts += [
                ("post", members, {"user": user.pk, "role": "manager"}),
                ("post", members, {"user": user.username, "role": "reviewer"}),
                ("patch", f"{P}/projects/{side.project.pk}/", {"created_by": user.pk, "memberships": []}),
            ]
        own = {project for project, r in before.items() if r == "manager"}
        creators = dict(Project.objects.values_list("id", "created_by"))
        for method, url, body in attempts:
            response = getattr(client, method)(url, body, format="json")
            user.refresh_from_db()
            after = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
            assert not user.is_staff and not user.is_superuser, (role, method, url)
            # A manager sets roles in their own project (their own included), nowhere else.
            assert {p: r for p, r in after.items() if p not in own} == {
                p: r for p, r in before.items() if p not in own
            }, (role, method, url, response.status_code)
            assert dict(Project.objects.values_list("id", "created_by")) == creators, (role, method, url)
            if not own:
                assert response.status_code in (400, 403, 404, 405), (role, method, url, response.status_code)


def test_the_token_endpoint_gives_only_your_own_token(world):
    client = APIClient()
    response = client.post(f"{P}/auth/token/", {"username": "annotator_a", "password": "correct-horse-battery"})
    assert response.status_code == 200
    assert response.json() == {"token": world.tokens["annotator_a"]}
    wrong = client.post(f"{P}/auth/token/", {"username": "staff", "password": "correct-horse-batter"})
    assert wrong.status_code == 400
    assert world.tokens["staff"] not in wrong.content.decode()


@pytest.mark.parametrize("role", ["annotator_a", "reviewer_a", "manager_a"])
def test_the_database_fingerprint_sees_a_changed_role(world, role):
    """The fingerprint the matrix relies on does see a one-field change (so a silent write cannot pass)."""
    before = db_fingerprint()
    membership = Membership.objects.get(user=world.users[role])
    membership.role = "annotator" if membership.role == "manager" else "manager"
    membership.save(update_fields=["role"])
    assert db_fingerprint() != before
