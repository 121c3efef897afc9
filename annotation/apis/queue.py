"""REST API for the overlap queue: lease the next item (or wait, or nothing left), skip one, take a
skip back.

Blind by default: what an annotator receives here is the item itself, never another rater's values.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import RATE, items_for_project
from annotation.services.queue import assignment_skip, assignment_unskip
from annotation.services.queue_wait import WAIT_POLL_SECONDS, QueueWait, assignment_claim_or_wait
from config.serializers import InputSerializer


class QueueItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    data = serializers.JSONField()


class LeaseOutputSerializer(serializers.Serializer):
    item = QueueItemSerializer()
    lease_expires_at = serializers.DateTimeField(source="expires_at")


class QueueWaitOutputSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["waiting"])
    retry_after = serializers.IntegerField(min_value=1, max_value=WAIT_POLL_SECONDS)
    detail = serializers.CharField()


_WAITING = (
    "Nothing to lease right now, but items you may still rate are held by other people and may come "
    "back (a skip, a lease that lapses): ask again after retry_after seconds."
)


class QueueNextApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: LeaseOutputSerializer,
            202: OpenApiResponse(
                QueueWaitOutputSerializer,
                description="Waiting: nothing to lease now, but items others hold may come back. Ask again "
                "after `retry_after` seconds (also in the `Retry-After` header).",
            ),
            204: OpenApiResponse(description="Nothing is left for you that could come back."),
        },
        description="Lease the next item to rate (or return the item you already hold). "
        "202 while the only items left for you are leased by other people (poll: they may skip them "
        "or let their lease lapse); 204 only when nothing is left for you in this project.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        answer = assignment_claim_or_wait(project=project, user=request.user)
        if answer is None:
            return Response(status=204)
        if isinstance(answer, QueueWait):
            wait = {"state": "waiting", "retry_after": answer.retry_after, "detail": _WAITING}
            body = QueueWaitOutputSerializer(wait).data
            return Response(body, status=202, headers={"Retry-After": str(answer.retry_after)})
        return Response(LeaseOutputSerializer(answer).data)


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
