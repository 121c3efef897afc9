"""REST API for the Quality Signal report (failure modes of agent traces by task bucket)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import REVIEW, project_require
from quality.selectors.failure_modes import failure_mode_report


class ShareSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    total = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="95 % Wilson interval.")


class DifferenceSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Accepted share minus rejected share.")
    ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="95 % Newcombe interval.")


class ModeRowSerializer(serializers.Serializer):
    mode = serializers.CharField()
    failure_class = serializers.ChoiceField(choices=["meaningful", "degenerate"])
    accepted = ShareSerializer()
    rejected = ShareSerializer()
    difference = DifferenceSerializer()

    def get_fields(self):
        fields = super().get_fields()
        fields["class"] = fields.pop("failure_class")  # "class" is a keyword in Python
        return fields


class ClassRowSerializer(ModeRowSerializer):
    mode = None


class BucketCountSerializer(serializers.Serializer):
    tasks = serializers.IntegerField()
    traces = serializers.IntegerField()


class MeanSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Tasks with a numeric value.")


class MetadataRowSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=["accepted", "rejected", "undecided"])
    tasks = serializers.IntegerField()
    pass_rate = MeanSerializer()
    tool_calls = MeanSerializer()
    output_tokens = MeanSerializer()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField(help_text="Of the rejected tasks.")


class TraceCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    counted = serializers.IntegerField(help_text="Decided traces whose task is accepted or rejected.")
    unlinked = serializers.IntegerField(help_text="data.task missing or not a task of the tasks project.")
    undecided = serializers.IntegerField(help_text="Failure mode not decided yet.")
    task_undecided = serializers.IntegerField(help_text="The task has no bucket yet.")


class FailureModeReportSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    tasks_project = serializers.IntegerField()
    traces = TraceCountsSerializer()
    buckets = serializers.DictField(child=BucketCountSerializer())
    modes = ModeRowSerializer(many=True)
    classes = ClassRowSerializer(many=True)
    metadata = MetadataRowSerializer(many=True)
    rejection_reasons = ReasonSerializer(many=True)


class FailureModeReportApi(APIView):
    """Failure modes of this project's agent traces in accepted against rejected tasks."""

    @extend_schema(responses=FailureModeReportSerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        if project.tasks_project is not None:
            # The report shows which of the tasks project's tasks were accepted.
            project_require(user=request.user, project=project.tasks_project, roles=REVIEW)
        return Response(failure_mode_report(project=project))
