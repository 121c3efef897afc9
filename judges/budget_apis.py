"""REST API for money: a run's cost estimate, the project's monthly cap and spend, resuming a run
that stopped at its budget. Views parse, check access, call one service (judges/services/budgets.py,
judges/services/estimates.py). Amounts are dollars as decimal strings."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.selectors import MANAGE, REVIEW, project_require
from config.serializers import InputSerializer
from judges.apis import JudgeRunOutputSerializer, run_out
from judges.costs import usd
from judges.models import BATCH_PRICE_FACTOR, Judge, JudgeRun, RunMode
from judges.selectors import project_spend_month
from judges.services.budgets import judge_run_resume, project_budget_set
from judges.services.estimates import judge_run_estimate

AMOUNT = {"max_digits": 16, "decimal_places": 6, "min_value": 0, "max_value": 10**9}


class EstimateInputSerializer(InputSerializer):
    items = serializers.JSONField(
        help_text='"all", "unjudged" or a list of item ids, as for a run.', default="unjudged"
    )
    mode = serializers.ChoiceField(
        choices=RunMode.choices, default=RunMode.LIVE, help_text='"batch": at the batch price (half the list price).'
    )


class EstimateOutputSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="items the run would judge")
    calls = serializers.IntegerField(help_text="items x samples per item")
    sampled_items = serializers.IntegerField(help_text="items whose real prompts were built and measured")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    output_basis = serializers.ChoiceField(
        choices=["past_average", "max_output_tokens"],
        help_text="past_average: this judge version's average output per call; max_output_tokens: it never "
        "answered, so its output cap is used (an upper bound)",
    )
    cost_usd = serializers.DecimalField(max_digits=16, decimal_places=6)
    low_usd = serializers.DecimalField(max_digits=16, decimal_places=6)
    high_usd = serializers.DecimalField(max_digits=16, decimal_places=6)
    price_factor = serializers.DecimalField(max_digits=4, decimal_places=2)


class JudgeEstimateApi(APIView):
    @extend_schema(
        request=EstimateInputSerializer,
        responses=EstimateOutputSerializer,
        description="What a run of the judge's current version over these items would cost, from the real "
        "prompts of up to 50 of them and the judge's prices, with a range. Nothing is sent or stored.",
    )
    def post(self, request, judge_id: int):
        judge = get_object_or_404(Judge.objects.select_related("project__rubric_version"), pk=judge_id)
        project_require(user=request.user, project=judge.project, roles=MANAGE)
        data = EstimateInputSerializer.parse(request.data)
        factor = BATCH_PRICE_FACTOR if data["mode"] == RunMode.BATCH else Decimal(1)
        estimate = judge_run_estimate(project=judge.project, judge=judge, items=data["items"], price_factor=factor)
        return Response(EstimateOutputSerializer(estimate.as_dict()).data)


class BudgetInputSerializer(InputSerializer):
    monthly_cap_usd = serializers.DecimalField(
        **AMOUNT, allow_null=True, help_text="The most all the project's judge runs may spend in a calendar month "
        "(UTC); null: no cap.",
    )  # fmt: skip


class BudgetOutputSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="first day of the month (UTC)")
    monthly_cap_usd = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    spent_usd = serializers.DecimalField(max_digits=16, decimal_places=6)
    reserved_usd = serializers.DecimalField(
        max_digits=16, decimal_places=6, help_text="worst cases of calls in flight, held against the cap"
    )
    left_usd = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)


def budget_out(project_id: int) -> dict:
    month = project_spend_month(project_id=project_id)
    return BudgetOutputSerializer(
        {
            "month": month["month"],
            "monthly_cap_usd": usd(month["cap_micros"]),
            "spent_usd": usd(month["spent_micros"]),
            "reserved_usd": usd(month["reserved_micros"]),
            "left_usd": usd(month["left_micros"]),
        }
    ).data


class ProjectJudgeBudgetApi(APIView):
    @extend_schema(responses=BudgetOutputSerializer)
    def get(self, request, project_id: int):
        project = project_get(request, project_id, REVIEW)
        return Response(budget_out(project.pk))

    @extend_schema(request=BudgetInputSerializer, responses=BudgetOutputSerializer)
    def patch(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = BudgetInputSerializer.parse(request.data)
        project_budget_set(project=project, monthly_cap=data["monthly_cap_usd"])
        return Response(budget_out(project.pk))

    put = patch


class ResumeInputSerializer(InputSerializer):
    max_cost = serializers.DecimalField(
        **AMOUNT, allow_null=True, required=False,
        help_text="The run's new budget in dollars (more than it has spent); null: no cap. Leave it out to keep "
        "the run's cap (after raising the project's monthly cap).",
    )  # fmt: skip


class JudgeRunResumeApi(APIView):
    @extend_schema(
        request=ResumeInputSerializer,
        responses={202: JudgeRunOutputSerializer},
        description="Continue a run stopped at a budget with its remaining items.",
    )
    def post(self, request, run_id: int):
        run = get_object_or_404(JudgeRun.objects.select_related("project", "judge_version"), pk=run_id)
        project_require(user=request.user, project=run.project, roles=MANAGE)
        data = ResumeInputSerializer.parse(request.data)
        run = judge_run_resume(run=run, max_cost=data.get("max_cost"), keep_cap="max_cost" not in data)
        return Response(run_out(run), status=202)
