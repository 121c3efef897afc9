"""REST API for item import. The item list on the same URL, with each item's decision, is
quality/apis/items.py: it extends the import view below."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import MANAGE
from annotation.services.items import items_import
from annotation.services.rows import rows_read_upload
from config.parsers import JSONParser

ImportReport = inline_serializer(
    "ItemImportOutput",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
    },
)


DRY_RUN = OpenApiParameter(
    "dry_run",
    bool,
    required=False,
    description="Check every row and answer 200 with the counts the import would give; nothing is written.",
)


def dry_run_of(request) -> bool:
    return request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}


# An import's body: a JSON array of rows, or a .jsonl / .csv / .json file in the `file` field.
IMPORT_REQUEST = {
    "application/json": {"type": "array", "items": {"type": "object"}},
    "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
}


class ProjectItemsImportApi(APIView):
    """POST: import items. quality.apis.items.ProjectItemsApi serves this URL: it adds the list."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request=IMPORT_REQUEST,
        parameters=[DRY_RUN],
        responses={201: ImportReport, 200: ImportReport},
        description="Create or update items by external_id: a JSON array of {external_id, data, metadata?}, "
        "or a multipart upload of a .jsonl or .csv file in the `file` field. All or nothing.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        dry_run = dry_run_of(request)
        result = items_import(project=project, rows=rows_from_request(request), dry_run=dry_run)
        return Response(result.as_dict(), status=200 if dry_run else 201)


def rows_from_request(request):
    """The rows of an import request: an uploaded file's records, or the JSON array body."""
    upload = request.FILES.get("file") if request.content_type.startswith("multipart/") else None
    if upload is not None:
        try:
            return rows_read_upload(name=upload.name, stream=upload)
        except ValueError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
    if request.content_type.startswith("multipart/"):
        raise ValidationError({"file": ["attach a .jsonl or .csv file in the 'file' field."]})
    if not isinstance(request.data, list):
        raise ValidationError({"non_field_errors": ["send a JSON array of rows."]})
    return request.data
