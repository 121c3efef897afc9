"""Filters and orderings: only the query parameters an operation documents reach it.

Every read operation of the schema (and every write that takes query parameters) is called with
relation traversals into users, password hashes and tokens, the shape of the ORM lookups behind
Label Studio's password-hash leak. Each must be refused with 400 and an error keyed by the
parameter, for staff (who may see everything) as for an annotator. The documented parameters must
still get through.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.security.conftest import REPORTS
from tests.security.world import ROLES, token_client

HOSTILE = [
    ("ordering", "rater__user__password"),
    ("ordering", "-created_by__password"),
    ("order_by", "user__password"),
    ("created_by__password__startswith", "md5$"),
    ("rater__user__password__startswith", "pbkdf2_"),
    ("user__auth_token", "0123456789abcdef"),
    ("user__auth_token__key__startswith", "a"),
    ("memberships__user__password__regex", "^md5"),
    ("project__memberships__user__is_staff", "true"),
    ("search", "password"),
    ("fields", "password"),
    ("stauts", "approved"),  # a typo must not give an unfiltered answer either
]


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, ops in sorted(schema["paths"].items()):
        for method, op in sorted(ops.items()):
            documented = [p for p in op.get("parameters", []) if p["in"] == "query"]
            if method == "get" or documented:
                yield method.upper(), path, documented


def _url(world, path: str) -> str:
    return path.format(**world.sides["A"].path_ids())


@pytest.mark.parametrize("role", ["staff", "annotator_a", "anonymous"])
def test_every_read_refuses_relation_traversal_with_a_field_error(world, role):
    assert role in {name for name, *_ in ROLES}
    client = token_client(world, role)
    checked = 0
    for method, path, documented in operations():
        url = _url(world, path)
        names = {p["name"] for p in documented}
        for name, value in HOSTILE:
            assert name not in names, f"{method} {path} documents {name!r}"
            response = getattr(client, method.lower())(f"{url}?{name}={value}")
            assert response.status_code == 400, (method, url, name, response.status_code)
            body = response.json()
            assert body["detail"] == "Invalid input."
            assert list(body["errors"]) == [name], (method, url, body)
            assert "unknown query parameter" in body["errors"][name][0]
            checked += 1
    report = REPORTS.setdefault("filters", {"operations": 0, "refused_with_400": {}})
    report["operations"] = len(list(operations()))
    report["refused_with_400"][role] = checked
    assert checked >= 20 * len(HOSTILE)


def test_the_error_names_what_the_operation_does_take(world):
    client = token_client(world, "manager_a")
    project = world.sides["A"].project.pk
    response = client.get(f"/api/v1/projects/{project}/items/?ordering=rater__user__password&status=pending")
    assert response.status_code == 400
    message = response.json()["errors"]["ordering"][0]
    for name in ("status", "cursor", "page_size"):
        assert name in message
    assert "status" not in response.json()["errors"]


def test_every_documented_query_parameter_gets_through(world):
    """The allow-list is read from the same annotations as the schema: no documented parameter
    may be refused as unknown (its value may still be wrong)."""
    client = token_client(world, "staff")
    seen = 0
    for method, path, documented in operations():
        for parameter in documented:
            value = (parameter["schema"].get("enum") or ["1"])[0]
            response = getattr(client, method.lower())(f"{_url(world, path)}?{parameter['name']}={value}")
            if response.status_code == 400:
                errors = response.json().get("errors", {})
                assert "unknown query parameter" not in str(errors), (method, path, parameter["name"])
            assert response.status_code < 500, (method, path, parameter["name"])
            seen += 1
    assert seen >= 10


def test_the_judges_filter_by_another_project_returns_nothing_of_it(world):
    client = token_client(world, "annotator_a")
    other = world.sides["B"].project.pk
    response = client.get(f"/api/v1/judges/?project={other}")
    assert response.status_code == 200
    assert response.json() == []
    for bad in ("²", "-1", "1.0", "1 OR 1=1"):
        response = client.get("/api/v1/judges/", {"project": bad})
        assert response.status_code == 400, bad
        assert list(response.json()["errors"]) == ["project"]


def test_pages_outside_the_api_keep_their_own_parameters(world):
    client = APIClient()
    assert client.get("/api/schema/?format=json").status_code == 200
    client.force_login(world.users["annotator_a"])
    assert client.get("/?whatever=1").status_code == 200
