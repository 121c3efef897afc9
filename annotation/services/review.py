"""Adjudication: a reviewer's decision on an item becomes its gold."""

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Gold, Item
from annotation.selectors import REVIEW, project_require
from annotation.services.queue import item_lock
from annotation.signals import ratings_changed
from rubrics.scales import CriterionSpec, ScaleKind, values_clean

MAX_NOTE = 20_000


@transaction.atomic
def gold_set(*, item: Item, reviewer, values: dict, rationales: dict | None = None, note: str = "") -> Gold:
    """Record (or replace) ``reviewer``'s adjudicated values for ``item``.

    The values are validated like a rating against the project's rubric version, except that
    text criteria and rationales are optional: a reviewer settles the scores and may explain
    them in ``note``. Raises PermissionDenied unless ``reviewer`` is a reviewer or manager of the
    project (or staff). Does not change the item's status: approval reads the gold.
    """
    project_require(user=reviewer, project=item.project, roles=REVIEW)
    # Locked like a rating: a correction of a rating (rating_change) and this gold take turns, so
    # a rating is never changed under an adjudication that has just closed the item.
    item_lock(item_id=item.pk)
    version = item.project.rubric_version
    criteria = [
        CriterionSpec(
            key=c.key,
            scale=c.scale,
            rationale_required=False,
            required=c.required and c.scale.get("kind") != ScaleKind.TEXT,
        )
        for c in version.criteria.all()
    ]
    clean_values, clean_rationales = values_clean(criteria=criteria, values=values, rationales=rationales)
    if not isinstance(note, str):
        raise ValidationError({"note": ["note must be text."]})
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [f"note is longer than {MAX_NOTE} characters."]})
    gold, _ = Gold.objects.update_or_create(
        item=item,
        defaults={
            "rubric_version": version,
            "values": clean_values,
            "rationales": clean_rationales,
            "reviewer": reviewer,
            "note": note.strip(),
        },
    )
    ratings_changed.send(sender=Gold, project=item.project, item_ids=[item.pk])
    return gold
