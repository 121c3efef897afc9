from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.import_jobs import ImportJob, ImportJobStatus, ImportKind  # noqa: F401 (Django finds models here)
from config.choices import labelled
from config.untrusted import EncodableJSONField
from rubrics.models import RubricVersion


class Role(models.TextChoices):
    MANAGER = "manager"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"


class Project(models.Model):
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators beside every item.")
    # Pinned: a new rubric version reaches a project only when a manager upgrades it.
    rubric_version = models.ForeignKey(RubricVersion, related_name="projects", on_delete=models.PROTECT)
    annotations_per_item = models.PositiveSmallIntegerField(
        default=3, help_text="Human ratings each item needs; with adaptive overlap, the most it may get."
    )
    # Adaptive overlap (docs/triage.md, section 3): when set, an item starts needing this many human
    # ratings and gets one more at a time while its raters (or a judge) disagree, up to
    # annotations_per_item. None: every item needs annotations_per_item.
    overlap_min = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Adaptive overlap: the fewest human ratings an item needs (empty: fixed)."
    )
    lease_minutes = models.PositiveIntegerField(default=30, help_text="How long an annotator holds an item.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # A project of agent traces names the project of the tasks they ran: each trace's data["task"]
    # is a task's external_id there, which is how the failure-mode report groups traces by bucket.
    tasks_project = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        related_name="trace_projects",
        on_delete=models.SET_NULL,
        help_text="For a project of agent traces: the project holding the tasks they ran.",
    )
    # The audit sample (docs/triage.md): random items people label whatever the judge said, for an
    # honest estimate of quality. The seed is fixed at the first draw (redrawing until the audit looks
    # good would void the interval); quality.services.audit draws it, Item.audit_rank marks it.
    audit_seed = models.BigIntegerField(null=True, blank=True, editable=False)
    audit_size = models.PositiveIntegerField(default=0, editable=False)
    queue_by_confidence = models.BooleanField(default=False, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(annotations_per_item__gte=1), name="project_overlap_at_least_one"),
            models.CheckConstraint(condition=Q(lease_minutes__gte=1), name="project_lease_at_least_one_minute"),
            models.CheckConstraint(
                condition=Q(overlap_min__isnull=True)
                | (Q(overlap_min__gte=1) & Q(overlap_min__lte=models.F("annotations_per_item"))),
                name="project_overlap_min_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def base_target(self) -> int:
        """Human ratings an item needs unless approval asked for more: adaptive minimum, or fixed."""
        return self.overlap_min or self.annotations_per_item

    def target_of(self, item: "Item") -> int:
        return min(item.overlap_target or self.base_target, self.annotations_per_item)


class Membership(models.Model):
    project = models.ForeignKey(Project, related_name="memberships", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="memberships", on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"


class ItemStatus(models.TextChoices):
    # The labels are what pages show; the values are the API's and the exports'.
    PENDING = labelled("pending", "not started")
    IN_PROGRESS = labelled("in_progress", "being rated")
    ANNOTATED = labelled("annotated", "fully rated")
    NEEDS_REVIEW = labelled("needs_review", "needs review")
    APPROVED = labelled("approved", "approved")
    REJECTED = labelled("rejected", "rejected")


class ApprovedBy(models.TextChoices):
    CONSENSUS = labelled("consensus", "agreeing raters")
    REVIEWER = labelled("reviewer", "a reviewer")
    JUDGE = labelled("judge", "a trusted judge")


class Item(models.Model):
    project = models.ForeignKey(Project, related_name="items", on_delete=models.CASCADE)
    external_id = models.CharField(max_length=255)
    # Untrusted: whatever the importer sent. Escaped in pages, delimited in judge prompts.
    data = EncodableJSONField()
    metadata = EncodableJSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    # Written by the approval service only: how the item was decided and the values it carries.
    approved_by = models.CharField(max_length=16, choices=ApprovedBy.choices, blank=True)
    consensus = EncodableJSONField(default=dict, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Per-criterion normalised disagreement (0 = all raters agree, 1 = maximal), stored by the
    # approval service when it decides, so routing and streaming exports need not recompute it.
    disagreement = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Denormalised for the queue: human ratings under the project's rubric version plus the
    # leases held on the item (expired ones included until a claim purges them). Counting both
    # for 100,000 items on every claim would cost a full aggregate; with this column and the
    # partial index below a claim is one index walk. Written only by annotation/services/queue.py,
    # in the same transaction as the rating or lease it counts, under the item's row lock; and
    # re-checked against exact counts before any lease is granted, so drift can never over-assign.
    load = models.PositiveIntegerField(default=0, editable=False)
    # 1-based place in the project's audit sample, in draw order (None: not audited). Any prefix of
    # the draw order is itself a uniform sample, so the queue serves audit items in this order.
    audit_rank = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Adaptive overlap: human ratings it needs now (None: Project.base_target); never leased beyond.
    overlap_target = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Judge-first routing (written by quality): the routing judge's confidence, least confident first.
    queue_confidence = models.FloatField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "external_id"], name="item_unique_external_id")]
        indexes = [
            models.Index(fields=["project", "status", "id"], name="item_project_status"),
            # The queue's walk: open items of a project, fullest first, then oldest.
            models.Index(
                fields=["project", "-load", "id"],
                name="item_queue_order",
                condition=Q(status__in=["pending", "in_progress"]),
            ),
            # The queue serves open audit items first, in draw order.
            models.Index(
                fields=["project", "audit_rank"],
                name="item_audit_queue",
                condition=Q(status__in=["pending", "in_progress"], audit_rank__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class InvitationStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Invitation(models.Model):
    """A manager's offer of a role, to an account or an e-mail address (any account with it may
    answer): nobody becomes a member without accepting; only staff add an account directly."""

    project = models.ForeignKey(Project, related_name="invitations", on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="invitations", on_delete=models.CASCADE
    )
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False) | ~Q(email=""), name="invitation_names_someone"),
            models.UniqueConstraint(
                fields=["project", "user"], condition=Q(status="pending"), name="invitation_one_pending_per_user"
            ),
            models.UniqueConstraint(
                fields=["project", "email"],
                condition=Q(status="pending") & ~Q(email=""),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.email} to {self.project} as {self.role} ({self.status})"


class RaterKind(models.TextChoices):
    HUMAN = "human"
    JUDGE = "judge"


class Rater(models.Model):
    """Who made a rating: a person, or (from the judges app) one version of an LLM judge.

    Agreement, approval and export only ever look at raters, so they treat a judge's verdict
    exactly like a person's rating, told apart only by ``kind``.
    """

    kind = models.CharField(max_length=8, choices=RaterKind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="rater", on_delete=models.CASCADE
    )
    # An external rater: a person named in imported historical labels who has no account here (or
    # whose account is not a member). Kind human, no user, and its name is scoped to this project.
    project = models.ForeignKey(
        Project, null=True, blank=True, related_name="external_raters", on_delete=models.CASCADE
    )
    name = models.CharField(max_length=200, help_text="Shown to reviewers; judges name their version here.")
    # For judges: the judge version number the verdicts came from (the judges app sets it).
    version = models.PositiveIntegerField(null=True, blank=True)
    # Items whose human labels this rater was shown (a judge's few-shot examples): agreement
    # never measures the rater on them, or it would be graded on its own answer key.
    shown_item_ids = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="human") & Q(user__isnull=False) & Q(project__isnull=True))
                | (Q(kind="human") & Q(user__isnull=True) & Q(project__isnull=False))
                | (Q(kind="judge") & Q(user__isnull=True) & Q(project__isnull=True)),
                name="rater_human_has_user_or_project",
            ),
            models.UniqueConstraint(
                fields=["project", "name"], condition=Q(project__isnull=False), name="rater_external_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RatingSource(models.TextChoices):
    UI = "ui"
    API = "api"
    IMPORT = "import"
    JUDGE = "judge"


class Rating(models.Model):
    item = models.ForeignKey(Item, related_name="ratings", on_delete=models.CASCADE)
    rater = models.ForeignKey(Rater, related_name="ratings", on_delete=models.PROTECT)
    rubric_version = models.ForeignKey(RubricVersion, related_name="ratings", on_delete=models.PROTECT)
    values = EncodableJSONField(default=dict)
    rationales = EncodableJSONField(default=dict, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=RatingSource.choices, default=RatingSource.API)
    # Judge verdicts only (judges/uncertainty.py): {key: {"<point>": p}}, least sure criterion's P(value).
    confidence = models.FloatField(null=True, blank=True)
    distribution = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "rater", "rubric_version"], name="rating_one_per_rater_version"),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="rating_confidence_probability",
            ),
            models.CheckConstraint(
                condition=Q(seconds_spent__isnull=True) | Q(seconds_spent__gte=0), name="rating_seconds_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["rater", "item"], name="rating_rater_item"),
            # An annotator's latest ratings (the annotate page's recent list, "done today").
            models.Index(fields=["rater", "created_at", "id"], name="rating_rater_created"),
            # Ratings written or changed since a time: what the live interval re-reads (quality).
            models.Index(fields=["updated_at"], name="rating_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} on {self.item}"


class RatingChange(models.Model):
    """One correction of a rating: who changed it, when, and its values before and after.

    The Rating row always holds the current values (what agreement, approval and exports read);
    these rows are the history, written by ``rating_change`` only and never edited."""

    rating = models.ForeignKey(Rating, related_name="changes", on_delete=models.CASCADE)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    values_before = EncodableJSONField()
    rationales_before = EncodableJSONField(default=dict, blank=True)
    values_after = EncodableJSONField()
    rationales_after = EncodableJSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=RatingSource.choices, default=RatingSource.API)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["rating", "id"], name="rating_change_rating")]

    def __str__(self) -> str:
        return f"change of {self.rating_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Gold(models.Model):
    """A reviewer's adjudicated values for an item: the reference that approval, few-shot
    examples for judges and judge calibration all trust above any single rater."""

    item = models.OneToOneField(Item, related_name="gold", on_delete=models.CASCADE)
    rubric_version = models.ForeignKey(RubricVersion, related_name="golds", on_delete=models.PROTECT)
    values = EncodableJSONField()
    rationales = EncodableJSONField(default=dict, blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"gold for {self.item}"


class SendBack(models.Model):
    """A reviewer sent ``item`` back to its raters instead of deciding it: it leaves the review
    queue, its raters see the note beside their rating, and it comes back to review (if they
    still disagree) when one of them changes their rating, which deletes this row."""

    item = models.OneToOneField(Item, related_name="send_back", on_delete=models.CASCADE)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.item} sent back"


