"""Drafts: what an annotator has entered on an item so far, autosaved by the rating page.

A draft may be incomplete or even invalid against the rubric; it is checked only when it is
submitted as a rating (``rating_submit``, which also deletes it).
"""

import json
import math

from django.core.exceptions import ValidationError

from annotation.models import Draft, Item

MAX_DRAFT_BYTES = 200_000


def draft_save(*, item: Item, user, values: dict, rationales: dict, seconds_spent: float | None) -> Draft:
    """Create or replace ``user``'s draft on ``item``. Access checks are the caller's."""
    errors: dict[str, list[str]] = {}
    if not isinstance(values, dict):
        errors["values"] = ["values must be an object."]
    if not isinstance(rationales, dict):
        errors["rationales"] = ["rationales must be an object."]
    if seconds_spent is not None and (
        isinstance(seconds_spent, bool)
        or not isinstance(seconds_spent, int | float)
        or not math.isfinite(seconds_spent)
        or not 0 <= seconds_spent <= 7 * 24 * 3600
    ):
        errors["seconds_spent"] = ["must be a number of seconds between 0 and a week."]
    if not errors:
        try:
            size = len(json.dumps([values, rationales]))
        except (TypeError, ValueError):
            errors["values"] = ["values and rationales must be plain JSON."]
        else:
            if size > MAX_DRAFT_BYTES:
                errors["values"] = [f"a draft holds at most {MAX_DRAFT_BYTES} characters."]
    if errors:
        raise ValidationError(errors)
    draft, _ = Draft.objects.update_or_create(
        item=item,
        user=user,
        defaults={
            "values": values,
            "rationales": rationales,
            "seconds_spent": None if seconds_spent is None else float(seconds_spent),
        },
    )
    return draft


def draft_get(*, item: Item, user) -> Draft | None:
    return Draft.objects.filter(item=item, user=user).first()


def draft_discard(*, item: Item, user_id: int) -> None:
    Draft.objects.filter(item=item, user_id=user_id).delete()
