"""Import of existing human labels: rows of a file or a JSON array, all or nothing."""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Item, Membership, Project, Rater, RaterKind, Rating, RatingSource
from annotation.selectors import rater_for_user
from annotation.services.item_loads import item_load_recount
from annotation.services.ratings import NewRating, ratings_write, seconds_clean
from annotation.services.rows import rows_numbered, rows_reject_if_any
from annotation.signals import ratings_changed
from rubrics.scales import values_clean

MAX_RATER_NAME = 200


@dataclass(frozen=True)
class _External:
    """An imported rater's name that is no member's username: an external rater of the project."""

    name: str


@dataclass(frozen=True)
class RatingImportResult:
    created: int
    unchanged: int

    def as_dict(self) -> dict:
        return asdict(self)


def ratings_import(
    *, project: Project, rows: Iterable[Any], progress: Callable[[int], None] | None = None, dry_run: bool = False
) -> RatingImportResult:
    """Import existing human labels ``{external_id, rater: name, values, rationales?, seconds_spent?}``.

    ``rater`` is the username of an account that is a member of the project, whose rating it then
    is; any other name is an **external rater** of this project (a person without a login here,
    created on first use, named only within the project). An account that is not a member is never
    credited with ratings it did not make (consent: docs/security.md). Same validation as a
    rating made in the UI. ``dry_run``: every check and the counts, nothing written.

    All or nothing: any bad row rejects the whole request with a report of every bad row. A row
    identical to a stored rating is counted as unchanged, so re-running an import is harmless; a
    different one conflicts.
    """
    version = project.rubric_version
    criteria = list(version.criteria.all())
    parsed: list[tuple[int, dict]] = []
    errors: list[dict] = []
    for line, row in rows_numbered(rows, errors=errors):
        if not isinstance(row, dict):
            errors.append({"row": line, "errors": {"row": ["each row must be an object."]}})
            continue
        parsed.append((line, row))

    external_ids = {str(r.get("external_id")) for _, r in parsed if r.get("external_id") is not None}
    usernames = {r.get("rater") for _, r in parsed if isinstance(r.get("rater"), str)}
    items: dict[str, Item] = {}
    ext_list = list(external_ids)
    for start in range(0, len(ext_list), 5_000):
        items.update(
            (item.external_id, item)
            for item in Item.objects.filter(project=project, external_id__in=ext_list[start : start + 5_000]).only(
                "id", "external_id"
            )
        )
    members = {
        m.user.get_username(): m.user
        for m in Membership.objects.filter(project=project, user__username__in=usernames).select_related("user")
    }

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
        user: Any = None
        if not isinstance(username, str) or not username.strip():
            row_errors["rater"] = ["rater is required: a member's username or an external rater's name."]
        elif len(username) > MAX_RATER_NAME:
            row_errors["rater"] = [f"a rater's name has at most {MAX_RATER_NAME} characters."]
        else:
            # A member's account, or else an external rater known by this name in this project.
            user = members.get(username) or _External(username.strip())
        values: dict[str, Any] = {}
        rationales: dict[str, str] = {}
        seconds = None
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
            seconds = seconds_clean(row.get("seconds_spent"))
        except ValidationError as exc:
            row_errors.update(exc.message_dict)
        if item is not None and user is not None:
            key = (item.pk, user.pk if not isinstance(user, _External) else user.name)
            if key in first_line:
                row_errors.setdefault("rater", []).append(f"rates this item twice: first at row {first_line[key]}.")
            first_line.setdefault(key, line)
        if row_errors or item is None or user is None:
            errors.append({"row": line, "external_id": external_id, "errors": row_errors})
            continue
        clean_rows.append((line, item, user, values, rationales, seconds, str(username)))

    rows_reject_if_any(errors, found=len(clean_rows))

    with transaction.atomic():
        raters: dict[Any, Rater] = {}
        for user in {row[2] for row in clean_rows}:
            if isinstance(user, _External) and dry_run:
                raters[user] = Rater.objects.filter(project=project, name=user.name).first() or Rater(pk=0)
            elif isinstance(user, _External):
                raters[user], _ = Rater.objects.get_or_create(
                    project=project, name=user.name, defaults={"kind": RaterKind.HUMAN}
                )
            else:
                found = Rater.objects.filter(user=user).first() if dry_run else rater_for_user(user=user)
                raters[user.pk] = found or Rater(pk=0)  # a dry run creates no rater
        existing = {
            (r.item_id, r.rater_id): r
            for r in Rating.objects.filter(
                rubric_version=version,
                rater_id__in=[r.pk for r in raters.values()],
                item_id__in=[row[1].pk for row in clean_rows],
            )
        }
        to_create: list[NewRating] = []
        unchanged = 0
        conflicts: list[dict] = []
        for line, item, user, values, rationales, seconds, username in clean_rows:
            rater = raters[user if isinstance(user, _External) else user.pk]
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
            to_create.append(NewRating(item.pk, rater.pk, values, rationales, seconds))
        if conflicts:
            rows_reject_if_any(conflicts, found=len(clean_rows), problem="conflict with stored ratings")
        if dry_run:
            return RatingImportResult(created=len(to_create), unchanged=unchanged)
        for start in range(0, len(to_create), 2_000):
            chunk = to_create[start : start + 2_000]
            ratings_write(rubric_version_id=version.pk, ratings=chunk, source=RatingSource.IMPORT)
            if progress:
                progress(min(start + 2_000, len(to_create)))
        ratings_changed.send(sender=Rating, project=project, item_ids={r.item_id for r in to_create})
        # Historical labels ignore overlap, but the queue's counter must still see them.
        item_load_recount(item_ids={r.item_id for r in to_create})
    return RatingImportResult(created=len(to_create), unchanged=unchanged)
