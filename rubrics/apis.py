from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.serializers import InputSerializer
from rubrics.models import RubricVersion
from rubrics.selectors import (
    rubric_require_author,
    rubric_require_can_create,
    rubric_versions,
    rubric_versions_diff,
    rubrics_for_user,
)
from rubrics.services import rubric_create, rubric_update, rubric_version_copy, rubric_version_publish
from rubrics.templates import rubric_from_template, template_list


class CriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True, required=False)
    scale = serializers.JSONField(help_text='e.g. {"kind": "ordinal", "min": 1, "max": 5, "labels": {"1": "..."}}')
    rationale_required = serializers.BooleanField(required=False)
    required = serializers.BooleanField(required=False)
    gate = serializers.BooleanField(
        required=False,
        help_text="An acceptance gate (binary criteria only): items get acceptance buckets only in projects "
        "whose rubric has gates.",
    )


class RubricVersionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="rubric_id")
    name = serializers.CharField(source="rubric.name")
    version = serializers.IntegerField(source="number")
    version_id = serializers.IntegerField(source="id")
    instructions = serializers.CharField()
    criteria = CriterionSerializer(many=True, source="criteria.all")
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True, help_text="Set once published: the version is frozen.")
    frozen = serializers.BooleanField(source="is_frozen", help_text="Published or rated: edits make a new version.")


class RubricInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(allow_blank=True, required=False, default="")
    # Shape and scale checks live in rubrics.services.criteria_clean, shared with the admin.
    criteria = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


def _latest(rubric) -> RubricVersion:
    return (
        RubricVersion.objects.select_related("rubric").prefetch_related("criteria").get(pk=rubric.latest_version().pk)
    )


class RubricListCreateApi(APIView):
    @extend_schema(responses=RubricVersionOutputSerializer(many=True))
    def get(self, request):
        versions = (
            RubricVersion.objects.filter(rubric__in=rubrics_for_user(user=request.user))
            .select_related("rubric")
            .prefetch_related("criteria")
            .order_by("rubric_id", "-number")
        )
        latest = {}
        for version in versions:
            latest.setdefault(version.rubric_id, version)
        return Response(RubricVersionOutputSerializer(list(latest.values()), many=True).data)

    @extend_schema(request=RubricInputSerializer, responses={201: RubricVersionOutputSerializer})
    def post(self, request):
        rubric_require_can_create(user=request.user)
        data = RubricInputSerializer.parse(request.data)
        version = rubric_create(actor=request.user, **data)
        return Response(RubricVersionOutputSerializer(version).data, status=201)


class RubricDetailApi(APIView):
    """PUT / PATCH edit the latest version in place while it is a draft (unpublished, no ratings);
    after that they create a new version, and ratings keep pointing at the version they were made
    against."""

    def _rubric(self, request, rubric_id):
        return get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)

    @extend_schema(responses=RubricVersionOutputSerializer)
    def get(self, request, rubric_id: int):
        return Response(RubricVersionOutputSerializer(_latest(self._rubric(request, rubric_id))).data)

    def _update(self, request, rubric_id: int, *, partial: bool):
        rubric = self._rubric(request, rubric_id)
        rubric_require_author(user=request.user, rubric=rubric)
        data = RubricInputSerializer.parse(request.data, partial=partial)
        version = rubric_update(actor=request.user, rubric=rubric, **data)
        return Response(RubricVersionOutputSerializer(version).data)

    @extend_schema(request=RubricInputSerializer, responses=RubricVersionOutputSerializer)
    def put(self, request, rubric_id: int):
        return self._update(request, rubric_id, partial=False)

    @extend_schema(request=RubricInputSerializer, responses=RubricVersionOutputSerializer)
    def patch(self, request, rubric_id: int):
        return self._update(request, rubric_id, partial=True)


class RubricVersionListApi(APIView):
    @extend_schema(responses=RubricVersionOutputSerializer(many=True))
    def get(self, request, rubric_id: int):
        rubric = get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)
        versions = rubric_versions(rubric=rubric).select_related("rubric")
        return Response(RubricVersionOutputSerializer(versions, many=True).data)


class RubricVersionDetailApi(APIView):
    @extend_schema(responses=RubricVersionOutputSerializer)
    def get(self, request, rubric_id: int, number: int):
        rubric = get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)
        version = get_object_or_404(rubric_versions(rubric=rubric).select_related("rubric"), number=number)
        return Response(RubricVersionOutputSerializer(version).data)


class RubricTemplateOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    instructions = serializers.CharField()
    criteria = CriterionSerializer(many=True)


class RubricTemplateListApi(APIView):
    """Built-in rubric templates, to load with POST /rubrics/from-template/."""

    @extend_schema(responses=RubricTemplateOutputSerializer(many=True))
    def get(self, request):
        return Response(RubricTemplateOutputSerializer(template_list(), many=True).data)


class RubricFromTemplateInputSerializer(InputSerializer):
    # Unknown keys are rejected by rubric_from_template, which lists the known ones.
    template = serializers.CharField()
    name = serializers.CharField(max_length=200, required=False)


class RubricFromTemplateApi(APIView):
    """Create a rubric (version 1) from a built-in template; edit it afterwards like any rubric."""

    @extend_schema(request=RubricFromTemplateInputSerializer, responses={201: RubricVersionOutputSerializer})
    def post(self, request):
        rubric_require_can_create(user=request.user)
        data = RubricFromTemplateInputSerializer.parse(request.data)
        version = rubric_from_template(actor=request.user, **data)
        return Response(RubricVersionOutputSerializer(version).data, status=201)


def _version(request, rubric_id: int, number: int) -> RubricVersion:
    rubric = get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)
    return get_object_or_404(rubric_versions(rubric=rubric).select_related("rubric"), number=number)


class RubricVersionPublishApi(APIView):
    """Publish (freeze) a version: it never changes again; edits to the rubric make a new version."""

    @extend_schema(request=None, responses=RubricVersionOutputSerializer)
    def post(self, request, rubric_id: int, number: int):
        version = _version(request, rubric_id, number)
        rubric_require_author(user=request.user, rubric=version.rubric)
        return Response(RubricVersionOutputSerializer(rubric_version_publish(actor=request.user, version=version)).data)


class RubricVersionCopyApi(APIView):
    """A new draft version (the next number) with this version's instructions and criteria."""

    @extend_schema(request=None, responses={201: RubricVersionOutputSerializer})
    def post(self, request, rubric_id: int, number: int):
        version = _version(request, rubric_id, number)
        rubric_require_author(user=request.user, rubric=version.rubric)
        copy = rubric_version_copy(actor=request.user, version=version)
        return Response(RubricVersionOutputSerializer(copy).data, status=201)


class RubricDiffApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True, description="The older version's number."),
            OpenApiParameter("to", int, required=True, description="The newer version's number."),
        ],
        responses=inline_serializer(
            "RubricDiffOutput",
            {
                "instructions": serializers.JSONField(allow_null=True),
                "criteria": serializers.JSONField(),
                "same": serializers.BooleanField(),
            },
        ),
        description="What changed between two versions: instructions, and each criterion by key "
        "(added, removed, changed with each field's before and after, moved, same).",
    )
    def get(self, request, rubric_id: int):
        numbers = {}
        for name in ("from", "to"):
            try:
                numbers[name] = int(request.query_params.get(name, ""))
            except ValueError:
                raise ValidationError({name: ["give a version number."]}) from None
        old = _version(request, rubric_id, numbers["from"])
        new = _version(request, rubric_id, numbers["to"])
        return Response(rubric_versions_diff(old=old, new=new))
