"""REST API for the overlap queue: lease the next item, skip one, take a skip back.

Blind by default: what an annotator receives here is the item itself, never another rater's values.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import RATE, items_for_project
from annotation.services.queue import assignment_claim_next, assignment_skip, assignment_unskip
from config.serializers import InputSerializer


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


def _item_of(project, item_id: int):
    item = items_for_project(project=project).filter(pk=item_id).first()
    if item is None:
        raise ValidationError({"item": [f"no item {item_id} in this project."]})
    return item


class QueueSkipInputSerializer(InputSerializer):
    item = serializers.IntegerField()
    reason = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")


class QueueSkipApi(APIView):
    @extend_schema(request=QueueSkipInputSerializer, responses={204: None})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        data = QueueSkipInputSerializer.parse(request.data)
        item = _item_of(project, data["item"])
        assignment_skip(project=project, user=request.user, item=item, reason=data["reason"])
        return Response(status=204)


class QueueUnskipInputSerializer(InputSerializer):
    item = serializers.IntegerField()


class QueueUnskipApi(APIView):
    @extend_schema(
        request=QueueUnskipInputSerializer,
        responses={204: None},
        description="Take back your skip of an item: the queue may offer it to you again. Idempotent.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        data = QueueUnskipInputSerializer.parse(request.data)
        item = _item_of(project, data["item"])
        assignment_unskip(project=project, user=request.user, item=item)
        return Response(status=204)
