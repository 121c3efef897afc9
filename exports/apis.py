"""REST API for exports. Only managers of the project and staff may export."""

from django.core.exceptions import ValidationError
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import ItemStatus
from annotation.selectors import MANAGE, project_require
from config.errors import Conflict
from config.serializers import InputSerializer
from exports.encoders import CONTENT_TYPES, parquet_available
from exports.models import ExportSnapshot
from exports.records import export_count
from exports.services import export_filename, export_manifest, export_stream, snapshot_create
from exports.spec import FORMATS, ExportSpec, export_spec_parse


class FormatIsOurs(DefaultContentNegotiation):
    """``?format=`` names the export format here, not a DRF renderer; errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


EXPORT_PARAMETERS = [
    OpenApiParameter("format", enum=FORMATS, required=False, description="Default jsonl."),
    OpenApiParameter(
        "status",
        str,
        required=False,
        description=f"Comma-separated statuses ({', '.join(ItemStatus.values)}) or 'all'. Default approved.",
    ),
    OpenApiParameter(
        "since", str, required=False, description="ISO 8601; only items decided at or after it (by decided_at)."
    ),
    OpenApiParameter("include", str, required=False, description="ratings (human), judges, or ratings,judges."),
    OpenApiParameter("reveal_raters", bool, required=False, description="Add rater names to ratings."),
]


def export_spec_for(request) -> ExportSpec:
    spec = export_spec_parse(request.query_params)
    _check_format(spec)
    return spec


def _check_format(spec: ExportSpec) -> None:
    if spec.format == "parquet" and not parquet_available():
        raise ValidationError({"format": ["parquet needs pyarrow, which is not installed on this server."]})


class ProjectExportApi(APIView):
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        parameters=EXPORT_PARAMETERS,
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(description="One record per item; see docs/export.md.")
        },
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        spec = export_spec_for(request)
        response = StreamingHttpResponse(
            export_stream(project=project, spec=spec), content_type=CONTENT_TYPES[spec.format]
        )
        response["Content-Disposition"] = f'attachment; filename="{export_filename(project=project, spec=spec)}"'
        # Counted when the request starts; the body is not buffered to know it.
        response["X-Accord-Record-Count"] = str(export_count(project=project, spec=spec))
        response["X-Accord-Rubric-Version"] = str(project.rubric_version.number)
        response["Cache-Control"] = "no-store"
        return response


class ManifestSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    format = serializers.CharField()
    filters = serializers.JSONField(help_text="format, statuses, since, include, reveal_raters as applied.")
    rubric = serializers.JSONField(help_text="{id, version} the project is pinned to.")
    record_count = serializers.IntegerField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="Of the body the same /export/ request returns.")
    exported_at = serializers.DateTimeField()
    filename = serializers.CharField()


class ProjectExportManifestApi(APIView):
    content_negotiation_class = FormatIsOurs

    @extend_schema(parameters=EXPORT_PARAMETERS, responses=ManifestSerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        return Response(export_manifest(project=project, spec=export_spec_for(request)))


class SnapshotOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    status = serializers.CharField()
    format = serializers.CharField()
    filters = serializers.JSONField(source="params")
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    progress = serializers.SerializerMethodField()
    record_count = serializers.IntegerField(allow_null=True)
    bytes = serializers.IntegerField(source="size_bytes", allow_null=True)
    sha256 = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    download = serializers.SerializerMethodField()

    def get_progress(self, snapshot) -> float | None:
        if snapshot.is_done():
            return 1.0
        if not snapshot.total:
            return None
        return round(min(snapshot.done / snapshot.total, 1.0), 4)

    def get_download(self, snapshot) -> str | None:
        if not snapshot.is_done():
            return None
        return f"/api/v1/export-snapshots/{snapshot.pk}/download/"


class ProjectExportSnapshotsApi(APIView):
    content_negotiation_class = FormatIsOurs

    class SnapshotInputSerializer(InputSerializer):
        format = serializers.CharField(required=False)
        status = serializers.JSONField(required=False, help_text="Comma-separated string or list, or 'all'.")
        since = serializers.CharField(required=False)
        include = serializers.JSONField(required=False, help_text="Comma-separated string or list.")
        reveal_raters = serializers.BooleanField(required=False)

        # Types only; each name is checked by export_spec_parse, as for the query string.
        def validate_status(self, value):
            return _names(value)

        def validate_include(self, value):
            return _names(value)

    @extend_schema(
        parameters=EXPORT_PARAMETERS,
        request=SnapshotInputSerializer,
        responses={202: SnapshotOutputSerializer},
        description="Write the export to a file in the background. Parameters as for the export, in the query "
        "string or the JSON body (the body wins).",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        body = self.SnapshotInputSerializer.parse(request.data)
        params = request.query_params.dict()
        params.update(body)
        spec = export_spec_parse(params)
        _check_format(spec)
        snapshot = snapshot_create(project=project, spec=spec, actor=request.user)
        return Response(SnapshotOutputSerializer(snapshot).data, status=202)


def _names(value):
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    raise serializers.ValidationError("must be a comma-separated string or a list of strings.")


def snapshot_get(request, snapshot_id: int) -> ExportSnapshot:
    snapshot = get_object_or_404(ExportSnapshot.objects.select_related("project"), pk=snapshot_id)
    project_require(user=request.user, project=snapshot.project, roles=MANAGE)
    return snapshot


class ExportSnapshotDetailApi(APIView):
    @extend_schema(responses=SnapshotOutputSerializer)
    def get(self, request, snapshot_id: int):
        return Response(SnapshotOutputSerializer(snapshot_get(request, snapshot_id)).data)


class ExportSnapshotDownloadApi(APIView):
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The snapshot file."),
            409: OpenApiResponse(description="The snapshot is not ready yet, or its file is gone."),
        }
    )
    def get(self, request, snapshot_id: int):
        snapshot = snapshot_get(request, snapshot_id)
        if not snapshot.is_done():
            raise Conflict(f"Snapshot {snapshot.pk} is {snapshot.status}, not ready for download.")
        # The name comes from the row's id and format only; still, refuse anything that would
        # resolve outside the exports folder.
        folder = ExportSnapshot.folder().resolve()
        path = snapshot.path().resolve()
        if path.parent != folder or not path.is_file():
            raise Conflict(f"Snapshot {snapshot.pk}'s file is missing; request a new snapshot.")
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=snapshot.file_name(),
            content_type=CONTENT_TYPES[snapshot.format],
        )
        response["X-Accord-Record-Count"] = str(snapshot.record_count)
        response["X-Accord-Sha256"] = snapshot.sha256
        return response
