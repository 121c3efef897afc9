"""Ratings: one rater's values for one item under the project's pinned rubric version."""

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotation.models import Item, Membership, Project, Rater, RaterKind, Rating, RatingSource
from annotation.selectors import rater_for_user
from annotation.services.drafts import draft_discard
from annotation.services.items import ParsedRow
from annotation.services.queue import assignment_consume, item_load_recount, item_lock
from annotation.signals import ratings_changed
from config.errors import Conflict, RowsRejected
from rubrics.scales import values_clean

MAX_REPORTED_ERRORS = 1_000


def _seconds_clean(seconds_spent: Any) -> float | None:
    if seconds_spent is None:
        return None
    if isinstance(seconds_spent, bool) or not isinstance(seconds_spent, int | float):
        raise ValidationError({"seconds_spent": ["must be a number of seconds."]})
    if not math.isfinite(seconds_spent) or seconds_spent < 0 or seconds_spent > 7 * 24 * 3600:
        raise ValidationError({"seconds_spent": ["must be between 0 and a week."]})
    return float(seconds_spent)


@transaction.atomic
def rating_submit(
    *,
    item: Item,
    rater: Rater,
    values: Any,
    rationales: Any = None,
    seconds_spent: Any = None,
    source: str = RatingSource.API,
) -> Rating:
    """Store one rating by ``rater`` on ``item`` against the project's rubric version.

    Raises ValidationError keyed by criterion for bad values, Conflict when this rater already
    rated this item under this version, or (people only) when they hold no live lease on an item
    that is already full. A person's rating uses up their lease and deletes their draft.
    Access checks are the caller's (the API, the UI).
    """
    human = rater.kind == RaterKind.HUMAN
    if human:
        # First, lock the item: submissions and queue claims on one item take turns (services/queue.py).
        item_lock(item_id=item.pk)
    version = item.project.rubric_version
    clean_values, clean_rationales = values_clean(criteria=version.criteria.all(), values=values, rationales=rationales)
    seconds = _seconds_clean(seconds_spent)
    if Rating.objects.filter(item=item, rater=rater, rubric_version=version).exists():
        raise Conflict("You have already rated this item under this rubric version.")
    if human:
        # Uses up the rater's lease; refuses (409) a rating without a live lease on a full item.
        assignment_consume(item=item, user_id=rater.user_id)
        draft_discard(item=item, user_id=rater.user_id)
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                item=item,
                rater=rater,
                rubric_version=version,
                values=clean_values,
                rationales=clean_rationales,
                seconds_spent=seconds,
                source=source,
            )
    except IntegrityError:
        raise Conflict("You have already rated this item under this rubric version.") from None
    ratings_changed.send(sender=Rating, project=item.project, item_ids=[item.id])
    return rating


@dataclass(frozen=True)
class RatingImportResult:
    created: int
    unchanged: int

    def as_dict(self) -> dict:
        return asdict(self)


