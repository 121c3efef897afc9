"""Ratings: one rater's values for one item under the project's pinned rubric version.

``ratings_write`` is the one writer of new rows of the Rating table (insert-only) and
``rating_change`` the one path that changes a stored rating (keeping the old values as
history); the rest of this module are the ways ratings arrive (a person's submission, an import
of existing labels).
"""

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import (
    Item,
    Rater,
    RaterKind,
    Rating,
    RatingChange,
    RatingSource,
    SendBack,
)
from annotation.selectors import rating_closed_why
from annotation.services.drafts import draft_discard
from annotation.services.queue import assignment_consume, item_lock, item_lock_for_rating
from annotation.signals import ratings_changed, ratings_written
from config.errors import Conflict
from rubrics.scales import values_clean
from rubrics.selectors import criteria_of, criteria_remember


def seconds_clean(seconds_spent: Any) -> float | None:
    if seconds_spent is None:
        return None
    if isinstance(seconds_spent, bool) or not isinstance(seconds_spent, int | float):
        raise ValidationError({"seconds_spent": ["must be a number of seconds."]})
    if not math.isfinite(seconds_spent) or seconds_spent < 0 or seconds_spent > 7 * 24 * 3600:
        raise ValidationError({"seconds_spent": ["must be between 0 and a week."]})
    return float(seconds_spent)


def _rating_clean(criteria, values: Any, rationales: Any, seconds_spent: Any) -> tuple[dict, dict, float | None]:
    """A person's or judge's rating as the Rating table stores it; ValidationError keyed by field."""
    clean_values, clean_rationales = values_clean(criteria=criteria, values=values, rationales=rationales)
    return clean_values, clean_rationales, seconds_clean(seconds_spent)


@dataclass(frozen=True)
class NewRating:
    """One rating to write: values already cleaned against the rubric version (``values_clean``)."""

    item_id: int
    rater_id: int
    values: dict
    rationales: dict
    seconds_spent: float | None = None
    confidence: float | None = None  # judges' verdicts: see Rating.confidence
    distribution: dict | None = None


class Written(dict[tuple[int, int], int]):
    """``{(item_id, rater_id): rating_id}`` of the rows one ``ratings_write`` inserted, and their
    ``created_at`` (one write stamps all its rows alike), so a caller can answer with the row as
    stored without reading it back."""

    created_at: datetime | None = None


def ratings_write(*, rubric_version_id: int, ratings: Sequence[NewRating], source: str) -> Written:
    """Insert ratings keyed by (item, rater, rubric version); one that exists already is left as it
    is. Returns ``{(item_id, rater_id): rating_id}`` for the ratings inserted. The one place that
    writes the Rating table: people's submissions, rating imports and judges' verdicts all come here.

    Call it inside a transaction. It writes only the rows: queue counts, drafts, and the signal
    that has items decided again are the callers' (they differ: a judge's rating counts for no
    lease and is decided only once the judge is trusted).

    PostgreSQL: one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` with the rows as one JSON
    document bound server-side, so a judge run's thousands of ratings cost no Python per value;
    a rating another writer inserted first simply does not come back. Other databases (SQLite)
    go through the ORM; SQLite takes one write lock per transaction, so the existence check below
    cannot race.
    """
    if not ratings:
        return Written()
    if connection.vendor == "postgresql":
        written = _write_postgresql(rubric_version_id, ratings, source)
    else:
        written = _write_orm(rubric_version_id, ratings, source)
    if written:
        # Live agreement counts them in this same transaction (quality/services/tallies.py).
        changes = [(item_id, rater_id, None) for item_id, rater_id in written]
        ratings_written.send(sender=Rating, rubric_version_id=rubric_version_id, changes=changes)
    return written


def _write_orm(rubric_version_id: int, ratings: Sequence[NewRating], source: str) -> Written:
    keys = {(r.item_id, r.rater_id) for r in ratings}
    existing = set(
        Rating.objects.filter(
            rubric_version_id=rubric_version_id,
            item_id__in={k[0] for k in keys},
            rater_id__in={k[1] for k in keys},
        ).values_list("item_id", "rater_id")
    )
    new = [
        Rating(
            item_id=r.item_id,
            rater_id=r.rater_id,
            rubric_version_id=rubric_version_id,
            values=r.values,
            rationales=r.rationales,
            seconds_spent=r.seconds_spent,
            source=source,
            confidence=r.confidence,
            distribution=r.distribution or {},
        )
        for r in ratings
        if (r.item_id, r.rater_id) not in existing
    ]
    Rating.objects.bulk_create(new)
    written = Written({(r.item_id, r.rater_id): r.pk for r in new})
    written.created_at = new[0].created_at if new else None
    return written


# The columns the PostgreSQL statement writes; a test checks that every concrete field of Rating
# but the primary key is here, so a new field cannot silently get no value.
FAST_PATH_FIELDS = [
    "item", "rater", "rubric_version", "values", "rationales", "seconds_spent", "source", "created_at", "updated_at",
    "confidence", "distribution",
]  # fmt: skip


@functools.cache
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Rating._meta.get_field(name).column) for name in FAST_PATH_FIELDS)
    return f"""
INSERT INTO {quote(Rating._meta.db_table)} ({columns})
SELECT x.item, x.rater, %(rubric_version)s, x.vals, x.rats, x.secs, %(source)s, now(), now(), x.conf,
       COALESCE(x.dist, '{{}}'::jsonb)
FROM json_to_recordset(%(rows)s::json)
    AS x(item bigint, rater bigint, vals jsonb, rats jsonb, secs double precision, conf double precision, dist jsonb)
ON CONFLICT DO NOTHING
RETURNING {quote("item_id")}, {quote("rater_id")}, {quote("id")}, {quote("created_at")}
"""


