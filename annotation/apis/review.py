"""REST API for review: items to adjudicate with every rater side by side, gold, and sending an item
back to its raters."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Item
from annotation.selectors import REVIEW, items_for_review, project_require, ratings_for_review, without_jit
from annotation.services.review import gold_set, item_send_back
from config.pagination import PAGE_PARAMETERS, IdCursorPagination, page_of
from config.serializers import InputSerializer


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


class ReviewCursorPagination(IdCursorPagination):
    page_size = 50
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
        with without_jit():
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


def _item_to_review(request, item_id: int) -> Item:
    """The item named in the URL, for a reviewer or manager of its project (else 404 / 403)."""
    item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
    project_require(user=request.user, project=item.project, roles=REVIEW)
    return item


class ItemGoldApi(APIView):
    @extend_schema(request=GoldInputSerializer, responses={201: GoldOutputSerializer})
    def post(self, request, item_id: int):
        item = _item_to_review(request, item_id)
        data = GoldInputSerializer.parse(request.data)
        gold = gold_set(item=item, reviewer=request.user, **data)
        return Response(GoldOutputSerializer(gold).data, status=201)


class SendBackInputSerializer(InputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)


class SendBackOutputSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    note = serializers.CharField()
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True)
    created_at = serializers.DateTimeField()


class ItemSendBackApi(APIView):
    @extend_schema(
        request=SendBackInputSerializer,
        responses={201: SendBackOutputSerializer},
        description="Send the item back to its raters instead of deciding it: it leaves the review list until "
        "one of them changes their rating (PATCH /items/{id}/ratings/mine/); they see the note. 409 once "
        "the item is decided.",
    )
    def post(self, request, item_id: int):
        item = _item_to_review(request, item_id)
        data = SendBackInputSerializer.parse(request.data)
        back = item_send_back(item=item, reviewer=request.user, **data)
        return Response(SendBackOutputSerializer(back).data, status=201)