def ratings_import(
    *, project: Project, rows: Iterable[Any], progress: Callable[[int], None] | None = None
) -> RatingImportResult:
    """Import existing human labels ``{external_id, rater: username, values, rationales?, seconds_spent?}``.

    Same validation as a rating made in the UI. All or nothing: any bad row rejects the whole
    request with a report of every bad row. A row identical to a stored rating is counted as
    unchanged, so re-running an import is harmless; a different one conflicts.
    """
    version = project.rubric_version
    criteria = list(version.criteria.all())
    parsed: list[tuple[int, dict]] = []
    errors: list[dict] = []
    for index, row in enumerate(rows, start=1):
        line = index
        if isinstance(row, ParsedRow):
            line = row.line
            if row.error:
                errors.append({"row": line, "errors": {"row": [row.error]}})
                continue
            row = row.value
        if not isinstance(row, dict):
            errors.append({"row": line, "errors": {"row": ["each row must be an object."]}})
            continue
        parsed.append((line, row))

    external_ids = {str(r.get("external_id")) for _, r in parsed if r.get("external_id") is not None}
    usernames = {r.get("rater") for _, r in parsed if isinstance(r.get("rater"), str)}
    items = {}
    ext_list = list(external_ids)
    for start in range(0, len(ext_list), 5_000):
        items.update(
            (item.external_id, item)
            for item in Item.objects.filter(project=project, external_id__in=ext_list[start : start + 5_000]).only(
                "id", "external_id"
            )
        )
    users = get_user_model().objects.filter(username__in=usernames).in_bulk(field_name="username")
    members = set(Membership.objects.filter(project=project).values_list("user_id", flat=True))

    first_line: dict[tuple[int, int], int] = {}
    clean_rows: list[tuple[int, Item, Any, dict, dict, float | None, str]] = []
    for line, row in parsed:
        row_errors: dict[str, list[str]] = {}
        unknown = set(row) - {"external_id", "rater", "values", "rationales", "seconds_spent"}
        if unknown:
            row_errors["row"] = [f"unknown fields: {', '.join(sorted(map(str, unknown)))}."]
        external_id = row.get("external_id")
        item = items.get(str(external_id)) if external_id is not None else None
        if item is None:
            row_errors["external_id"] = [f"no item {external_id!r} in this project."]
        username = row.get("rater")
        user = users.get(username) if isinstance(username, str) else None
        if user is None:
            row_errors["rater"] = [f"no user {username!r}."]
        elif user.pk not in members:
            row_errors["rater"] = [f"{username!r} is not a member of this project."]
        values, rationales, seconds = {}, {}, None
        try:
            values, rationales = values_clean(
                criteria=criteria, values=row.get("values"), rationales=row.get("rationales")
            )
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                row_errors.setdefault(f"values.{key}" if key not in {"values", "rationales"} else key, []).extend(
                    messages
                )
        try:
            seconds = _seconds_clean(row.get("seconds_spent"))
        except ValidationError as exc:
            row_errors.update(exc.message_dict)
        if item is not None and user is not None:
            key = (item.pk, user.pk)
            if key in first_line:
                row_errors.setdefault("rater", []).append(f"rates this item twice: first at row {first_line[key]}.")
            first_line.setdefault(key, line)
        if row_errors:
            errors.append({"row": line, "external_id": external_id, "errors": row_errors})
            continue
        clean_rows.append((line, item, user, values, rationales, seconds, username))

    if errors:
        errors.sort(key=lambda e: e["row"])
        raise RowsRejected(
            f"{len(errors)} row(s) are invalid; nothing was imported.", rows=errors[:MAX_REPORTED_ERRORS]
        )
    if not clean_rows:
        raise RowsRejected("there are no rows to import.", rows=[])

    with transaction.atomic():
        raters = {}
        for user in {row[2] for row in clean_rows}:
            raters[user.pk] = rater_for_user(user=user)
        existing = {
            (r.item_id, r.rater_id): r
            for r in Rating.objects.filter(
                rubric_version=version,
                rater_id__in=[r.pk for r in raters.values()],
                item_id__in=[row[1].pk for row in clean_rows],
            )
        }
        to_create: list[Rating] = []
        unchanged = 0
        conflicts: list[dict] = []
        for line, item, user, values, rationales, seconds, username in clean_rows:
            rater = raters[user.pk]
            stored = existing.get((item.pk, rater.pk))
            if stored is not None:
                if stored.values == values and stored.rationales == rationales:
                    unchanged += 1
                else:
                    conflicts.append(
                        {
                            "row": line,
                            "external_id": item.external_id,
                            "errors": {"rater": [f"{username!r} already rated this item differently."]},
                        }
                    )
                continue
            to_create.append(
                Rating(
                    item=item,
                    rater=rater,
                    rubric_version=version,
                    values=values,
                    rationales=rationales,
                    seconds_spent=seconds,
                    source=RatingSource.IMPORT,
                )
            )
        if conflicts:
            raise RowsRejected(
                f"{len(conflicts)} row(s) conflict with stored ratings; nothing was imported.",
                rows=conflicts[:MAX_REPORTED_ERRORS],
            )
        for start in range(0, len(to_create), 2_000):
            Rating.objects.bulk_create(to_create[start : start + 2_000])
            if progress:
                progress(min(start + 2_000, len(to_create)))
        ratings_changed.send(sender=Rating, project=project, item_ids={r.item_id for r in to_create})
        # Historical labels ignore overlap, but the queue's counter must still see them.
        item_load_recount(item_ids={r.item_id for r in to_create})
    return RatingImportResult(created=len(to_create), unchanged=unchanged)
