"""What quality decides and measures: a project's approval policy, the trust each machine rater has
earned per criterion, and stored agreement reports.

The tables kept the names they had when these models lived in annotation/ (``db_table``), so
moving the code moved no data.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Item, Project, Rater
from rubrics.models import Criterion, RubricVersion


class ApprovalPolicy(models.Model):
    """How a project decides items. Managers edit it; quality.services.approval applies it."""

    project = models.OneToOneField(Project, related_name="approval_policy", on_delete=models.CASCADE)
    majority_threshold = models.FloatField(
        default=2 / 3, help_text="Binary / categorical: share of raters that must agree, in (0.5, 1]."
    )
    numeric_tolerance = models.FloatField(
        default=0.25,
        help_text="Ordinal / interval / ratio: largest spread (max - min) as a share of the scale's range; "
        "for ratio scales without a maximum, as a share of the median.",
    )
    judge_may_approve = models.BooleanField(
        default=False, help_text="A judge trusted on every criterion may approve items that lack human ratings."
    )
    trust_margin = models.FloatField(
        default=0.05, help_text="A judge is trusted when its alpha is at least the humans' alpha minus this."
    )
    trust_min_items = models.PositiveIntegerField(default=50, help_text="Items a judge must be measured on.")
    # A criterion may need more (or less) agreement than the rest: criterion key -> its own
    # majority share (binary / categorical) or tolerance (ordinal / interval / ratio). A key not
    # here, or no longer in the rubric, uses the project-wide value above.
    per_criterion = models.JSONField(
        default=dict,
        blank=True,
        help_text="Criterion key -> its own majority share or numeric tolerance, instead of the project-wide one.",
    )
    # Judge-first routing (docs/triage.md, section 2): a trusted judge version's verdicts at or above
    # the threshold decide their items; every other item goes to people, least confident first.
    # The threshold is chosen on gold by quality.services.routing (None: the judge keeps nothing).
    routing = models.CharField(
        max_length=16,
        choices=[("humans_first", "humans first"), ("judge_first", "judge first")],
        default="humans_first",
    )
    routing_rater = models.ForeignKey(Rater, null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    routing_threshold = models.FloatField(null=True, blank=True)
    routing_bar = models.FloatField(null=True, blank=True, help_text="Human-human agreement the judge must match.")
    # The slice check made with the threshold (quality/selectors/routing.py, routing_tradeoff):
    # {"slice_by", "slices": each slice's audit row, "excluded_slices": the flagged ones}, {} when
    # the threshold was chosen without a slice key. The decisions read the key stored here, not
    # ``slice_by``, so a new key takes effect at the next choice of the threshold.
    routing_slices = models.JSONField(default=dict, blank=True, editable=False)
    # Adaptive overlap's stopping rule (docs/triage.md, section 3b): "agreement" asks for one more
    # rating while raters disagree; "posterior" while the most probable label's posterior, given the
    # judge's calibrated distribution and each rater's accuracy, is below the target. The model the
    # posterior needs (raters' accuracies, calibration, the chosen target) is fitted on the project's
    # ratings and gold by quality.services.posterior and stored here.
    stopping_rule = models.CharField(
        max_length=16,
        choices=[("agreement", "raters agree"), ("posterior", "posterior probability")],
        default="agreement",
    )
    stopping_target = models.FloatField(
        null=True,
        blank=True,
        help_text="Posterior rule: the probability the label must reach; empty: the fitted target, "
        "which matches fixed overlap's accuracy under the model.",
    )
    posterior_model = models.JSONField(default=dict, blank=True, editable=False)
    # Who labels the audit sample (quality/audit_gold.py): people first, then a reviewer's gold (the
    # audit then also measures the raters against gold); the project's minimum overlap of people
    # (one under adaptive overlap 1-N), then the reviewer (cheaper, still measured); or a reviewer
    # alone (cheapest: no people).
    audit_labelled_by = models.CharField(
        max_length=16,
        choices=[
            ("people", "people, then a reviewer"),
            ("minimum", "the minimum of people, then a reviewer"),
            ("reviewer", "a reviewer only"),
        ],
        default="people",
    )
    # The item feature the posterior fit and the routing threshold's choice audit the judge by
    # (docs/triage.md, section 2's slice check): a key of Item.metadata (e.g. "source"); blank: no
    # slice check. Items of a slice where the judge is confidently wrong on gold are left out of its
    # calibration and difficulty fit and of the threshold's choice, and are never settled by the
    # judge alone.
    slice_by = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Item metadata key whose values are the slices the judge is audited on; blank: none.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "annotation_approvalpolicy"
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(majority_threshold__gt=0.5) & Q(majority_threshold__lte=1), name="policy_majority_range"
            ),
            models.CheckConstraint(condition=Q(numeric_tolerance__gte=0), name="policy_tolerance_not_negative"),
            models.CheckConstraint(condition=Q(trust_margin__gte=0), name="policy_margin_not_negative"),
            models.CheckConstraint(
                condition=Q(stopping_target__isnull=True) | (Q(stopping_target__gt=0.5) & Q(stopping_target__lt=1)),
                name="policy_stopping_target_range",
            ),
        ]

    def __str__(self) -> str:
        return f"approval policy of {self.project}"


class RaterTrust(models.Model):
    """Whether a machine rater may label a criterion on its own, measured against the humans.

    Keyed by rubric version and rater (a rater is one judge version), so a measurement never
    vouches for another version of either.
    """

    project = models.ForeignKey(Project, related_name="rater_trust", on_delete=models.CASCADE)
    rater = models.ForeignKey(Rater, related_name="trust", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="+", on_delete=models.CASCADE)
    criterion_key = models.SlugField(max_length=64)
    trusted = models.BooleanField(default=False)
    # trusted, not_trusted or not_enough_data (quality/reliability.py): why ``trusted`` is what it is.
    status = models.CharField(max_length=16, default="not_enough_data")
    judge_alpha = models.FloatField(null=True, blank=True)
    human_alpha = models.FloatField(null=True, blank=True)
    # The 95 % interval of (judge alpha as a rater) minus (humans' alpha) the decision rests on.
    difference_low = models.FloatField(null=True, blank=True)
    difference_high = models.FloatField(null=True, blank=True)
    items = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "annotation_ratertrust"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "rater", "rubric_version", "criterion_key"], name="rater_trust_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rater} on {self.criterion_key}: {'trusted' if self.trusted else 'not trusted'}"


class AgreementReport(models.Model):
    """A project's agreement report as last computed, and what it was computed from.

    ``state`` records the inputs (rating count, last id and last update, rubric version,
    policy, judges' few-shot items) read *before* the ratings were loaded, so a report is never
    marked current for data it did not see: a reader compares it with the live state and says
    ``stale`` when they differ. Computing a large project takes tens of seconds, so a Celery
    task does it (quality.services.agreement_reports); the two timestamps below keep that to
    one queued and one running computation per report, however many ratings arrive.
    """

    project = models.ForeignKey(Project, related_name="agreement_reports", on_delete=models.CASCADE)
    bootstrap_draws = models.PositiveIntegerField(help_text="Draws asked for (the report says how many it used).")
    state = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(null=True, blank=True)
    ratings = models.PositiveIntegerField(default=0, help_text="Ratings of the project when it was computed.")
    computed_at = models.DateTimeField(null=True, blank=True)
    # When the state was read: a computation stores its result only over an older one, so a slow
    # worker finishing late never replaces a newer report.
    state_read_at = models.DateTimeField(null=True, blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    refresh_queued_at = models.DateTimeField(null=True, blank=True)
    computing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "annotation_agreementreport"
        constraints = [
            models.UniqueConstraint(fields=["project", "bootstrap_draws"], name="agreement_report_one_per_draws")
        ]

    def __str__(self) -> str:
        return f"agreement of {self.project} ({self.bootstrap_draws} draws)"


class ReviewRequest(models.Model):
    """A reviewer's or manager's "send this item to review": it holds the item in needs_review
    whatever its ratings say, until a reviewer decides it (gold, which outranks it) or someone
    reopens it. Kept apart from the item so that re-deciding the project (a policy change, a new
    rating) sees the request instead of silently approving the item again."""

    item = models.OneToOneField(Item, related_name="review_request", on_delete=models.CASCADE)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"review of {self.item} requested"


class AgreementTally(models.Model):
    """Live agreement of one criterion in one project: the header of its coincidence cells.

    Kept current in the same transaction as every rating written or changed
    (quality.services.tallies), so alpha's point estimate is read, never recomputed. ``subset``
    0 holds the human raters' ratings. ``ratings`` counts the ratings behind the cells and
    ``writes`` every rating written or changed since the tally began (a stored report remembers
    it, so a reader knows by how many ratings the bootstrap interval lags). Every writer
    updates these rows first, in criterion order, and holds them to commit: that orders the
    writers of one shard of a project, and a rebuild, without deadlocks.

    ``shard``: each tally is split in SHARDS rows by item id (``item_id % SHARDS``), each with its
    own cells, and readers add them up. Writers of items in different shards then touch
    different rows and do not wait for one another; in one unsplit tally every rating of a project
    waited for the one before it to commit.
    """

    HUMANS = 0
    SHARDS = 16

    project = models.ForeignKey(Project, related_name="agreement_tallies", on_delete=models.CASCADE)
    criterion = models.ForeignKey(Criterion, related_name="agreement_tallies", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="agreement_tallies", on_delete=models.CASCADE)
    subset = models.BigIntegerField(default=HUMANS, help_text="0: the human raters.")
    shard = models.PositiveSmallIntegerField(default=0, help_text="item id % SHARDS of the items counted here.")
    ratings = models.BigIntegerField(default=0)
    writes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "criterion", "subset", "shard"], name="agreement_tally_one_per_shard"
            )
        ]
        indexes = [models.Index(fields=["project", "rubric_version"], name="agreement_tally_project")]

    def __str__(self) -> str:
        return f"tally of {self.criterion_id} in {self.project_id}"


class AgreementCell(models.Model):
    """One cell of a tally (agreement/live.py): over the units with ``m`` ratings, the sum of
    ``n_uc n_uk`` (``c < k``) or ``n_uc (n_uc - 1)`` (``c == k``). Integers, so adding and
    subtracting units' contributions never drifts; alpha divides at read time."""

    tally = models.ForeignKey(AgreementTally, related_name="cells", on_delete=models.CASCADE)
    m = models.PositiveIntegerField()
    c = models.FloatField()
    k = models.FloatField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tally", "m", "c", "k"], name="agreement_cell_unique")]

    def __str__(self) -> str:
        return f"({self.m}, {self.c}, {self.k}) = {self.count}"


class JudgeRaterStatus(models.Model):
    """A judge version's word to agreement, written by the judges app (quality never imports
    judges): the project it judges for, and why it has no rating yet (not run; or its last run's
    failure and where to test it). Agreement lists the versions with a note and no rating, so a
    judge whose runs all failed does not just vanish from the report."""

    rater = models.OneToOneField(Rater, primary_key=True, related_name="judge_status", on_delete=models.CASCADE)
    project = models.ForeignKey(Project, related_name="+", on_delete=models.CASCADE)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rater_id}: {self.note[:60]}"


