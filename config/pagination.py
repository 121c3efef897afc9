"""Cursor pages in the API schema: the query parameters and the shape of a page.

Documented so the schema says what the answer looks like, and so the query parameter allow-list
(config/query_params.py) lets them through.
"""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

INVALID_CURSOR = "invalid cursor: use the `next` or `previous` link of a page."

PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, required=False, description="The `next` or `previous` link's cursor."),
    OpenApiParameter("page_size", int, required=False, description="Items per page (default 100, at most 1000)."),
]


def page_of(name: str, serializer: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "next": serializers.CharField(allow_null=True, help_text="URL of the next page, or null."),
            "previous": serializers.CharField(allow_null=True, help_text="URL of the previous page, or null."),
            "results": serializer,
        },
    )


class IdCursorPagination(CursorPagination):
    """Pages in id order, keyed by a cursor (stable while rows are added); ``?page_size=`` up to
    ``max_page_size``."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        """DRF's decoding, with a 400 naming ``cursor`` for any cursor it did not write: DRF answers
        404 to one it cannot decode, and passed a position such as ``abc`` on to the query (500)."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None
        position = cursor.position if cursor is not None else None
        if position is not None and not (position.isascii() and position.isdigit() and len(position) <= 18):
            raise ValidationError({"cursor": [INVALID_CURSOR]})
        return cursor
