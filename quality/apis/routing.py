"""REST API for judge-first routing (the trade-off on gold, choosing the threshold) and for fitting
the posterior stopping rule."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import MANAGE, REVIEW
from quality.apis.approval import PolicySerializer
from quality.selectors.policy import policy_for
from quality.selectors.routing import routing_tradeoff
from quality.services.posterior import posterior_fit_request
from quality.services.routing import routing_threshold_choose


class RoutingSerializer(serializers.Serializer):
    judge = serializers.DictField(allow_null=True)
    bar = serializers.FloatField(allow_null=True, help_text="Human-human agreement (all criteria).")
    bar_pairs = serializers.IntegerField()
    gold_items = serializers.IntegerField(
        help_text="Held-out gold items with a verdict of the judge the curve is drawn on (outside excluded slices)."
    )
    gold_source = serializers.CharField(
        allow_null=True,
        help_text='"audit": gold on a prefix of the audit sample (a uniform sample: the guarantee holds); '
        '"all": every gold item (mostly disputed ones: indicative only).',
    )
    slice_by = serializers.CharField(help_text="The item metadata key audited per slice ('': no slice check).")
    slices = serializers.ListField(
        child=serializers.DictField(),
        help_text="Per slice: the judge's accuracy on this gold (with its interval) against its mean confidence.",
    )
    excluded_slices = serializers.ListField(
        child=serializers.JSONField(), help_text="The overconfident slices, left out of the curve and the choice."
    )
    choice = serializers.DictField(allow_null=True, help_text="threshold, accuracy, lower bound and the curve.")
    reason = serializers.CharField(allow_null=True)
    policy = PolicySerializer(required=False)


class ProjectRoutingApi(APIView):
    """The routing judge's trade-off on held-out gold: per candidate confidence threshold, the share
    of gold it would keep and its accuracy there, against the human-human agreement it must match."""

    @extend_schema(responses=RoutingSerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        policy = policy_for(project=project)
        return Response({**routing_tradeoff(project=project, policy=policy), "policy": PolicySerializer(policy).data})


class RoutingThresholdApi(APIView):
    """Choose the routing judge and threshold on gold (managers) and re-decide the items. Set
    ``routing`` to ``judge_first`` on the approval policy for it to decide items."""

    @extend_schema(request=None, responses=RoutingSerializer)
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        policy, tradeoff, _ = routing_threshold_choose(project=project)
        return Response({**tradeoff, "policy": PolicySerializer(policy).data})


class PosteriorFitSerializer(serializers.Serializer):
    policy = PolicySerializer()
    items_reevaluation = serializers.ChoiceField(choices=["done", "queued"])


class PosteriorFitQueuedSerializer(serializers.Serializer):
    state = serializers.CharField(help_text='"queued": the fit runs on a worker; the policy shows it once stored.')
    ratings = serializers.IntegerField(help_text="The ratings it fits on.")


class PosteriorFitApi(APIView):
    """Fit the posterior stopping rule's model on the project's ratings and gold (managers): the
    judge's calibration, the raters' accuracies and the target; then re-decide the items. A project
    too large to fit inside a request (``ACCORD_INLINE_WORK_LIMIT``) is fitted on a worker: 202."""

    @extend_schema(request=None, responses={200: PosteriorFitSerializer, 202: PosteriorFitQueuedSerializer})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        fit = posterior_fit_request(project=project)
        if fit.queued:
            return Response({"state": "queued", "ratings": fit.ratings}, status=202)
        assert fit.policy is not None and fit.decision is not None
        return Response({"policy": PolicySerializer(fit.policy).data, "items_reevaluation": fit.decision.outcome.value})
