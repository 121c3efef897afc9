from django.conf import settings
from django.db import models

from config.untrusted import EncodableJSONField
from rubrics.scales import AGREEMENT_LEVEL, ScaleKind


class Rubric(models.Model):
    """A named rubric; what it asks lives in its versions, which never change once used."""

    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> "RubricVersion":
        return self.versions.order_by("-number").first()


class RubricVersion(models.Model):
    rubric = models.ForeignKey(Rubric, related_name="versions", on_delete=models.CASCADE)
    number = models.PositiveIntegerField()
    instructions = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by rubric_version_publish: from then on the version never changes (edits make a new one).
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rubric", "number"], name="rubric_version_unique_number")]
        ordering = ["rubric_id", "number"]

    def __str__(self) -> str:
        return f"{self.rubric.name} v{self.number}"

    def is_used(self) -> bool:
        return self.ratings.exists()

    def is_frozen(self) -> bool:
        """A published version, or one with ratings, never changes: editing makes a new version."""
        return self.published_at is not None or self.is_used()


class Criterion(models.Model):
    version = models.ForeignKey(RubricVersion, related_name="criteria", on_delete=models.CASCADE)
    position = models.PositiveIntegerField(default=0)
    key = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    scale = EncodableJSONField()
    rationale_required = models.BooleanField(default=False)
    required = models.BooleanField(default=True)
    gate = models.BooleanField(
        default=False,
        help_text="An acceptance gate (binary criteria only): an item is accepted only when every gate is yes.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="criterion_unique_key_in_version")]
        ordering = ["version_id", "position", "id"]
        verbose_name_plural = "criteria"

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"

    @property
    def kind(self) -> str:
        return self.scale.get("kind", "")

    @property
    def agreement_level(self) -> str | None:
        return AGREEMENT_LEVEL.get(self.kind)

    def points(self) -> list[dict]:
        """The scale points an annotator picks from, with their anchors (empty for numeric ranges)."""
        labels = self.scale.get("labels", {})
        if self.kind == ScaleKind.BINARY:
            return [
                {"value": True, "label": "Yes", "anchor": labels.get("true", "")},
                {"value": False, "label": "No", "anchor": labels.get("false", "")},
            ]
        if self.kind == ScaleKind.CATEGORICAL:
            return [{"value": c, "label": c, "anchor": labels.get(c, "")} for c in self.scale["choices"]]
        if self.kind == ScaleKind.ORDINAL:
            return [
                {"value": p, "label": str(p), "anchor": labels.get(str(p), "")}
                for p in range(self.scale["min"], self.scale["max"] + 1)
            ]
        return []
