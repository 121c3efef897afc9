"""One error vocabulary for domain code, and the one place it becomes HTTP.

Services raise Django's ValidationError (field-level messages), PermissionDenied, or the two
errors below; they never import DRF. The handler turns all of them into 4xx JSON of one shape:
``{"detail": "...", "errors": {field: [messages]}}``.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

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
