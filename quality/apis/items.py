"""REST API for a project's items with their decisions: status, and the acceptance bucket.

The same URL takes item imports (POST): that part is annotation's (annotation/apis/items.py),
which this view extends.
"""

from dataclasses import replace

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.apis.items import ProjectItemsImportApi
from annotation.models import Item, ItemStatus
from annotation.selectors import RATE, REVIEW, project_require, project_role
from config.pagination import PAGE_PARAMETERS, IdCursorPagination, page_of
from quality.selectors.acceptance import BUCKETS, acceptance_of
from quality.selectors.items_browser import DISAGREEMENT, ItemFilters, item_filters_parse, items_filtered
from rubrics.gates import gates_of


class AcceptanceSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=BUCKETS)
    failing = serializers.ListField(child=serializers.CharField(), help_text="Gate criteria that did not pass.")
    reason = serializers.CharField(allow_null=True, help_text="The consensus rejection reason, if any.")


class ItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    data = serializers.JSONField()
    metadata = serializers.JSONField()
    status = serializers.CharField()
    acceptance = serializers.SerializerMethodField(
        help_text="Task acceptance bucket, for rubrics with acceptance gate criteria (null in plain projects); "
        "shown to reviewers and managers only (null otherwise), so annotators stay blind to decisions."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(AcceptanceSerializer(allow_null=True))
    def get_acceptance(self, item: Item) -> dict | None:
        gates = self.context.get("gates")
        if not gates:
            return None
        return acceptance_of(gates=gates, status=item.status, consensus=item.consensus)


class ProjectItemsApi(ProjectItemsImportApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=ItemStatus.values, required=False),
            OpenApiParameter(
                "bucket",
                enum=BUCKETS,
                required=False,
                description="Task acceptance bucket (reviewers and managers only; 400 in a project whose rubric "
                "has no acceptance gates).",
            ),
            OpenApiParameter(
                "disagreement",
                enum=list(DISAGREEMENT),
                required=False,
                description="Some criterion's stored rater disagreement above 0 (any) or 0.5 (high). "
                "Reviewers and managers only, as are judge, rater and q.",
            ),
            OpenApiParameter(
                "judge",
                enum=["disagrees"],
                required=False,
                description="A judge's value differs from the item's consensus on some scored criterion.",
            ),
            OpenApiParameter("rater", int, required=False, description="Rated by this rater (person or judge)."),
            OpenApiParameter("q", str, required=False, description="The external id contains this text (any case)."),
            *PAGE_PARAMETERS,
        ],
        responses=page_of("ItemPage", ItemOutputSerializer(many=True)),
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        status = request.query_params.get("status")
        if status is not None and status not in ItemStatus.values:
            raise ValidationError({"status": [f"must be one of {', '.join(ItemStatus.values)}."]})
        bucket = request.query_params.get("bucket")
        if bucket is not None and bucket not in BUCKETS:
            raise ValidationError({"bucket": [f"must be one of {', '.join(BUCKETS)}."]})
        reviewer = project_role(user=request.user, project=project) in REVIEW
        if bucket is not None and not reviewer:
            raise PermissionDenied("Filtering by acceptance bucket needs the reviewer or manager role.")
        gates = gates_of(project.rubric_version)
        if bucket is not None and not gates:
            raise ValidationError({"bucket": ["this project's rubric has no acceptance gates, so no buckets."]})
        # The items browser's filters (quality/selectors/items_browser.py), so page and API agree.
        extra = {
            k: request.query_params[k] for k in ("disagreement", "judge", "rater", "q") if k in request.query_params
        }
        if extra and not reviewer:
            raise PermissionDenied("Filtering by ratings and disagreement needs the reviewer or manager role.")
        filters = item_filters_parse(extra, has_gates=bool(gates)) if extra else ItemFilters()
        filters = replace(filters, status=status or "", bucket=bucket or "")
        items = items_filtered(project=project, filters=filters)
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        context = {"gates": gates if reviewer else None}
        return paginator.get_paginated_response(ItemOutputSerializer(page, many=True, context=context).data)


class ItemDetailApi(APIView):
    @extend_schema(responses=ItemOutputSerializer)
    def get(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
        role = project_require(user=request.user, project=item.project, roles=RATE)
        gates = gates_of(item.project.rubric_version) if role in REVIEW else None
        return Response(ItemOutputSerializer(item, context={"gates": gates}).data)