class AgreementInterval(models.Model):
    """The bootstrap interval of the humans' alpha, per criterion, kept by changes.

    ``sums`` holds agreement.live_bootstrap's per-draw coincidence sums of every criterion (an
    ``.npz``: ``<key>.values`` and ``<key>.sums``); :class:`AgreementIntervalUnit` what each item
    contributed to them. A refresh (quality.services.intervals, on a worker) re-reads only the
    items whose ratings changed since ``seen_until`` and moves the sums by their change.
    ``writes`` is the tallies' counter when it was read: the interval lags by the difference.
    """

    project = models.OneToOneField(Project, related_name="agreement_interval", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="+", on_delete=models.CASCADE, null=True)
    draws = models.PositiveIntegerField(default=0)
    seed = models.BigIntegerField(default=0)
    sums = models.BinaryField(default=bytes)
    ratings = models.JSONField(default=dict, help_text="Human ratings in the sums, per criterion key.")
    writes = models.BigIntegerField(default=0)
    seen_until = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_seconds = models.FloatField(null=True, blank=True)
    computing_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"interval of {self.project_id}"


class AgreementIntervalUnit(models.Model):
    """One item as the interval's sums last counted it: its human ratings' value codes per
    criterion key, so that a change is counted as (what was counted) -> (what is there now)."""

    interval = models.ForeignKey(AgreementInterval, related_name="units", on_delete=models.CASCADE)
    item_id = models.BigIntegerField()
    values = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["interval", "item_id"], name="agreement_interval_unit")]

    def __str__(self) -> str:
        return f"{self.item_id} in {self.interval_id}"