class Assignment(models.Model):
    """A lease: ``user`` holds ``item`` until ``expires_at``. A live lease counts towards the
    item's overlap; an expired one counts for nothing and is deleted by the next claim."""

    project = models.ForeignKey(Project, related_name="assignments", on_delete=models.CASCADE)
    item = models.ForeignKey(Item, related_name="assignments", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="assignments", on_delete=models.CASCADE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="assignment_one_per_user_item")]
        indexes = [
            models.Index(fields=["project", "user", "expires_at"], name="assignment_user_lease"),
            models.Index(fields=["project", "expires_at"], name="assignment_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.user} holds {self.item} until {self.expires_at:%Y-%m-%d %H:%M}"


class Skip(models.Model):
    """``user`` passed on ``item``: the queue never offers it to them again."""

    project = models.ForeignKey(Project, related_name="skips", on_delete=models.CASCADE)
    item = models.ForeignKey(Item, related_name="skips", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="skips", on_delete=models.CASCADE)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="skip_one_per_user_item")]

    def __str__(self) -> str:
        return f"{self.user} skipped {self.item}"


class Draft(models.Model):
    """An unfinished rating autosaved by the annotator's page; deleted when the rating is submitted."""

    item = models.ForeignKey(Item, related_name="drafts", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="drafts", on_delete=models.CASCADE)
    values = EncodableJSONField(default=dict, blank=True)
    rationales = EncodableJSONField(default=dict, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="draft_one_per_user_item"),
            models.CheckConstraint(
                condition=Q(seconds_spent__isnull=True) | Q(seconds_spent__gte=0), name="draft_seconds_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"draft by {self.user} on {self.item}"
