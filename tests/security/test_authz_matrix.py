"""The authorization matrix: every operation of the OpenAPI schema x seven roles, with the ids of
the caller's own project and of the other project in the path, the body and the filters.

What each role may do is written down in tests/security/authz_policy.py (POLICY), from the README's
"who may do what", not read off the code; how each operation is called, in tests/security/authz_calls.py.
A cell whose role is not allowed must get a 4xx (401 for anonymous), change nothing in the database
and show nothing it should not; an allowed cell must get the status its call expects. Every response,
allowed or not, is searched for the markers of tests/security/world.py that the role may not see,
for password hashes and for other people's API tokens.

A new operation in the schema without a POLICY row fails test_every_operation_has_a_policy_row.
"""

import json
import os
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from annotation.models import Membership, Project
from tests.security.authz_calls import CALLS, FOREIGN, Call
from tests.security.authz_policy import (
    ALL_MARKERS,
    ANON,
    AUTHOR,
    MAY_SEE,
    OUTSIDER,
    POLICY,
    SECRET_SHAPES,
    STAFF,
    USER,
    P,
)
from tests.security.conftest import REPORTS, db_fingerprint
from tests.security.world import ROLES, token_client

ROLE_NAMES = [name for name, *_ in ROLES]


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


class Matrix:
    def __init__(self, world):
        self.world = world
        self.clients = {name: token_client(world, name) for name in ROLE_NAMES}
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
        client = token_client(world, role)
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
    issued = response.json()["token"]  # a new token of annotator A's, and nobody else's
    assert issued not in world.tokens.values()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued}")
    assert client.get(f"{P}/users/me/").json()["username"] == "annotator_a"
    client.credentials()
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
