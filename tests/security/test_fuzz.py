"""Schemathesis over /api/schema/: generated requests, valid and invalid, against every operation.

The API runs in-process (Django's WSGI application) on the world of tests/security/world.py, as
staff with a token, so every operation can get past its access check. Three quarters of the cases
use the ids of real objects in the path, the rest whatever Hypothesis drew (mostly 404s).

Checks: no 5xx (not_a_server_error), every response's body matches the schema of its status and
content type (response_schema_conformance; errors included, see config/errors.py), and every
status is one the schema documents (status_code_conformance).

Bounded for CI: ACCORD_FUZZ_EXAMPLES examples per operation (default 8), derandomized so a run is
repeatable. ``make fuzz`` runs 200 per operation.

Issue 16's inputs (a lone surrogate in every string and as a key, 400-digit numbers, a body
nested 10,000 deep; hostile query values) are sent to every operation that takes them by
``test_issue_16_inputs_answer_by_the_schema_never_500``, under the same checks.
"""

import json
import os
import zlib
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from annotation.models import Membership
from config.wsgi import application
from tests.security.conftest import REPORTS

EXAMPLES = int(os.environ.get("ACCORD_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
TALLY: Counter = Counter()


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    # Django's test client does the same: closing "old" connections at the end of a request would
    # close the test's transaction under it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _record() -> None:
    summary = {
        "examples_per_operation": EXAMPLES,
        "requests": TALLY["requests"],
        "issue16_requests": TALLY["issue16_requests"],
        "server_errors": TALLY["not_a_server_error"],
        "schema_violations": TALLY["response_schema_conformance"],
        "undocumented_statuses": TALLY["status_code_conformance"],
        "statuses": {k: v for k, v in sorted(TALLY.items()) if k.isdigit()},
    }
    REPORTS["fuzzing"] = summary
    if os.environ.get("ACCORD_FUZZ_REPORT"):
        with open(os.environ["ACCORD_FUZZ_REPORT"], "w") as out:
            json.dump(summary, out, indent=1)


# Loaded through the app itself, as a client would; one pytest test per operation.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_by_its_schema(case, world):
    if case.path_parameters and zlib.crc32(repr(sorted(case.path_parameters.items())).encode()) % 4:
        real = world.sides["A"].path_ids()
        case.path_parameters = {name: real.get(name, value) for name, value in case.path_parameters.items()}
    _call_and_check(case, {"Authorization": f"Token {world.tokens['staff']}"}, tally="requests")


def _call_and_check(case, headers: dict, *, tally: str) -> None:
    """Send ``case``, count its status under ``tally``, and check the answer against the schema."""
    try:
        response = case.call(headers=headers)
        TALLY[tally] += 1
        TALLY[str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            TALLY[_check_name(failure)] += 1
        raise
    finally:
        _record()


def _check_name(failure) -> str:
    text = f"{type(failure).__name__} {getattr(failure, 'title', '')}".lower()
    if "server error" in text:
        return "not_a_server_error"
    if "status code" in text:
        return "status_code_conformance"
    return "response_schema_conformance"


def test_a_url_no_api_route_matches_answers_json_not_a_page(world):
    """A non-numeric id matches no route, so Django, not DRF, answers: in the API's shape."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['staff']}")
    response = client.get("/api/v1/rubrics/0.5/versions/x/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert "text/html" in APIClient().get("/no-such-page/")["Content-Type"]


def test_a_nul_character_is_a_field_error_not_a_server_error(world):
    """Found by the long run on PostgreSQL, which cannot store U+0000 in text or JSON. Since issue
    16 the body is refused on every database, naming the field by its path (config/untrusted.py)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['staff']}")
    side = world.sides["A"]
    body = {"values": {"helpfulness": "x\x00"}, "rationales": {}}
    draft = client.put(f"/api/v1/items/{side.items[1].pk}/draft/", body, format="json")
    assert draft.status_code == 400, draft.content
    assert draft.json()["errors"] == {"values.helpfulness": ["must not contain the NUL character (\\u0000)."]}
    members = f"/api/v1/projects/{side.project.pk}/members/"
    member = client.post(members, {"user": "\x00x", "role": "reviewer"}, format="json")
    assert member.status_code == 400, member.content
    assert list(member.json()["errors"]) == ["user"]
    assert Membership.objects.filter(project=side.project).count() == 3  # and the connection still works


# ---- Issue 16's inputs, sent to every operation that takes them ---------------------------------
# Generated strings never hold a lone surrogate, and generated JSON is never thousands of levels
# deep; these cases add what the issue found: in every JSON body, each string as a lone
# surrogate, each key as one, each number as a 400-digit integer, and the body nested 10,000 deep;
# in every query, each parameter as a 400-digit number, a malformed cursor and a date out of UTC.

DEEP = b'{"a": ' * 9_999 + b"[]" + b"}" * 9_999
HOSTILE_QUERY = ["9" * 400, "cD1hYmM=", "0001-01-01T00:00:00+01:00", "\ufffd\x00"]


def _hostile_values(value, *, leaf):
    if isinstance(value, dict):
        return {key: _hostile_values(v, leaf=leaf) for key, v in value.items()}
    if isinstance(value, list):
        return [_hostile_values(v, leaf=leaf) for v in value]
    return leaf(value)


def _hostile_bodies(body) -> list:
    surrogate = _hostile_values(body, leaf=lambda v: "x\ud800" if isinstance(v, str) else v)
    huge = _hostile_values(body, leaf=lambda v: 10**400 if type(v) in (int, float) else v)
    key = {"\udc00": 1, **body} if isinstance(body, dict) else [{"\udc00": 1}, *body]
    return [surrogate, huge, key]


def _operations():
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.body or list(operation.query):
            yield pytest.param(operation, id=operation.label)


@pytest.mark.parametrize("operation", list(_operations()))
def test_issue_16_inputs_answer_by_the_schema_never_500(operation, world):
    from tests.security.authz_calls import CALLS, Call

    side, staff = world.sides["A"], world.users["staff"]
    call = CALLS.get((operation.method.upper(), operation.path), lambda w, s, actor: Call(body={}))(world, side, staff)
    path = {**side.path_ids(), **call.path}
    path_parameters = {p.name: path[p.name] for p in operation.path_parameters}
    headers = {"Authorization": f"Token {world.tokens['staff']}"}
    cases = []
    if operation.body and isinstance(call.body, dict | list) and call.fmt == "json":
        cases += [{"body": body, "media_type": "application/json"} for body in _hostile_bodies(call.body)]
        cases.append({"body": DEEP, "media_type": "application/json"})
    for parameter in operation.query:
        cases += [{"query": {parameter.name: value}} for value in HOSTILE_QUERY]
    if not cases:
        pytest.skip("no body or query parameter to send them in")
    for fields in cases:
        case = operation.Case(path_parameters=path_parameters, **fields)
        with transaction.atomic():  # each case starts from the same world
            _call_and_check(case, headers, tally="issue16_requests")
            transaction.set_rollback(True)
