"""Request bodies: a field an operation does not take is refused, never silently dropped.

For every operation of the OpenAPI schema with a JSON object body, staff sends the body the
authorization matrix uses for an allowed call (tests/security/authz_calls.py, CALLS) plus
one misspelt field. Each must answer 400 with an error keyed by that field and change nothing;
the same body without the misspelt field must then be accepted, so the refusal is the field's
doing. The schema must say the same: every request body component is a closed object.
"""

from django.core.cache import cache
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.serializers import UNKNOWN_FIELD
from tests.security.authz_calls import CALLS, Call
from tests.security.conftest import db_fingerprint

TYPO = "stauts"


def object_body_operations(schema) -> list[tuple[str, str]]:
    found = []
    for path, ops in sorted(schema["paths"].items()):
        for method, op in sorted(ops.items()):
            content = op.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                found.append((method.upper(), path))
    return found


def test_every_request_body_component_is_closed():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    referenced = set()
    for method, path in object_body_operations(schema):
        content = schema["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
        referenced.add(content["schema"]["$ref"].rsplit("/", 1)[1])
    assert len(referenced) >= 15
    open_ones = [name for name in referenced if components[name].get("additionalProperties") is not False]
    assert open_ones == [], f"request bodies that accept any field: {open_ones}"


def test_an_unknown_body_field_is_refused_by_every_operation(world):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['staff']}")
    side, staff = world.sides["A"], world.users["staff"]
    baseline = db_fingerprint()
    checked = []
    for method, path in object_body_operations(schema):
        call = CALLS.get((method, path), lambda w, s, actor: Call(body={}))(world, side, staff)
        if not isinstance(call.body, dict):
            continue
        url = path.format(**{**side.path_ids(), **call.path})
        cache.clear()  # the token endpoint's throttle
        with transaction.atomic():
            response = getattr(client, method.lower())(url, {**call.body, TYPO: "approved"}, format="json")
            assert response.status_code == 400, (method, url, response.status_code, response.content[:300])
            assert response.json()["errors"][TYPO] == [UNKNOWN_FIELD], (method, url, response.json())
            assert db_fingerprint() == baseline, (method, url, "changed the database")
            response = getattr(client, method.lower())(url, call.body, format="json")
            assert response.status_code in call.ok, (method, url, response.status_code, response.content[:300])
            transaction.set_rollback(True)
        checked.append(f"{method} {path}")
    assert len(checked) >= 18, checked
    print(f"unknown body fields: {len(checked)} operations refuse them with 400")
