"""One error vocabulary for domain code, and the one place it becomes HTTP.

Services raise Django's ValidationError (field-level messages), PermissionDenied, or the two
errors below; they never import DRF. The handler turns all of them into 4xx JSON of one shape:
``{"detail": "...", "errors": {field: [messages]}}``.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.untrusted import NUL_MESSAGE

logger = logging.getLogger(__name__)


class Conflict(Exception):
    """The request is valid but clashes with what is stored (HTTP 409)."""

    def __init__(self, message: str, *, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class RowsRejected(Exception):
    """A bulk import was refused as a whole; ``rows`` says which rows failed and why."""

    def __init__(self, message: str, *, rows: list[dict]):
        super().__init__(message)
        self.message = message
        self.rows = rows




def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _fields_with_nul(context) -> dict:
    """The request's top-level fields that hold a NUL character, else a general message."""
    request = context.get("request") if context else None
    data = getattr(request, "data", None)
    if isinstance(data, dict):
        fields = {str(key): [NUL_MESSAGE] for key, value in data.items() if _has_nul(key) or _has_nul(value)}
        if fields:
            return fields
    if _has_nul(data):
        return {"non_field_errors": [f"text {NUL_MESSAGE}"]}
    return {"non_field_errors": ["a value could not be stored (out of range or malformed)."]}


def validation_errors(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: _messages(errs) for field, errs in exc.error_dict.items()}
    return {"non_field_errors": exc.messages}


def _messages(errors):
    out = []
    for err in errors:
        if isinstance(err, DjangoValidationError):
            out.extend(err.messages)
        else:
            out.append(str(err))
    return out


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": "Invalid input.", "errors": validation_errors(exc)}, status=400)
    if isinstance(exc, RowsRejected):
        return Response({"detail": exc.message, "errors": {"rows": exc.rows}}, status=400)
    if isinstance(exc, Conflict):
        return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    if isinstance(exc, IntegrityError):
        # A unique constraint lost a race with a concurrent request; the client may retry.
        logger.info("integrity error turned into 409: %s", exc)
        return Response({"detail": "This conflicts with data that was just written; retry."}, status=409)
    if isinstance(exc, DataError):
        # PostgreSQL refuses values SQLite keeps, above all the NUL character in text and JSON.
        logger.info("data error turned into 400: %s", exc)
        return Response({"detail": "Invalid input.", "errors": _fields_with_nul(context)}, status=400)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away mid-request (restart, failover, SQLite lock): a JSON 503 the client
        # can retry, not an HTML 500. Imports run in one transaction, so none of it was applied.
        logger.warning("database unavailable, answered 503: %s", exc)
        return Response(
            {"detail": "The database was unavailable and the request did not complete; retry in a few seconds."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, PermissionDenied) and exc.args:
        exc = exceptions.PermissionDenied(str(exc))

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


# The error shape in the OpenAPI schema, and the answers Django itself gives under /api/.

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "Messages by field name (a list of strings, or nested for nested fields); "
            "bulk imports put a report per failed row under `rows`.",
        },
    },
    "required": ["detail"],
}


def schema_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents the error statuses it can
    answer, all with the one shape above. Which ones follows from the view, not from a list:

    400 always (bad input, or a query parameter the operation does not take); 401 and 403 unless
    the view lets anyone in; 404 with an id in the path; 409 (a unique constraint lost a race) and
    415 (a body in a media type the view does not parse) for writes; 429 with a throttle; 503
    always (the database went away); 413 for writes (a body too large, accounts/middleware.py). A
    status a view documents itself (such as 409 on a GET) keeps its description and gets the shape.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    views = {(path, method.upper()): callback.cls for path, _, method, callback in generator.endpoints}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            view = views.get((path, method.upper()))
            codes = {"400", "503"}
            if view is not None and not _open_to_anyone(view):
                codes |= {"401", "403"}
            if "{" in path:
                codes.add("404")
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                codes |= {"409", "413", "415"}
            if view is not None and view.throttle_classes:
                codes.add("429")
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = error
    return result


_ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `errors` names the fields.",
    "401": "No or bad credentials.",
    "403": "Not allowed (role, permission or CSRF).",
    "404": "No such object, or not one you can see.",
    "409": "Conflicts with what is stored.",
    "413": "The body is too large (over 64 KB without signing in: ACCORD_ANONYMOUS_MAX_BODY_KB).",
    "415": "A body in a media type this operation does not take.",
    "429": "Too many attempts; see Retry-After.",
    "503": "The database was unavailable; retry.",
}


def _open_to_anyone(view) -> bool:
    return all(permission is AllowAny for permission in view.permission_classes)


def api_not_found(request, exception=None):
    """Django's 404 (a URL no route matches, such as a non-numeric id): JSON under /api/, the
    usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def api_server_error(request):
    """An unhandled exception: JSON under /api/ so clients parse one shape, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return server_error(request)
