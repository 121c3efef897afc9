"""REST API for judges and judge runs. Views parse, check access, call one service.

Who may do what: project managers (and staff) create and change a project's judges and start or
cancel runs; every project member may list judges and watch runs. Judge configuration holds no
secret: the key stays in the workers' environment, named by ``api_key_env``.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Item, Project
from annotation.selectors import MANAGE, RATE, project_require
from config.serializers import InputSerializer
from judges.costs import usd
from judges.models import Judge, JudgeRun, Outcome, OutputMode, Provider, RunMode
from judges.selectors import (
    judge_run_batch_progress,
    judge_run_problems,
    judge_run_progress,
    judges_for_user,
    judges_listed,
)
from judges.services.judges import judge_create, judge_update
from judges.services.runs import judge_run_cancel, judge_run_start
from judges.services.testing import judge_test


class JudgeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    name = serializers.CharField()
    version = serializers.IntegerField(source="current.number")
    rater = serializers.IntegerField(source="current.rater_id")
    provider = serializers.CharField(source="current.provider")
    model = serializers.CharField(source="current.model")
    base_url = serializers.CharField(source="current.base_url")
    temperature = serializers.FloatField(source="current.temperature")
    max_output_tokens = serializers.IntegerField(source="current.max_output_tokens")
    samples = serializers.IntegerField(source="current.samples")
    few_shot = serializers.IntegerField(source="current.few_shot")
    system_prompt = serializers.CharField(source="current.system_prompt")
    api_key_env = serializers.CharField()
    price_input_per_mtok = serializers.DecimalField(max_digits=10, decimal_places=4)
    price_output_per_mtok = serializers.DecimalField(max_digits=10, decimal_places=4)
    requests_per_minute = serializers.IntegerField(allow_null=True)
    tokens_per_minute = serializers.IntegerField(allow_null=True)
    max_concurrency = serializers.IntegerField(allow_null=True, help_text="null: the provider's default")
    concurrency = serializers.SerializerMethodField(help_text="calls in flight allowed, all workers together")
    output_mode = serializers.CharField()
    output_mode_found = serializers.CharField(help_text='what "auto" found the server accepts ("" before a call)')
    output_mode_note = serializers.CharField(help_text="what the server refused on the way")
    enabled = serializers.BooleanField()
    cost_spent_usd = serializers.SerializerMethodField(help_text="what all its runs have spent, every version")
    created_at = serializers.DateTimeField()

    def get_cost_spent_usd(self, judge) -> str:
        return str(usd(judge.spent_micros))

    def get_concurrency(self, judge) -> int:
        return judge.concurrency(judge.current.provider)


def _judge_out(judge: Judge) -> dict:
    return JudgeOutputSerializer(judges_listed(judges=[judge])[0]).data


class JudgeInputSerializer(InputSerializer):
    project = serializers.IntegerField(required=False, help_text="Project id (on create).")
    name = serializers.CharField(max_length=150, required=False)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    model = serializers.CharField(max_length=200, required=False)
    base_url = serializers.CharField(
        max_length=500,
        allow_blank=True,
        required=False,
        help_text="http(s) URL on a host the operator allows (ACCORD_JUDGE_HOSTS), without ?query or #fragment; "
        "blank for the provider's own.",
    )
    api_key_env = serializers.CharField(
        max_length=100,
        allow_blank=True,
        required=False,
        help_text="Name of the env var holding the key: one the operator offers (ACCORD_JUDGE_KEYS).",
    )
    temperature = serializers.FloatField(required=False)
    max_output_tokens = serializers.IntegerField(required=False)
    samples = serializers.IntegerField(required=False)
    few_shot = serializers.IntegerField(required=False)
    system_prompt = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)
    price_input_per_mtok = serializers.DecimalField(max_digits=10, decimal_places=4, required=False)
    price_output_per_mtok = serializers.DecimalField(max_digits=10, decimal_places=4, required=False)
    requests_per_minute = serializers.IntegerField(allow_null=True, required=False)
    tokens_per_minute = serializers.IntegerField(allow_null=True, required=False)
    max_concurrency = serializers.IntegerField(allow_null=True, required=False)
    output_mode = serializers.ChoiceField(choices=OutputMode.choices, required=False)
    enabled = serializers.BooleanField(required=False)


class JudgeListCreateApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("project", int, required=False, description="Only this project's judges.")],
        responses=JudgeOutputSerializer(many=True),
    )
    def get(self, request):
        judges = judges_for_user(user=request.user)
        project = request.query_params.get("project")
        if project is not None:
            # "²".isdigit() is True, int("²") fails; more than 18 digits is past any id (bigint)
            if not (project.isascii() and project.isdigit() and len(project) <= 18):
                raise ValidationError({"project": ["must be a project id."]})
            judges = judges.filter(project_id=int(project))
        return Response(JudgeOutputSerializer(judges_listed(judges=judges), many=True).data)

    @extend_schema(request=JudgeInputSerializer, responses={201: JudgeOutputSerializer})
    def post(self, request):
        fields = JudgeInputSerializer.parse(request.data)
        if "project" not in fields:
            raise ValidationError({"project": ["this field is required."]})
        project = Project.objects.filter(pk=fields.pop("project")).first()
        if project is None:
            raise ValidationError({"project": ["no such project."]})
        project_require(user=request.user, project=project, roles=MANAGE)
        judge = judge_create(actor=request.user, project=project, **fields)
        return Response(_judge_out(judge), status=201)


def _judge_get(request, judge_id: int, roles: frozenset[str]) -> Judge:
    judge = get_object_or_404(Judge.objects.select_related("project"), pk=judge_id)
    project_require(user=request.user, project=judge.project, roles=roles)
    return judge


class JudgeDetailApi(APIView):
    @extend_schema(responses=JudgeOutputSerializer)
    def get(self, request, judge_id: int):
        return Response(_judge_out(_judge_get(request, judge_id, RATE)))

    @extend_schema(
        request=JudgeInputSerializer,
        responses=JudgeOutputSerializer,
        description="Change a judge. A change to provider, model, base_url, temperature, max_output_tokens, "
        "samples, few_shot or system_prompt makes a new version (a new rater); other fields do not.",
    )
    def patch(self, request, judge_id: int):
        judge = _judge_get(request, judge_id, MANAGE)
        changes = JudgeInputSerializer.parse(request.data, partial=True)
        if "project" in changes and changes.pop("project") != judge.project_id:
            raise ValidationError({"project": ["a judge cannot move to another project."]})
        return Response(_judge_out(judge_update(judge=judge, **changes)))

    put = patch


class JudgeTestInputSerializer(InputSerializer):
    item = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Item id; default: the project's first item."
    )


class JudgeTestOutputSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    item = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()
    values = serializers.DictField()
    rationales = serializers.DictField()
    reason = serializers.CharField(help_text="why there is no verdict: the provider's error, invalid output, ...")
    raw_output = serializers.CharField()
    attempts = serializers.IntegerField()
    output_mode = serializers.CharField()
    output_mode_note = serializers.CharField()
    logprobs = serializers.DictField(allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class JudgeTestApi(APIView):
    @extend_schema(
        request=JudgeTestInputSerializer,
        responses=JudgeTestOutputSerializer,
        description="Send one real call on one item with the judge's current version and return the verdict "
        'or the provider\'s error (200 either way; see "ok"). With output_mode "auto" it finds and records the '
        "mode the server accepts. Nothing is stored as a rating.",
    )
    def post(self, request, judge_id: int):
        judge = _judge_get(request, judge_id, MANAGE)
        data = JudgeTestInputSerializer.parse(request.data)
        item = None
        if "item" in data:
            item = Item.objects.filter(pk=data["item"], project=judge.project_id).first()
            if item is None:
                raise ValidationError({"item": ["no such item in this project."]})
        return Response(judge_test(judge=judge, item=item).as_dict())


class JudgeRunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    judge = serializers.IntegerField(source="judge_version.judge_id")
    judge_version = serializers.IntegerField(source="judge_version.number")
    status = serializers.CharField()
    items = serializers.CharField(source="items_selector")
    mode = serializers.CharField(help_text='"live" or "batch" (the provider\'s batch API at half price)')
    batch = serializers.DictField(
        source="batch_progress",
        allow_null=True,
        help_text='batch mode: {"state": submitting|submitted|in_progress|ingesting|done, "batches", "requests", '
        '"completed", "failed" (the provider\'s counts), "ingested", "sent_live", "errors"}; null for a live run',
    )
    total = serializers.IntegerField(source="progress.total")
    done = serializers.IntegerField(source="progress.done")
    failed = serializers.IntegerField(source="progress.failed")
    no_verdict = serializers.IntegerField(source="progress.no_verdict")
    input_tokens = serializers.IntegerField(source="progress.input_tokens")
    output_tokens = serializers.IntegerField(source="progress.output_tokens")
    cost_usd_estimate = serializers.DecimalField(source="progress.cost_usd_estimate", max_digits=14, decimal_places=6)
    max_cost_usd = serializers.DecimalField(
        source="budget.max_cost", max_digits=16, decimal_places=6, allow_null=True, help_text="the run's cap"
    )
    cost_spent_usd = serializers.DecimalField(
        source="budget.spent", max_digits=16, decimal_places=6, help_text="what its answered calls cost so far"
    )
    stop_reason = serializers.CharField(help_text='why it stopped ("stopped_budget"), in words')
    fewshot_items = serializers.SerializerMethodField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_fewshot_items(self, run) -> list[int]:
        return [e["item_id"] for e in run.fewshot or []]


class JudgeRunProblemSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[Outcome.FAILED, Outcome.NO_VERDICT])
    reason = serializers.CharField()
    items = serializers.IntegerField(help_text="items of this run whose verdict has this outcome and reason")


class JudgeRunDetailOutputSerializer(JudgeRunOutputSerializer):
    problems = JudgeRunProblemSerializer(
        many=True, help_text="why items were not rated, the 10 most frequent reasons first"
    )


def _run_budget(run: JudgeRun) -> dict:
    return {"max_cost": usd(run.max_cost_micros), "spent": usd(run.cost_spent_micros)}


def run_out(run: JudgeRun) -> dict:
    run.progress, run.budget = judge_run_progress(run=run), _run_budget(run)
    run.batch_progress = judge_run_batch_progress(run=run)
    return JudgeRunOutputSerializer(run).data


def run_detail_out(run: JudgeRun) -> dict:
    run.progress, run.budget = judge_run_progress(run=run), _run_budget(run)
    run.batch_progress = judge_run_batch_progress(run=run)
    run.problems = judge_run_problems(run=run)
    return JudgeRunDetailOutputSerializer(run).data


class JudgeRunInputSerializer(InputSerializer):
    judge = serializers.IntegerField()
    items = serializers.JSONField(help_text='"all", "unjudged" or a list of item ids.', default="unjudged")
    mode = serializers.ChoiceField(
        choices=RunMode.choices,
        default=RunMode.LIVE,
        help_text='"batch": through the provider\'s batch API (OpenAI, Anthropic, and OpenAI-compatible servers '
        "that have one; the items of a server without one go live): half the price, results within 24 h.",
    )
    max_cost = serializers.DecimalField(
        max_digits=16, decimal_places=6, min_value=0, max_value=10**9, allow_null=True, required=False,
        help_text="The run's budget in dollars: it stops cleanly before a call that could pass it. Null: none "
        "(the project's monthly cap applies either way).",
    )  # fmt: skip


class ProjectJudgeRunsApi(APIView):
    @extend_schema(responses=JudgeRunOutputSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_get(request, project_id, RATE)
        runs = JudgeRun.objects.filter(project=project).select_related("judge_version").order_by("-id")[:100]
        return Response([run_out(r) for r in runs])

    @extend_schema(
        request=JudgeRunInputSerializer,
        responses={202: JudgeRunOutputSerializer},
        description="Queue a run of the judge's current version; poll GET /judge-runs/{id}/ for progress.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = JudgeRunInputSerializer.parse(request.data)
        judge = Judge.objects.filter(pk=data["judge"], project=project).first()
        if judge is None:
            raise ValidationError({"judge": ["no such judge in this project."]})
        run = judge_run_start(
            actor=request.user, project=project, judge=judge, items=data["items"], mode=data["mode"],
            max_cost=data.get("max_cost"),
        )  # fmt: skip
        return Response(run_out(run), status=202)


def _run_get(request, run_id: int, roles: frozenset[str]) -> JudgeRun:
    run = get_object_or_404(JudgeRun.objects.select_related("project", "judge_version"), pk=run_id)
    project_require(user=request.user, project=run.project, roles=roles)
    return run


class JudgeRunDetailApi(APIView):
    @extend_schema(responses=JudgeRunDetailOutputSerializer)
    def get(self, request, run_id: int):
        return Response(run_detail_out(_run_get(request, run_id, RATE)))


class JudgeRunCancelApi(APIView):
    @extend_schema(request=None, responses=JudgeRunOutputSerializer)
    def post(self, request, run_id: int):
        run = judge_run_cancel(run=_run_get(request, run_id, MANAGE))
        return Response(run_out(run))
