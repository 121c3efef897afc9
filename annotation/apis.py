"""REST API for projects, members, items and ratings. Views parse, check access, call one service."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.acceptance import BUCKETS, acceptance_of, gates_of
from annotation.models import Item, ItemStatus, Membership, Project, Role
from annotation.selectors import (
    MANAGE,
    RATE,
    REVIEW,
    items_for_project,
    items_for_review,
    project_require,
    project_role,
    projects_for_user,
    rater_for_user,
    ratings_for_review,
    ratings_visible,
)
from annotation.services.drafts import draft_get, draft_save
from annotation.services.items import items_import, rows_read_upload
from annotation.services.projects import membership_set, project_create, project_update
from annotation.services.queue import assignment_claim_next, assignment_skip
from annotation.services.ratings import rating_submit, ratings_import
from annotation.services.review import gold_set
from config.serializers import InputSerializer
from rubrics.selectors import rubrics_for_user


def project_get(request, project_id: int, roles: frozenset[str]) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=roles)
    return project


class ProjectOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    guidelines = serializers.CharField()
    rubric = serializers.IntegerField(source="rubric_version.rubric_id")
    rubric_version = serializers.IntegerField(source="rubric_version.number")
    annotations_per_item = serializers.IntegerField()
    lease_minutes = serializers.IntegerField()
    tasks_project = serializers.IntegerField(source="tasks_project_id", allow_null=True)
    created_at = serializers.DateTimeField()


class ProjectInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    rubric = serializers.IntegerField(help_text="Rubric id; the project pins its latest version.")
    rubric_version = serializers.IntegerField(required=False, help_text="Pin this version number instead.")
    guidelines = serializers.CharField(allow_blank=True, required=False, default="")
    annotations_per_item = serializers.IntegerField(required=False, default=3, min_value=1, max_value=50)
    lease_minutes = serializers.IntegerField(required=False, default=30, min_value=1, max_value=1440)
    tasks_project = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="For a project of agent traces: the id of the project holding their tasks (you must manage it). "
        "Each trace's data.task names a task's external_id there.",
    )

    def validated_rubric(self) -> dict:
        data = dict(self.validated_data)
        number = data.pop("rubric_version", None)
        if number is not None:
            data["rubric"] = {"id": data["rubric"], "version": number}
        return data


def _tasks_project(request, project_id: int | None) -> Project | None:
    if project_id is None:
        return None
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project_role(user=request.user, project=project) not in MANAGE:
        raise ValidationError({"tasks_project": [f"no project {project_id} that you manage."]})
    return project


class ProjectListCreateApi(APIView):
    @extend_schema(responses=ProjectOutputSerializer(many=True))
    def get(self, request):
        return Response(ProjectOutputSerializer(projects_for_user(user=request.user), many=True).data)

    @extend_schema(request=ProjectInputSerializer, responses={201: ProjectOutputSerializer})
    def post(self, request):
        if not (request.user.is_staff or request.user.has_perm("annotation.add_project")):
            raise PermissionDenied("Creating projects needs staff status or the 'add project' permission.")
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_rubric()
        rubric = fields.pop("rubric")
        rubric_id = rubric["id"] if isinstance(rubric, dict) else rubric
        if not rubrics_for_user(user=request.user).filter(pk=rubric_id).exists():
            raise ValidationError({"rubric": [f"no rubric {rubric_id} that you can use."]})
        if "tasks_project" in fields:
            fields["tasks_project"] = _tasks_project(request, fields["tasks_project"])
        project = project_create(actor=request.user, rubric=rubric, **fields)
        return Response(ProjectOutputSerializer(project).data, status=201)


class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectOutputSerializer)
    def get(self, request, project_id: int):
        return Response(ProjectOutputSerializer(project_get(request, project_id, RATE)).data)

    @extend_schema(request=ProjectInputSerializer, responses=ProjectOutputSerializer)
    def patch(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = ProjectInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "rubric_version" in changes:
            changes["rubric"] = {
                "id": changes.pop("rubric", project.rubric_version.rubric_id),
                "version": changes.pop("rubric_version"),
            }
        if "rubric" in changes and not isinstance(changes["rubric"], dict):
            raise ValidationError({"rubric_version": ["name the version number to upgrade to."]})
        # As on create: only a rubric you can see, or its criteria would reach your members.
        if "rubric" in changes and not rubrics_for_user(user=request.user).filter(pk=changes["rubric"]["id"]).exists():
            raise ValidationError({"rubric": [f"no rubric {changes['rubric']['id']} that you can use."]})
        if "tasks_project" in changes:
            changes["tasks_project"] = _tasks_project(request, changes["tasks_project"])
        project = project_update(project=project, **changes)
        return Response(ProjectOutputSerializer(project).data)


class MemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()


class ProjectMembersApi(APIView):
    class MemberInputSerializer(InputSerializer):
        user = serializers.JSONField(help_text="User id or username.")
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        members = Membership.objects.filter(project=project).select_related("user").order_by("id")
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(request=MemberInputSerializer, responses={201: MemberSerializer})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = self.MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_set(project=project, **data.validated_data)
        return Response(MemberSerializer(membership).data, status=201)


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
        help_text="Task acceptance bucket, for rubrics with binary gate criteria; shown to reviewers and "
        "managers only (null otherwise), so annotators stay blind to decisions."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(AcceptanceSerializer(allow_null=True))
    def get_acceptance(self, item: Item) -> dict | None:
        gates = self.context.get("gates")
        if not gates:
            return None
        return acceptance_of(gates=gates, status=item.status, consensus=item.consensus)


class ItemCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


# Cursor pages: documented so the schema says what the answer looks like, and so the query
# parameter allow-list (config/query_params.py) lets them through.
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


ImportReport = inline_serializer(
    "ItemImportOutput",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
    },
)


class ProjectItemsApi(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=ItemStatus.values, required=False),
            OpenApiParameter(
                "bucket",
                enum=BUCKETS,
                required=False,
                description="Task acceptance bucket (reviewers and managers only).",
            ),
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
        items = items_for_project(project=project, status=status, bucket=bucket)
        paginator = ItemCursorPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        context = {"gates": gates_of(project.rubric_version) if reviewer else None}
        return paginator.get_paginated_response(ItemOutputSerializer(page, many=True, context=context).data)

    @extend_schema(
        request={
            "application/json": {"type": "array", "items": {"type": "object"}},
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={201: ImportReport},
        description="Create or update items by external_id: a JSON array of {external_id, data, metadata?}, "
        "or a multipart upload of a .jsonl or .csv file in the `file` field. All or nothing.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        result = items_import(project=project, rows=_rows_from_request(request))
        return Response(result.as_dict(), status=201)


def _rows_from_request(request):
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


class ItemDetailApi(APIView):
    @extend_schema(responses=ItemOutputSerializer)
    def get(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
        role = project_require(user=request.user, project=item.project, roles=RATE)
        gates = gates_of(item.project.rubric_version) if role in REVIEW else None
        return Response(ItemOutputSerializer(item, context={"gates": gates}).data)


class RatingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    rater = serializers.CharField(source="rater.name")
    rater_kind = serializers.CharField(source="rater.kind")
    rubric_version = serializers.IntegerField(source="rubric_version.number")
    values = serializers.JSONField()
    rationales = serializers.JSONField()
    seconds_spent = serializers.FloatField(allow_null=True)
    source = serializers.CharField()
    created_at = serializers.DateTimeField()


class ItemRatingsApi(APIView):
    class RatingInputSerializer(InputSerializer):
        values = serializers.JSONField()
        rationales = serializers.JSONField(required=False)
        seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0)

    @extend_schema(responses=RatingOutputSerializer(many=True))
    def get(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=RATE)
        return Response(RatingOutputSerializer(ratings_visible(user=request.user, item=item), many=True).data)

    @extend_schema(request=RatingInputSerializer, responses={201: RatingOutputSerializer})
    def post(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=RATE)
        data = self.RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = rating_submit(item=item, rater=rater_for_user(user=request.user), **data.validated_data)
        return Response(RatingOutputSerializer(rating).data, status=201)


class ProjectRatingsImportApi(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": {"type": "array", "items": {"type": "object"}},
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        responses={
            201: inline_serializer(
                "RatingImportOutput",
                {"created": serializers.IntegerField(), "unchanged": serializers.IntegerField()},
            )
        },
        description="Bulk import of existing human labels: {external_id, rater: username, values, rationales?}. "
        "All or nothing, with a report of every row that failed.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        result = ratings_import(project=project, rows=_rows_from_request(request))
        return Response(result.as_dict(), status=201)


# Queue, drafts and review. Blind by default: what an annotator receives here is the item
# itself and their own draft, never another rater's values; the review endpoints need REVIEW.


class QueueItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    data = serializers.JSONField()


class LeaseOutputSerializer(serializers.Serializer):
    item = QueueItemSerializer()
    lease_expires_at = serializers.DateTimeField(source="expires_at")


class QueueNextApi(APIView):
    @extend_schema(
        request=None,
        responses={200: LeaseOutputSerializer, 204: None},
        description="Lease the next item to rate (or return the item you already hold). "
        "204 when nothing is left for you in this project.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        lease = assignment_claim_next(project=project, user=request.user)
        if lease is None:
            return Response(status=204)
        return Response(LeaseOutputSerializer(lease).data)


class QueueSkipInputSerializer(InputSerializer):
    item = serializers.IntegerField()
    reason = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")


class QueueSkipApi(APIView):
    @extend_schema(request=QueueSkipInputSerializer, responses={204: None})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        data = QueueSkipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = items_for_project(project=project).filter(pk=data.validated_data["item"]).first()
        if item is None:
            raise ValidationError({"item": [f"no item {data.validated_data['item']} in this project."]})
        assignment_skip(project=project, user=request.user, item=item, reason=data.validated_data["reason"])
        return Response(status=204)


class DraftSerializer(serializers.Serializer):
    values = serializers.JSONField()
    rationales = serializers.JSONField()
    seconds_spent = serializers.FloatField(allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)


class DraftInputSerializer(InputSerializer):
    values = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    rationales = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    seconds_spent = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)


class ItemDraftApi(APIView):
    def _item(self, request, item_id: int) -> Item:
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=RATE)
        return item

    @extend_schema(responses={200: DraftSerializer, 204: None}, description="Your draft on this item; 204 if none.")
    def get(self, request, item_id: int):
        draft = draft_get(item=self._item(request, item_id), user=request.user)
        if draft is None:
            return Response(status=204)
        return Response(DraftSerializer(draft).data)

    @extend_schema(request=DraftInputSerializer, responses=DraftSerializer)
    def put(self, request, item_id: int):
        item = self._item(request, item_id)
        data = DraftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = draft_save(item=item, user=request.user, **data.validated_data)
        return Response(DraftSerializer(draft).data)


class ReviewRatingSerializer(serializers.Serializer):
    rater = serializers.CharField(source="rater.name")
    kind = serializers.CharField(source="rater.kind")
    values = serializers.JSONField()
    rationales = serializers.JSONField()
    created_at = serializers.DateTimeField()


class ReviewItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    data = serializers.JSONField()
    status = serializers.CharField()
    ratings = ReviewRatingSerializer(many=True, source="review_ratings")


class ReviewCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ProjectReviewApi(APIView):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses=page_of("ReviewPage", ReviewItemSerializer(many=True)),
        description="Items to adjudicate (sent to review, or raters disagree) with every rater's values side by side.",
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        items = items_for_review(project=project).prefetch_related(ratings_for_review(project=project))
        paginator = ReviewCursorPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(ReviewItemSerializer(page, many=True).data)


class GoldOutputSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    rubric_version = serializers.IntegerField(source="rubric_version.number")
    values = serializers.JSONField()
    rationales = serializers.JSONField()
    note = serializers.CharField()
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True)
    updated_at = serializers.DateTimeField()


class GoldInputSerializer(InputSerializer):
    values = serializers.JSONField()
    rationales = serializers.JSONField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)


class ItemGoldApi(APIView):
    @extend_schema(request=GoldInputSerializer, responses={201: GoldOutputSerializer})
    def post(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=REVIEW)
        data = GoldInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gold = gold_set(item=item, reviewer=request.user, **data.validated_data)
        return Response(GoldOutputSerializer(gold).data, status=201)
