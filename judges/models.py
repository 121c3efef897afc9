"""LLM judges. A judge version is an annotation.Rater of kind "judge", so its verdicts are ratings.

What decides a verdict (provider, model, base_url, temperature, token budget, samples, few-shot
count, extra system prompt) lives on an immutable JudgeVersion; what does not (name, which env
var holds the key, prices, rate limits) lives on the Judge and may change freely.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Item, Project, Rater, Rating
from config.choices import labelled
from rubrics.models import RubricVersion


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (vLLM, Ollama, LM Studio)"


class OutputMode(models.TextChoices):
    """How a judge asks for its structured answer (docs/judges.md, "Output modes")."""

    AUTO = "auto", "auto (find what the server accepts)"
    JSON_SCHEMA = "json_schema", "JSON schema (strict structured output)"
    JSON_OBJECT = "json_object", "JSON object (schema in the prompt and the server's schema field)"
    TOOLS = "tools", "forced tool / function call"
    PROMPT = "prompt", "plain text, JSON taken from the answer"


# Calls in flight per judge across all workers when max_concurrency is not set: a local server
# often serves one request at a time; hosted providers have their own rate limits.
DEFAULT_MAX_CONCURRENCY = {"openai_compatible": 4, "openai": 64, "anthropic": 64}


class Judge(models.Model):
    project = models.ForeignKey(Project, related_name="judges", on_delete=models.CASCADE)
    name = models.CharField(max_length=150)
    # The NAME of the environment variable holding the key on the workers; never the key.
    api_key_env = models.CharField(max_length=100, blank=True)
    price_input_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    price_output_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    # Shared by every worker through Redis, per provider + base_url; null = no limit.
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    # Calls in flight to this judge's endpoint from all workers together; null = the provider's default.
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)
    output_mode = models.CharField(max_length=12, choices=OutputMode.choices, default=OutputMode.AUTO)
    # What "auto" found the server accepts (the test action or a run's first call), and how.
    output_mode_found = models.CharField(max_length=12, blank=True)
    output_mode_note = models.TextField(blank=True)
    logprobs_refused = models.BooleanField(default=False)  # the server refused logprobs: not asked again
    # A disabled judge keeps its versions and verdicts but starts no run.
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="judge_unique_name_in_project")]

    def __str__(self) -> str:
        return self.name

    def concurrency(self, provider: str) -> int:
        return self.max_concurrency or DEFAULT_MAX_CONCURRENCY.get(provider, 4)

    def current_version(self) -> "JudgeVersion":
        return self.versions.order_by("-number").first()


class JudgeVersion(models.Model):
    """Everything that affects a verdict. Never edited: a change makes the next number."""

    judge = models.ForeignKey(Judge, related_name="versions", on_delete=models.CASCADE)
    number = models.PositiveIntegerField()
    rater = models.OneToOneField(Rater, related_name="judge_version", on_delete=models.PROTECT)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    model = models.CharField(max_length=200)
    base_url = models.URLField(max_length=500, blank=True)
    temperature = models.FloatField(default=0.0)
    max_output_tokens = models.PositiveIntegerField(default=1024)
    samples = models.PositiveSmallIntegerField(default=1)
    few_shot = models.PositiveSmallIntegerField(default=0)
    system_prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["judge", "number"], name="judge_version_unique_number"),
            models.CheckConstraint(condition=Q(samples__gte=1), name="judge_version_samples_at_least_one"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2), name="judge_version_temperature_range"
            ),
        ]
        ordering = ["judge_id", "number"]

    def __str__(self) -> str:
        return f"{self.judge.name} v{self.number}"


class RunStatus(models.TextChoices):
    QUEUED = labelled("queued", "waiting for a worker")
    RUNNING = labelled("running", "running")
    SUCCEEDED = labelled("succeeded", "finished")
    FAILED = labelled("failed", "failed")
    CANCELLED = labelled("cancelled", "cancelled")
    # The run's or the project's monthly budget left no room for the next item: resumable.
    STOPPED_BUDGET = labelled("stopped_budget", "stopped at its budget")


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunMode(models.TextChoices):
    """How a run reaches the provider (docs/judges.md, "Batch mode")."""

    LIVE = labelled("live", "live: one call per sample, now")
    BATCH = labelled("batch", "batch: the provider's batch API, half price, up to 24 h")


# What a batched token costs against the list price.
BATCH_PRICE_FACTOR = Decimal("0.5")


class JudgeRun(models.Model):
    project = models.ForeignKey(Project, related_name="judge_runs", on_delete=models.CASCADE)
    judge_version = models.ForeignKey(JudgeVersion, related_name="runs", on_delete=models.PROTECT)
    rubric_version = models.ForeignKey(RubricVersion, related_name="judge_runs", on_delete=models.PROTECT)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    items_selector = models.CharField(max_length=20, help_text='"all", "unjudged" or "ids".')
    # The few-shot pool, fixed at start so every chunk (and every redelivery) sends the same
    # prompt: [{"item_id", "data", "values", "rationales", "source": "gold"|"unanimous"}].
    fewshot = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    # Written once, by whoever moves the run to a final status; live figures come from verdicts.
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    no_verdict = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    # Snapshot of the judge's prices at start, so later price edits do not rewrite history.
    price_input_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    price_output_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    error = models.TextField(blank=True)
    # Money in micro-dollars (judges/costs.py). ``max_cost_micros``: the run's cap, null = none.
    # ``cost_reserved_micros``: worst cases of calls in flight; ``cost_spent_micros``: what calls
    # that answered cost. Both move only through judges/services/budgets.py.
    max_cost_micros = models.PositiveBigIntegerField(null=True, blank=True)
    cost_spent_micros = models.PositiveBigIntegerField(default=0)
    cost_reserved_micros = models.PositiveBigIntegerField(default=0)
    stop_reason = models.TextField(blank=True)  # why it stopped at a budget, in words
    # The last resume: a chunk that began before it must not stop the run for a cap since raised.
    resumed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last time judge_runs_requeue_stalled sent its unfinished chunks again (a broker lost them).
    requeued_at = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=5, choices=RunMode.choices, default=RunMode.LIVE)
    # Batch mode: when every batch of the run was read and its chunks were sent for what the
    # batches left (failed lines); the tokens stored until then were batch-priced.
    batch_released_at = models.DateTimeField(null=True, blank=True)
    batch_input_tokens = models.PositiveBigIntegerField(default=0)
    batch_output_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["project", "status"], name="judge_run_project_status")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.judge_version} ({self.status})"

    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class JudgeBudget(models.Model):
    """A project's judge settings for money: the monthly cap over all its judges' runs."""

    project = models.OneToOneField(Project, related_name="judge_budget", on_delete=models.CASCADE)
    monthly_cap_micros = models.PositiveBigIntegerField(null=True, blank=True)  # null: no cap

    def __str__(self) -> str:
        return f"judge budget of project {self.project_id}"


class JudgeSpend(models.Model):
    """The spend ledger: one row per project and calendar month (UTC), the row every reservation
    and settlement of that month updates (judges/services/budgets.py)."""

    project = models.ForeignKey(Project, related_name="judge_spend", on_delete=models.CASCADE)
    month = models.DateField()  # the first day of the month
    spent_micros = models.PositiveBigIntegerField(default=0)
    reserved_micros = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "month"], name="judge_spend_unique_month")]

    def __str__(self) -> str:
        return f"judge spend of project {self.project_id} in {self.month:%Y-%m}"


class JudgeRunChunk(models.Model):
    """A slice of a run's items; one Celery task each. ``finished_at`` is set exactly once."""

    run = models.ForeignKey(JudgeRun, related_name="chunks", on_delete=models.CASCADE)
    index = models.PositiveIntegerField()
    item_ids = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    # Deliveries in a row that found no new verdict since the previous one (a worker killed by
    # this chunk every time, an error every time); the chunk is given up at
    # JUDGES_CHUNK_MAX_STALLED_ATTEMPTS. ``verdicts_seen``: the run's verdicts on these items when
    # the last delivery began; null before the first.
    stalled_attempts = models.PositiveSmallIntegerField(default=0)
    verdicts_seen = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)  # when the last delivery began
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="judge_chunk_unique_index")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class BatchStatus(models.TextChoices):
    PENDING = labelled("pending", "waiting to be submitted")
    SUBMITTING = labelled("submitting", "being submitted")
    SUBMITTED = labelled("submitted", "at the provider")
    INGESTING = labelled("ingesting", "reading the results")
    DONE = labelled("done", "results read")
    FAILED = labelled("failed", "failed at the provider")
    CANCELLED = labelled("cancelled", "cancelled")


