"""REST API for the dataset's quality estimate and the audit sample it rests on (docs/triage.md)."""

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Item, Rater, RaterKind
from annotation.selectors import MANAGE, REVIEW
from config.serializers import InputSerializer
from quality.selectors.estimate import project_estimate
from quality.services.audit import MAX_AUDIT, audit_sample_draw


class EstimateSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["ppi++", "ppi", "human", "judge"])
    estimate = serializers.FloatField(allow_null=True)
    std_error = serializers.FloatField(allow_null=True)
    ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="95 % interval.")
    lam = serializers.FloatField(allow_null=True, help_text="Weight on the judge (ppi: 1; ppi++: tuned).")
    reason = serializers.CharField(allow_null=True, help_text="Why the estimate is undefined, if it is.")


class QuantitySerializer(serializers.Serializer):
    key = serializers.CharField(help_text='"accepted", a criterion key, or "<key>>=<level>".')
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=["share", "mean"])
    axis = serializers.ListField(child=serializers.FloatField())
    items = serializers.IntegerField()
    audited = serializers.IntegerField(help_text="Labelled prefix of the audit the estimate uses.")
    verdicts = serializers.IntegerField(help_text="Items with a verdict from the judge on this quantity.")
    estimates = EstimateSerializer(many=True)


class AuditStateSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    seed_fixed = serializers.BooleanField()
    labelled = serializers.IntegerField(help_text="Audited items people have decided.")
    outdated = serializers.BooleanField(help_text="Items were imported or deleted since the draw: draw again.")


class ProjectEstimateSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    judge = serializers.DictField(allow_null=True)
    judges = serializers.ListField(child=serializers.DictField())
    items = serializers.IntegerField()
    audit = AuditStateSerializer()
    quantities = QuantitySerializer(many=True)


def _judge_param(request, project) -> Rater | None:
    raw = request.query_params.get("judge")
    if raw is None:
        return None
    judge = None
    if raw.isdigit():
        judge = Rater.objects.filter(pk=int(raw), kind=RaterKind.JUDGE, ratings__item__project=project).first()
    if judge is None:
        raise ValidationError({"judge": ["no judge with verdicts in this project has that rater id."]})
    return judge


def _at_least_param(request) -> tuple[str, float] | None:
    criterion, level = request.query_params.get("criterion"), request.query_params.get("at_least")
    if criterion is None and level is None:
        return None
    if criterion is None or level is None:
        raise ValidationError({"at_least" if level is None else "criterion": ["criterion and at_least go together."]})
    try:
        number = float(level)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValidationError({"at_least": ["must be a number."]})
    return criterion, number


class ProjectEstimateApi(APIView):
    """The share of items that meet the rubric and each criterion's mean, with 95 % intervals:
    PPI++ and PPI (a judge's verdicts on every item, corrected by its errors on the audit sample),
    beside human-only (the audit alone) and judge-only (naive: valid only if the judge is right).
    The PPI intervals are valid because the audit is a uniform random sample (docs/triage.md)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("judge", int, description="The judge version's rater id (default: most verdicts)."),
            OpenApiParameter("criterion", str, description="With at_least: one more share to estimate."),
            OpenApiParameter("at_least", float, description="The share of items with criterion >= this level."),
        ],
        responses=ProjectEstimateSerializer,
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        judge = _judge_param(request, project)
        at_least = _at_least_param(request)
        try:
            answer = project_estimate(project=project, judge=judge, at_least=at_least)
        except KeyError:
            raise ValidationError({"criterion": ["no ordinal, interval or ratio criterion with that key."]}) from None
        return Response(answer)


class AuditInputSerializer(InputSerializer):
    size = serializers.IntegerField(min_value=0, max_value=MAX_AUDIT)
    seed = serializers.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Only at the first draw; random by default."
    )


class AuditSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    seed = serializers.IntegerField(allow_null=True)
    items = serializers.ListField(child=serializers.CharField(), help_text="External ids, in draw order.")
    added = serializers.IntegerField(required=False)
    removed = serializers.IntegerField(required=False)


def _audit_body(project) -> dict:
    ids = (
        Item.objects.filter(project=project, audit_rank__isnull=False)
        .order_by("audit_rank")
        .values_list("external_id", flat=True)
    )
    return {"size": project.audit_size, "seed": project.audit_seed, "items": list(ids)}


class ProjectAuditApi(APIView):
    """The audit sample: a uniformly random sample of items that people label whatever the judge
    said, served first by the queue in draw order. POST sets its size (managers): a larger size
    extends the sample, a smaller one keeps its first items; the seed is fixed at the first draw."""

    @extend_schema(responses=AuditSerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        return Response(_audit_body(project))

    @extend_schema(request=AuditInputSerializer, responses=AuditSerializer)
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = AuditInputSerializer.parse(request.data)
        draw = audit_sample_draw(project=project, size=data["size"], seed=data.get("seed"), actor=request.user)
        return Response({**_audit_body(project), "added": draw.added, "removed": draw.removed})
