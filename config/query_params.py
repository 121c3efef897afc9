"""Only documented query parameters reach an API view.

An operation's query parameters are the ones the OpenAPI schema (/api/schema/, built from the
views' ``extend_schema`` annotations) lists for it. Any other name is refused with a 400 and a
field-level error before the view runs, so:

- filters and orderings are an allow-list that cannot drift from the documentation;
- nothing like ``?ordering=rater__user__password`` or ``?user__auth_token=...`` can reach the
  ORM, whatever a later view does with its parameters;
- a typo (``?stauts=approved``) is an error rather than a silently unfiltered answer, which for an
  export would mean shipping data that was meant to be left out.

Only routes under ``api/v1/`` are checked: the schema and Swagger views take their own parameters,
and the HTML pages are not an API. A method the schema does not list for a path is left to the
view, which answers 405.
"""

import re
from functools import cache

from django.http import JsonResponse

API_ROUTE_PREFIX = "api/v1/"
_ROUTE_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


@cache
def documented_query_params() -> dict[tuple[str, str], frozenset[str]]:
    """{(schema path, METHOD): query parameter names}, from the schema, built once per process
    (about a quarter of a second) on the first API request that has a query string."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (path, method.upper()): frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }


class QueryParamsAllowListMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if not request.GET or match is None or not match.route.startswith(API_ROUTE_PREFIX):
            return None
        path = "/" + _ROUTE_PARAMETER.sub(r"{\1}", match.route)
        method = "GET" if request.method == "HEAD" else request.method
        allowed = documented_query_params().get((path, method))
        if allowed is None:
            return None
        unknown = sorted(set(request.GET) - allowed)
        if not unknown:
            return None
        takes = ", ".join(sorted(allowed)) if allowed else "no query parameters"
        message = f"unknown query parameter; this operation takes {takes}."
        return JsonResponse({"detail": "Invalid input.", "errors": {name: [message] for name in unknown}}, status=400)