BATCH_OPEN_STATUSES = (BatchStatus.PENDING, BatchStatus.SUBMITTING, BatchStatus.SUBMITTED, BatchStatus.INGESTING)


class JudgeBatch(models.Model):
    """One provider batch of a batch-mode run (judges/services/batches.py). Each request's
    custom_id is "<marker[:12]>-item-<item id>-s<sample index>", so results map back to items
    without a table, and a line of any other batch is never taken for ours.

    ``marker`` is written with the row, before anything is sent: the OpenAI batch carries it in
    its metadata (an Anthropic batch, which has none, is recognised by time and size: see
    batches_anthropic.py), so a submission interrupted after the provider accepted it is found
    again instead of sent twice."""

    run = models.ForeignKey(JudgeRun, related_name="batches", on_delete=models.CASCADE)
    index = models.PositiveIntegerField()
    provider = models.CharField(max_length=20)
    item_ids = models.JSONField()
    marker = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    provider_batch_id = models.CharField(max_length=200, blank=True)
    provider_status = models.CharField(max_length=30, blank=True)  # as the provider words it
    input_file_id = models.CharField(max_length=200, blank=True)
    output_file_id = models.CharField(max_length=200, blank=True)
    error_file_id = models.CharField(max_length=200, blank=True)
    requests = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)  # as the provider counts them so far
    failed = models.PositiveIntegerField(default=0)
    ingested = models.PositiveIntegerField(default=0)  # lines stored as samples
    sent_live = models.PositiveIntegerField(default=0)  # lines left to the live path (failed, invalid)
    # The worst case of its lines held against the budgets (judges/services/budgets.py) from its
    # submission until the run's batches are released and their real cost settled.
    reserved_micros = models.PositiveBigIntegerField(default=0)
    # Paid for but stored in no sample: answers that were not a valid verdict (asked again live).
    invalid_input_tokens = models.PositiveBigIntegerField(default=0)
    invalid_output_tokens = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    polls = models.PositiveIntegerField(default=0)
    submit_started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="judge_batch_unique_index"),
            models.UniqueConstraint(
                fields=["provider", "provider_batch_id"],
                condition=~Q(provider_batch_id=""),
                name="judge_batch_unique_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.index} of run {self.run_id} ({self.status})"

    def is_open(self) -> bool:
        return self.status in BATCH_OPEN_STATUSES


class Outcome(models.TextChoices):
    OK = labelled("ok", "judged")
    FAILED = labelled("failed", "failed")  # invalid or cut-off output after retries, or a provider error
    # Refused, filtered or out of output tokens: the item stays with people.
    NO_VERDICT = labelled("no_verdict", "no verdict")


class JudgeSample(models.Model):
    """One call's answer for one item. Unique per (item, judge version, rubric version, sample
    index), so a redelivered chunk inserts only what is missing."""

    item = models.ForeignKey(Item, related_name="judge_samples", on_delete=models.CASCADE)
    judge_version = models.ForeignKey(JudgeVersion, related_name="samples_made", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="+", on_delete=models.PROTECT)
    sample_index = models.PositiveSmallIntegerField()
    run = models.ForeignKey(JudgeRun, related_name="samples", on_delete=models.CASCADE)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    values = models.JSONField(default=dict, blank=True)
    rationales = models.JSONField(default=dict, blank=True)
    raw_output = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    # Log-probabilities of the scale points at each criterion's value token, where the provider
    # returns them: {criterion_key: {"<scale point>": logprob, ...}} (read by triage as is).
    logprobs = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "judge_version", "rubric_version", "sample_index"], name="judge_sample_unique"
            )
        ]
        indexes = [models.Index(fields=["run", "item"], name="judge_sample_run_item")]

    def __str__(self) -> str:
        return f"sample {self.sample_index} of {self.judge_version} on {self.item_id}: {self.outcome}"


class JudgeVerdict(models.Model):
    """The per-item outcome of a judge version: ok (then ``rating`` holds the aggregated values),
    failed or no verdict. ``spread`` keeps how the samples disagreed."""

    item = models.ForeignKey(Item, related_name="judge_verdicts", on_delete=models.CASCADE)
    judge_version = models.ForeignKey(JudgeVersion, related_name="verdicts", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="+", on_delete=models.PROTECT)
    run = models.ForeignKey(JudgeRun, related_name="verdicts", on_delete=models.CASCADE)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    rating = models.OneToOneField(
        Rating, null=True, blank=True, related_name="judge_verdict", on_delete=models.SET_NULL
    )
    spread = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "judge_version", "rubric_version"], name="judge_verdict_unique")
        ]
        indexes = [models.Index(fields=["run", "outcome"], name="judge_verdict_run_outcome")]

    def __str__(self) -> str:
        return f"{self.judge_version} on {self.item_id}: {self.outcome}"
