"""REST API for agreement, approval policy, judge trust and explicit decisions."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Item
from annotation.selectors import MANAGE, REVIEW, project_require
from config.serializers import InputSerializer
from quality.reliability import report_with_badges
from quality.selectors.agreement import items_by_disagreement
from quality.selectors.judge_status import judges_without_ratings
from quality.selectors.policy import policy_for
from quality.selectors.posterior import posterior_fit_status
from quality.services.agreement_reports import DEFAULT_DRAWS, agreement_report_read
from quality.services.approval import Decided, item_reject, item_reopen, item_send_to_review, project_decide
from quality.services.policy import policy_update
from quality.services.policy_preview import policy_preview
from quality.services.trust import rater_trust_refresh
from quality.stopping import posterior_in_force


def _int_param(request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be an integer from {low} to {high}."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"must be an integer from {low} to {high}."]})
    return value


class ProjectAgreementApi(APIView):
    """Krippendorff's alpha per criterion (with a bootstrap interval and a reliability status),
    per-annotator reliability, and each judge version against the humans. ``status`` and
    ``trusted`` follow quality/reliability.py: claimed only when the 95 % interval clears the bar
    on enough items, else ``not_enough_data`` (``reliability`` and ``trust`` say why).

    Answered from the stored report: ``stale`` says whether ratings (or the policy, or the
    rubric version) changed since ``computed_at``. A small project is recomputed on the spot; a
    large one is recomputed by a worker (``refreshing``) while its last report is served. 202
    means no report exists yet and one is being computed: ask again after Retry-After seconds.
    """

    RETRY_AFTER_SECONDS = 30

    class AgreementReportSerializer(serializers.Serializer):
        project = serializers.IntegerField()
        rubric_version = serializers.IntegerField()
        bootstrap_draws = serializers.IntegerField(help_text="Draws asked for.")
        bootstrap_draws_used = serializers.IntegerField(help_text="Draws made: fewer on large projects.")
        computed_at = serializers.DateTimeField(allow_null=True)
        stale = serializers.BooleanField(
            help_text="The point estimates are not current (a project without live tallies whose ratings, "
            "policy or rubric version changed since computed_at). Live alpha is never stale."
        )
        interval_lag_ratings = serializers.IntegerField(
            allow_null=True,
            help_text="Ratings written or changed since the humans' bootstrap intervals were computed: those of "
            "the report, or (humans.ci_live) those kept by changes on a worker when fresher; null when none "
            "was. Alpha itself is live.",
        )
        report_lag_ratings = serializers.IntegerField(
            allow_null=True,
            help_text="Ratings written or changed since the annotator and judge figures were computed "
            "(computed_at); null when they never were.",
        )
        refreshing = serializers.BooleanField(help_text="A recompute is queued or running.")
        criteria = serializers.ListField(child=serializers.DictField())
        judges_without_ratings = serializers.ListField(
            child=serializers.DictField(),
            help_text="the project's judge versions with no rating yet: {rater, name, status} (why: a failed run's "
            "reason and where to test the judge)",
        )

    class AgreementPendingSerializer(serializers.Serializer):
        project = serializers.IntegerField()
        status = serializers.ChoiceField(choices=["computing"])
        detail = serializers.CharField()

    @extend_schema(
        parameters=[
            OpenApiParameter("bootstrap", int, description=f"Bootstrap draws (0 to 5000, default {DEFAULT_DRAWS}).")
        ],
        responses={200: AgreementReportSerializer, 202: AgreementPendingSerializer},
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        draws = _int_param(request, "bootstrap", DEFAULT_DRAWS, low=0, high=5000)
        answer = agreement_report_read(project=project, bootstrap_draws=draws)
        if answer.payload is None:
            return Response(
                {"project": project.pk, "status": "computing", "detail": "The report is being computed."},
                status=202,
                headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
            )
        policy = policy_for(project=project)
        payload = report_with_badges(answer.payload, margin=policy.trust_margin, min_units=policy.trust_min_items)
        return Response(
            {
                **payload,
                "computed_at": answer.computed_at,
                "stale": answer.stale,
                "refreshing": answer.refreshing,
                "interval_lag_ratings": answer.interval_lag,
                "report_lag_ratings": answer.report_lag,
                # Read fresh: a failed run changes no rating, so the stored report would not show it.
                "judges_without_ratings": judges_without_ratings(project=project),
            }
        )


class ProjectDisagreementApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many items (1 to 1000, default 100).")],
        responses=inline_serializer("DisagreementItems", {"results": serializers.ListField()}),
    )
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        limit = _int_param(request, "limit", 100, low=1, high=1000)
        return Response({"results": items_by_disagreement(project=project, limit=limit)})


class PolicySerializer(serializers.Serializer):
    majority_threshold = serializers.FloatField()
    numeric_tolerance = serializers.FloatField()
    judge_may_approve = serializers.BooleanField()
    trust_margin = serializers.FloatField()
    trust_min_items = serializers.IntegerField()
    per_criterion = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Criterion key -> its own majority share (binary, categorical) or tolerance (numeric).",
    )
    routing = serializers.CharField(help_text='"humans_first" or "judge_first" (docs/triage.md).')
    routing_rater = serializers.IntegerField(source="routing_rater_id", allow_null=True)
    routing_threshold = serializers.FloatField(allow_null=True)
    routing_bar = serializers.FloatField(allow_null=True)
    routing_slices = serializers.JSONField(
        read_only=True,
        help_text="The slice check made with the routing threshold ({} when chosen without slice_by): "
        "``slice_by`` (the key it used), ``slices`` (the judge's accuracy on gold per slice against its "
        "confidence) and ``excluded_slices`` (the overconfident ones: the judge decides none of their items).",
    )
    stopping_rule = serializers.CharField(
        help_text='Adaptive overlap: "agreement" (one more rating while raters disagree) or "posterior" '
        "(while the best label's posterior is below the target; docs/triage.md)."
    )
    stopping_target = serializers.FloatField(allow_null=True, help_text="null: the fitted target.")
    posterior_model = serializers.JSONField(
        help_text="The posterior rule's fitted model ({} before a fit); per criterion, ``slices`` (the judge's "
        "accuracy on gold per slice against the accuracy its confidence earns on the other slices), "
        "``excluded_slices`` (the overconfident ones), ``judge_landing`` (where the truth lies when the judge "
        "says each point and is wrong), ``judge_own_weight`` (how much of the judge's own distribution is "
        "kept beside it) and ``reopen_below`` (an item the rule approved before this fit is reopened only below "
        "this posterior, or its target if lower); docs/triage.md, section 3b."
    )
    slice_by = serializers.CharField(help_text="Item metadata key whose values are the slices audited; '': none.")
    stopping_rule_in_force = serializers.SerializerMethodField(
        help_text='The rule deciding items now: "agreement" while the posterior rule is chosen but its first fit '
        "is not stored yet (a large project's runs on a worker; docs/triage.md)."
    )
    posterior_fit = serializers.SerializerMethodField(
        help_text="running: a fit queued on a worker has not finished (queued_at: when it was asked for); "
        'failed: why the last fit queued on a worker failed ("" when it did not).'
    )
    audit_labelled_by = serializers.CharField(
        help_text='"people": audited items go to people, then to a reviewer for gold; "minimum": to the project\'s '
        'minimum overlap of people, then to a reviewer; "reviewer": to a reviewer only.'
    )

    def get_stopping_rule_in_force(self, policy) -> str:
        return "posterior" if posterior_in_force(policy) else "agreement"

    def get_posterior_fit(self, policy) -> dict:
        status = posterior_fit_status(policy=policy)
        queued_at = status["fit_queued_at"]
        return {"running": status["fit_running"], "queued_at": queued_at and queued_at.isoformat(),
                "failed": status["fit_failed"]}  # fmt: skip


class PolicyInputSerializer(InputSerializer):
    # Types only: the ranges are checked, all at once, by policy_update.
    majority_threshold = serializers.FloatField(required=False)
    numeric_tolerance = serializers.FloatField(required=False)
    judge_may_approve = serializers.BooleanField(required=False)
    trust_margin = serializers.FloatField(required=False)
    trust_min_items = serializers.IntegerField(required=False)
    per_criterion = serializers.JSONField(
        required=False, help_text="Replaces the whole mapping; {} returns every criterion to the project-wide values."
    )
    routing = serializers.CharField(required=False, help_text='"humans_first" or "judge_first".')
    stopping_rule = serializers.CharField(required=False, help_text='"agreement" or "posterior".')
    stopping_target = serializers.FloatField(required=False, allow_null=True)
    audit_labelled_by = serializers.CharField(required=False, help_text='"people", "minimum" or "reviewer".')
    slice_by = serializers.CharField(
        required=False, allow_blank=True, help_text="An item metadata key (e.g. \"source\"); '' for no slice check."
    )


class PolicyUpdatedSerializer(PolicySerializer):
    items_reevaluation = serializers.ChoiceField(
        choices=["done", "queued"],
        help_text="queued: a large project's items are re-decided in the background; until then they "
        "keep their old decisions.",
    )


class ApprovalPolicyApi(APIView):
    @extend_schema(responses=PolicySerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        return Response(PolicySerializer(policy_for(project=project)).data)

    @extend_schema(request=PolicyInputSerializer, responses=PolicyUpdatedSerializer)
    def patch(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = PolicyInputSerializer.parse(request.data)
        policy, decision = policy_update(project=project, **data)
        return Response({**PolicySerializer(policy).data, "items_reevaluation": decision.outcome.value})


class PolicyPreviewSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    sampled = serializers.IntegerField(help_text="Items run through the rule; fewer than items on large projects.")
    estimated = serializers.BooleanField(help_text="True when the counts are scaled up from the sample.")
    now = serializers.DictField(child=serializers.IntegerField(), help_text="Items per status today.")
    after = serializers.DictField(child=serializers.IntegerField(), help_text="Items per status under the policy.")
    posterior_fit_on_save = serializers.BooleanField(
        help_text="The posterior rule's first fit would run on a worker once saved (a large project): the counts "
        "are the agreement rule's, which decides until that fit is stored."
    )


class ApprovalPolicyPreviewApi(APIView):
    """What the given policy changes would do, decided by the same rule as saving them; nothing
    is written. Same body as PATCH approval-policy/."""

    @extend_schema(request=PolicyInputSerializer, responses=PolicyPreviewSerializer)
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        preview = policy_preview(project=project, changes=PolicyInputSerializer.parse(request.data))
        return Response(
            {
                "items": preview.items,
                "sampled": preview.sampled,
                "estimated": preview.estimated,
                "now": preview.now,
                "after": preview.after,
                "posterior_fit_on_save": preview.posterior_fit_on_save,
            }
        )


class ApprovalRefreshSerializer(serializers.Serializer):
    changed = serializers.IntegerField(allow_null=True, help_text="Items whose decision changed; null when queued.")
    items_reevaluation = serializers.ChoiceField(
        choices=["done", "queued"], help_text="queued (202): a large project's items are re-decided by a worker."
    )


class ApprovalRefreshApi(APIView):
    """Re-decide every item (e.g. after importing ratings or changing trust)."""

    @extend_schema(request=None, responses={200: ApprovalRefreshSerializer, 202: ApprovalRefreshSerializer})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        decision = project_decide(project=project)
        status = 202 if decision.outcome == Decided.QUEUED else 200
        return Response({"changed": decision.changed, "items_reevaluation": decision.outcome.value}, status=status)


class TrustRefreshApi(APIView):
    """Measure each judge version against the humans and record whether it is trusted."""

    @extend_schema(request=None, responses=inline_serializer("TrustRows", {"results": serializers.ListField()}))
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        rows = rater_trust_refresh(project=project)
        return Response(
            {
                "results": [
                    {
                        "rater": t.rater.name,
                        "criterion": t.criterion_key,
                        "trusted": t.trusted,
                        "judge_alpha": t.judge_alpha,
                        "human_alpha": t.human_alpha,
                        "items": t.items,
                        "reason": t.reason,
                    }
                    for t in rows
                ]
            }
        )


class ItemRejectApi(APIView):
    class RejectInputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        request=RejectInputSerializer, responses=inline_serializer("Rejected", {"status": serializers.CharField()})
    )
    def post(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=REVIEW)
        data = self.RejectInputSerializer.parse(request.data)
        item = item_reject(item=item, actor=request.user, reason=data["reason"])
        return Response({"status": item.status, "reason": item.decision_reason})


class ItemDecisionSerializer(serializers.Serializer):
    status = serializers.CharField()
    reason = serializers.CharField(source="decision_reason")


class ItemSendToReviewApi(APIView):
    """Hold an item for a reviewer whatever its ratings say, until a reviewer decides it or it is
    reopened. 409 once it is rejected or adjudicated."""

    class SendInputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=SendInputSerializer, responses=ItemDecisionSerializer)
    def post(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=REVIEW)
        data = self.SendInputSerializer.parse(request.data)
        item = item_send_to_review(item=item, actor=request.user, reason=data["reason"])
        return Response(ItemDecisionSerializer(item).data)


class ItemReopenApi(APIView):
    """Undo a rejection or a request for review; the policy decides the item again. 409 when there
    is nothing to undo."""

    @extend_schema(request=None, responses=ItemDecisionSerializer)
    def post(self, request, item_id: int):
        item = get_object_or_404(Item.objects.select_related("project"), pk=item_id)
        project_require(user=request.user, project=item.project, roles=REVIEW)
        item = item_reopen(item=item, actor=request.user)
        return Response(ItemDecisionSerializer(item).data)
