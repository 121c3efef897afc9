"""Find and repair stored text that cannot be stored (config/untrusted.py): lone surrogates and
NUL characters in rows written before the edge check existed."""

import json
import sys

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models.functions import Cast
from tqdm import tqdm

from config.untrusted import text_storable

APPS = ("accounts", "rubrics", "annotation", "quality", "exports", "judges")
_CHUNK = 2_000


class Command(BaseCommand):
    help = (
        "Find rows holding text that cannot be stored (a lone UTF-16 surrogate, or a NUL character; "
        "only SQLite could keep them, in JSON columns) and replace each such character by U+FFFD."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        total = 0
        for model in apps.get_models():
            if model._meta.app_label not in APPS or model._meta.proxy or not model._meta.managed:
                continue
            for field in model._meta.concrete_fields:
                if isinstance(field, models.JSONField | models.CharField | models.TextField) and not field.choices:
                    total += self._repair(model, field, dry_run=dry_run)
        verb = "would be repaired" if dry_run else "repaired"
        self.stdout.write(self.style.SUCCESS(f"{total} value(s) {verb}."))

    def _repair(self, model, field, *, dry_run: bool) -> int:
        """Repair one column; returns how many values held bad text. JSON is read as its stored
        text, since EncodableJSONField would already show it repaired."""
        raw = model._base_manager.annotate(_raw=Cast(field.name, models.TextField())).order_by("pk")
        rows = raw.values_list("pk", "_raw")
        if isinstance(field, models.JSONField):
            rows = rows.filter(_raw__contains="\\u")  # the only way JSON text can spell them
        found: list[tuple[int, object]] = []
        label = f"{model._meta.label}.{field.name}"
        for pk, text in tqdm(rows.iterator(chunk_size=_CHUNK), desc=label, unit=" rows", file=sys.stderr, leave=False):
            if text is None:
                continue
            value = json.loads(text) if isinstance(field, models.JSONField) else text
            fixed = text_storable(value)
            if fixed is not value:
                found.append((pk, fixed))
        if found:
            self.stdout.write(f"{label}: {len(found)} value(s) with a lone surrogate or NUL character")
            if not dry_run:
                with transaction.atomic():
                    for pk, fixed in found:
                        model._base_manager.filter(pk=pk).update(**{field.name: fixed})
        return len(found)