def _write_postgresql(rubric_version_id: int, ratings: Sequence[NewRating], source: str) -> Written:
    rows = json.dumps(
        [
            {
                "item": r.item_id,
                "rater": r.rater_id,
                "vals": r.values,
                "rats": r.rationales,
                "secs": r.seconds_spent,
                "conf": r.confidence,
                "dist": r.distribution,
            }
            for r in ratings
        ]
    )
    connection.ensure_connection()
    # Django's cursors bind parameters client-side (quoting each value in Python); a plain psycopg
    # cursor on the same connection, inside the same transaction, binds them server-side.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _insert_sql(), {"rubric_version": rubric_version_id, "source": str(source), "rows": rows}, prepare=False
        )
        returned: list[tuple] = cursor.fetchall()
    written = Written({(item_id, rater_id): pk for item_id, rater_id, pk, _ in returned})
    written.created_at = returned[0][3] if returned else None
    return written


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
    # First, lock the item: submissions and queue claims on one item take turns (services/queue.py).
    # With it go the person's lease and draft: an error below rolls all of it back.
    leased = human and item_lock_for_rating(item=item, user_id=rater.user_id)
    version = item.project.rubric_version
    criteria = criteria_of(version=version)
    clean_values, clean_rationales, seconds = _rating_clean(criteria, values, rationales, seconds_spent)
    # A person with a live lease on the item has not rated it (the queue never leases an item to
    # someone who rated it): the common case skips the check; the insert refuses a duplicate anyway.
    if not leased and Rating.objects.filter(item=item, rater=rater, rubric_version=version).exists():
        raise Conflict("You have already rated this item under this rubric version.")
    if human and not leased:
        # Refuses (409) a rating without a live lease on a full item.
        assignment_consume(item=item, user_id=rater.user_id)
    written = ratings_write(
        rubric_version_id=version.pk,
        ratings=[NewRating(item.pk, rater.pk, clean_values, clean_rationales, seconds)],
        source=source,
    )
    if not written:  # another request of the same rater got there between the check and now
        raise Conflict("You have already rated this item under this rubric version.")
    criteria_remember(version_id=version.pk, criteria=criteria)  # rated, so frozen once this commits
    ratings_changed.send(sender=Rating, project=item.project, item_ids=[item.id])
    # The row as stored (its timestamps are the database's), without reading it back.
    rating = Rating(
        pk=written[(item.pk, rater.pk)],
        item=item,
        rater=rater,
        rubric_version=version,
        values=clean_values,
        rationales=clean_rationales,
        seconds_spent=seconds,
        source=source,
        created_at=written.created_at,
        updated_at=written.created_at,
    )
    rating._state.adding, rating._state.db = False, connection.alias
    return rating


@transaction.atomic
def rating_change(
    *,
    item: Item,
    rater: Rater,
    values: Any,
    rationales: Any = None,
    seconds_spent: Any = None,
    actor=None,
    source: str = RatingSource.API,
) -> Rating:
    """Replace ``rater``'s values on ``item`` (their rating under the project's rubric version),
    keeping the old ones as a RatingChange (who, when, before, after); then the item is decided
    again (``ratings_changed``), so agreement and approval see only the current values.

    Same validation as ``rating_submit``. ``seconds_spent``, when given, replaces the time on the
    item (the page counts on from the stored figure). Raises Rating.DoesNotExist when the rater
    has no rating of the item under this version, and Conflict once the item is decided
    (approved, rejected, or adjudicated by a reviewer). Values and rationales identical to the
    stored ones change nothing and write no history. Access checks are the caller's.

    Locked like a submission: the item row first (services/queue.py), so a change, a new rating
    and the approval of the same item take turns and the decision check below cannot go stale.
    """
    item_lock(item_id=item.pk)
    version = item.project.rubric_version
    clean_values, clean_rationales, seconds = _rating_clean(
        criteria_of(version=version), values, rationales, seconds_spent
    )
    rating = Rating.objects.filter(item=item, rater=rater, rubric_version=version).first()
    if rating is None:
        raise Rating.DoesNotExist("You have not rated this item under its current rubric version.")
    why = rating_closed_why(item_id=item.pk, rubric_version_id=version.pk)
    if why:
        raise Conflict(
            f"This rating can no longer be changed: {why}.", errors={"item": [f"{why}; ratings are closed."]}
        )
    if rating.values == clean_values and rating.rationales == clean_rationales:
        if seconds is not None and seconds != rating.seconds_spent:
            Rating.objects.filter(pk=rating.pk).update(seconds_spent=seconds)
            rating.seconds_spent = seconds
        return rating
    RatingChange.objects.create(
        rating=rating,
        changed_by=actor if actor is not None else rater.user,
        values_before=rating.values,
        rationales_before=rating.rationales,
        values_after=clean_values,
        rationales_after=clean_rationales,
        source=source,
    )
    # updated_at moves too: stored agreement reports compare it to notice the change.
    fields = {"values": clean_values, "rationales": clean_rationales, "updated_at": timezone.now()}
    if seconds is not None:
        fields["seconds_spent"] = seconds
    Rating.objects.filter(pk=rating.pk).update(**fields)
    ratings_written.send(sender=Rating, rubric_version_id=version.pk, changes=[(item.pk, rater.pk, rating.values)])
    # A reviewer who sent the item back asked for exactly this: it returns to review if need be.
    SendBack.objects.filter(item=item).delete()
    if rater.user_id is not None:
        draft_discard(item=item, user_id=rater.user_id)
    ratings_changed.send(sender=Rating, project=item.project, item_ids=[item.pk])
    return Rating.objects.select_related("rater", "rubric_version").get(pk=rating.pk)
