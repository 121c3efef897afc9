"""Adjudication: a reviewer's decision on an item becomes its gold; or the item goes back to its
raters with a note (``item_send_back``), to be corrected rather than decided."""

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Gold, Item, SendBack
from annotation.selectors import REVIEW, project_require, rating_closed_why
from annotation.services.queue import item_lock
from annotation.signals import ratings_changed
from config.errors import Conflict
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
    note = _note_clean(note)
    gold, _ = Gold.objects.update_or_create(
        item=item,
        defaults={
            "rubric_version": version,
            "values": clean_values,
            "rationales": clean_rationales,
            "reviewer": reviewer,
            "note": note,
        },
    )
    SendBack.objects.filter(item=item).delete()
    ratings_changed.send(sender=Gold, project=item.project, item_ids=[item.pk])
    return gold


def _note_clean(note) -> str:
    if not isinstance(note, str):
        raise ValidationError({"note": ["note must be text."]})
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [f"note is longer than {MAX_NOTE} characters."]})
    return note.strip()


@transaction.atomic
def item_send_back(*, item: Item, reviewer, note: str = "") -> SendBack:
    """Send ``item`` back to its raters instead of deciding it: it leaves the review queue until
    one of them changes their rating (``rating_change`` deletes the send-back), and they see
    ``note`` beside their rating. Raises PermissionDenied unless ``reviewer`` reviews the project,
    Conflict once the item is decided (there is nothing left to correct)."""
    project_require(user=reviewer, project=item.project, roles=REVIEW)
    note = _note_clean(note)
    item_lock(item_id=item.pk)
    why = rating_closed_why(item_id=item.pk, rubric_version_id=item.project.rubric_version_id)
    if why:
        raise Conflict(f"This item cannot be sent back: {why}.", errors={"item": [f"{why}."]})
    back, _ = SendBack.objects.update_or_create(item=item, defaults={"reviewer": reviewer, "note": note})
    return back
