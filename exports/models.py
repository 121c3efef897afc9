import secrets
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Project


def pseudonym_key_new() -> str:
    return secrets.token_hex(32)


class ProjectPseudonymKey(models.Model):
    """The per-project secret that rater pseudonyms in exports are an HMAC under.

    A key of its own rather than SECRET_KEY: rotating SECRET_KEY (which an operator may do after a
    leak) must not rename every rater in datasets already published, and two projects' exports
    must not be joinable on rater ids. Created on the first export that includes ratings.
    """

    project = models.OneToOneField(Project, related_name="pseudonym_key", on_delete=models.CASCADE)
    key = models.CharField(max_length=64, default=pseudonym_key_new, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pseudonym key for {self.project}"


class SnapshotStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ExportSnapshot(models.Model):
    """An export written to a file by a worker, for sets too large to stream in one request.

    ``params`` holds the validated export parameters (see ``exports.spec.ExportSpec``); the file
    name is derived from the id and format only, so no request can name a path.
    """

    project = models.ForeignKey(Project, related_name="export_snapshots", on_delete=models.CASCADE)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    format = models.CharField(max_length=8)
    params = models.JSONField()
    status = models.CharField(max_length=16, choices=SnapshotStatus.choices, default=SnapshotStatus.QUEUED)
    # Progress, in records: ``total`` is counted when the worker starts, ``done`` is saved per chunk.
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    record_count = models.PositiveBigIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=["jsonl", "csv", "parquet"]), name="export_snapshot_known_format"
            ),
        ]

    def __str__(self) -> str:
        return f"export snapshot {self.pk} of {self.project} ({self.status})"

    @staticmethod
    def folder() -> Path:
        return Path(settings.VAR_DIR) / "exports"

    def file_name(self) -> str:
        return f"project-{self.project_id}-snapshot-{self.pk}.{self.format}"

    def path(self) -> Path:
        return self.folder() / self.file_name()

    def is_done(self) -> bool:
        return self.status == SnapshotStatus.SUCCEEDED
