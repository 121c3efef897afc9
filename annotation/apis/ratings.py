"""REST API for ratings: submit one, correct your own, import existing labels in bulk, autosave a draft."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.apis.items import DRY_RUN, IMPORT_REQUEST, dry_run_of, rows_from_request
from annotation.models import Item, Rating
from annotation.selectors import (
    MANAGE,
    RATE,
    item_to_rate,
    project_require,
    rater_for_user,
    rating_history,
    ratings_visible,
)
from annotation.services.drafts import draft_get, draft_save
from annotation.services.rating_imports import ratings_import
from annotation.services.ratings import rating_change, rating_submit
from config.parsers import JSONParser
from config.serializers import InputSerializer


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


class RatingInputSerializer(InputSerializer):
    values = serializers.JSONField()
    rationales = serializers.JSONField(required=False)
    seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0)


class ItemRatingsApi(APIView):
    @extend_schema(responses=RatingOutputSerializer(many=True))
    def get(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=RATE)
        return Response(RatingOutputSerializer(ratings_visible(user=request.user, item=item), many=True).data)

    @extend_schema(request=RatingInputSerializer, responses={201: RatingOutputSerializer})
    def post(self, request, item_id: int):
        found = item_to_rate(user=request.user, item_id=item_id, roles=RATE)
        if found is None:
            raise Http404
        item, rater = found
        data = RatingInputSerializer.parse(request.data)
        rating = rating_submit(item=item, rater=rater or rater_for_user(user=request.user), **data)
        return Response(RatingOutputSerializer(rating).data, status=201)


class RatingChangeSerializer(serializers.Serializer):
    changed_by = serializers.CharField(source="changed_by.username", allow_null=True, default=None)
    changed_at = serializers.DateTimeField(source="created_at")
    values_before = serializers.JSONField()
    rationales_before = serializers.JSONField()
    values_after = serializers.JSONField()
    rationales_after = serializers.JSONField()
    source = serializers.CharField()


class MyRatingOutputSerializer(RatingOutputSerializer):
    updated_at = serializers.DateTimeField()
    history = RatingChangeSerializer(many=True, help_text="Earlier corrections of this rating, oldest first.")


class ItemMyRatingApi(APIView):
    """Your own rating of an item under the project's current rubric version, and its corrections."""

    def _item(self, request, item_id: int) -> Item:
        item = get_object_or_404(Item.objects.select_related("project__rubric_version"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=RATE)
        return item

    def _answer(self, rating: Rating) -> Response:
        rating.history = list(rating_history(rating=rating))
        return Response(MyRatingOutputSerializer(rating).data)

    @extend_schema(responses=MyRatingOutputSerializer, description="404 when you have not rated the item.")
    def get(self, request, item_id: int):
        item = self._item(request, item_id)
        rating = get_object_or_404(
            Rating.objects.select_related("rater", "rubric_version"),
            item=item,
            rater__user=request.user,
            rubric_version_id=item.project.rubric_version_id,
        )
        return self._answer(rating)

    @extend_schema(
        request=RatingInputSerializer,
        responses=MyRatingOutputSerializer,
        description="Correct your rating (the same body as the POST; every criterion again). The old values "
        "stay in `history`; the item is decided again. 409 once the item is approved, rejected or "
        "adjudicated by a reviewer; 404 when you have not rated it.",
    )
    def patch(self, request, item_id: int):
        item = self._item(request, item_id)
        data = RatingInputSerializer.parse(request.data)
        rating = rating_change(item=item, rater=rater_for_user(user=request.user), actor=request.user, **data)
        return self._answer(rating)


class ProjectRatingsImportApi(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request=IMPORT_REQUEST,
        parameters=[DRY_RUN],
        responses={
            200: inline_serializer(
                "RatingImportCheck",
                {"created": serializers.IntegerField(), "unchanged": serializers.IntegerField()},
            ),
            201: inline_serializer(
                "RatingImportOutput",
                {"created": serializers.IntegerField(), "unchanged": serializers.IntegerField()},
            ),
        },
        description="Bulk import of existing human labels: {external_id, rater, values, rationales?}. `rater` is a "
        "member's username, or else the name of an external rater of this project (no account, no login). "
        "All or nothing, with a report of every row that failed.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        dry_run = dry_run_of(request)
        result = ratings_import(project=project, rows=rows_from_request(request), dry_run=dry_run)
        return Response(result.as_dict(), status=200 if dry_run else 201)


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
        data = DraftInputSerializer.parse(request.data)
        draft = draft_save(item=item, user=request.user, **data)
        return Response(DraftSerializer(draft).data)
