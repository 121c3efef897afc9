"""The one writer of ratings, on whichever database the suite runs (PostgreSQL: one INSERT … ON
CONFLICT statement; SQLite: the ORM): keyed by item, rater and rubric version, never overwriting."""

import pytest
from django.db.models import NOT_PROVIDED

from annotation.models import Rater, RaterKind, Rating, RatingSource
from annotation.selectors import rater_for_user
from annotation.services.ratings import FAST_PATH_FIELDS, NewRating, ratings_write

pytestmark = [pytest.mark.django_db, pytest.mark.both_databases]


def test_it_inserts_new_ratings_and_leaves_existing_ones_alone(project, items, members):
    alice, bob = rater_for_user(user=members["annotator"]), rater_for_user(user=members["annotator2"])
    version = project.rubric_version_id
    first = ratings_write(
        rubric_version_id=version,
        ratings=[NewRating(items[0].pk, alice.pk, {"correct": True}, {"correct": "yes"}, 12.5)],
        source=RatingSource.API,
    )
    stored = Rating.objects.get()
    assert first == {(items[0].pk, alice.pk): stored.pk}
    assert (stored.values, stored.rationales, stored.seconds_spent, stored.source) == (
        {"correct": True}, {"correct": "yes"}, 12.5, RatingSource.API,
    )  # fmt: skip

    again = ratings_write(
        rubric_version_id=version,
        ratings=[
            NewRating(items[0].pk, alice.pk, {"correct": False}, {}),  # exists: kept as it was
            NewRating(items[0].pk, bob.pk, {"correct": False}, {}),
            NewRating(items[1].pk, alice.pk, {"correct": False}, {}, None),
        ],
        source=RatingSource.IMPORT,
    )
    assert set(again) == {(items[0].pk, bob.pk), (items[1].pk, alice.pk)}
    assert Rating.objects.count() == 3
    assert Rating.objects.get(pk=stored.pk).values == {"correct": True}
    assert Rating.objects.get(pk=again[(items[1].pk, alice.pk)]).seconds_spent is None


def test_a_machine_rater_is_written_the_same_way(project, items):
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    written = ratings_write(
        rubric_version_id=project.rubric_version_id,
        ratings=[NewRating(i.pk, judge.pk, {"correct": True}, {}) for i in items],
        source=RatingSource.JUDGE,
    )
    assert len(written) == len(items)
    assert set(Rating.objects.values_list("source", flat=True)) == {RatingSource.JUDGE}


def test_nothing_to_write_writes_nothing(project):
    assert ratings_write(rubric_version_id=project.rubric_version_id, ratings=[], source=RatingSource.API) == {}


def test_the_postgresql_statement_writes_every_column():
    # A field added to Rating must be added to the statement too (or get a database default);
    # otherwise PostgreSQL deployments would store it empty, or fail, while SQLite passes.
    fields = {f.name for f in Rating._meta.concrete_fields if not f.primary_key and f.db_default is NOT_PROVIDED}
    assert set(FAST_PATH_FIELDS) == fields
