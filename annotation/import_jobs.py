"""The import page's jobs: one uploaded file, its preview, a dry run and the import
(annotation/services/import_jobs.py). Apart from models.py only to keep each module short; Django
registers it through the import at the top of models.py."""

from django.conf import settings
from django.db import models

from config.untrusted import EncodableJSONField


class ImportKind(models.TextChoices):
    ITEMS = "items"
    RATINGS = "ratings"


class ImportJobStatus(models.TextChoices):
    UPLOADED = "uploaded"  # stored and previewed; nothing checked yet
    QUEUED = "queued"
    RUNNING = "running"
    CHECKED = "checked"  # a dry run passed: ``result`` holds what the import would do
    REJECTED = "rejected"  # bad rows (``errors``); nothing was written
    DONE = "done"  # imported: ``result`` holds what it did
    FAILED = "failed"  # something other than the rows went wrong (``errors``)


class ImportJob(models.Model):
    """A file uploaded on the import page: its preview, a dry run, the import (services/import_jobs.py)."""

    project = models.ForeignKey("annotation.Project", related_name="import_jobs", on_delete=models.CASCADE)
    kind = models.CharField(max_length=8, choices=ImportKind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    file_name = models.CharField(max_length=255)
    path = models.CharField(max_length=1024, help_text="Where the upload is kept until it is imported.")
    size = models.BigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0, help_text="Lines of the file: the progress bar's end.")
    preview = EncodableJSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ImportJobStatus.choices, default=ImportJobStatus.UPLOADED)
    dry_run = models.BooleanField(default=True, help_text="Whether the current or last run was a check only.")
    phase = models.CharField(max_length=16, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    errors = EncodableJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} import {self.file_name} ({self.status})"
