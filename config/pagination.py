"""Cursor pages in the API schema: the query parameters and the shape of a page.

Documented so the schema says what the answer looks like, and so the query parameter allow-list
(config/query_params.py) lets them through.
"""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

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
