"""Item import's merge, on PostgreSQL (COPY into a staging table, one set-based statement) and on
SQLite (lookups in Python): the same created / updated / unchanged counts and the same refusals."""

import threading

import pytest
from django.db import connection, connections, transaction

from annotation.models import Item
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from config.errors import RowsRejected
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

pytestmark = [pytest.mark.django_db, pytest.mark.both_databases]


def stored(project) -> dict:
    return {i.external_id: (i.data, i.metadata) for i in Item.objects.filter(project=project)}


def test_it_counts_created_updated_and_unchanged_and_stores_exactly_the_rows(project):
    first = items_import(
        project=project,
        rows=[
            {"external_id": "a", "data": {"prompt": "pa", "tags": [1, 2]}, "metadata": {"n": 1}},
            {"external_id": "b", "data": {"prompt": "pb"}},
            {"external_id": "c", "data": {"prompt": "pc"}, "metadata": {"n": 3}},
        ],
    )
    assert first.as_dict() == {"created": 3, "updated": 0, "unchanged": 0}
    again = items_import(
        project=project,
        rows=[
            # Same content, keys in another order: unchanged.
            {"metadata": {"n": 1}, "data": {"tags": [1, 2], "prompt": "pa"}, "external_id": "a"},
            {"external_id": "b", "data": {"prompt": "pb, edited"}},
            {"external_id": "c", "data": {"prompt": "pc"}, "metadata": {"n": 4}},
            {"external_id": 7, "data": {"prompt": "p7"}},
        ],
    )
    assert again.as_dict() == {"created": 1, "updated": 2, "unchanged": 1}
    assert stored(project) == {
        "a": ({"prompt": "pa", "tags": [1, 2]}, {"n": 1}),
        "b": ({"prompt": "pb, edited"}, {}),
        "c": ({"prompt": "pc"}, {"n": 4}),
        "7": ({"prompt": "p7"}, {}),
    }
    created = Item.objects.get(project=project, external_id="7")
    assert (created.status, created.load, created.consensus) == ("pending", 0, {})
    assert items_import(project=project, rows=[{"external_id": "7", "data": {"prompt": "p7"}}]).unchanged == 1


def test_it_refuses_the_whole_import_when_a_rated_items_data_would_change(project, members):
    items_import(project=project, rows=[{"external_id": f"x{i}", "data": {"prompt": f"p{i}"}} for i in range(3)])
    rated = Item.objects.get(project=project, external_id="x1")
    rating_submit(
        item=rated, rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES, rationales=GOOD_RATIONALES
    )
    with pytest.raises(RowsRejected) as refused:
        items_import(
            project=project,
            rows=[
                {"external_id": "new", "data": {"prompt": "n"}},
                {"external_id": "x0", "data": {"prompt": "p0, edited"}},  # not rated: would be fine alone
                {"external_id": "x1", "data": {"prompt": "rewritten"}},
            ],
        )
    assert [(r["row"], r["external_id"]) for r in refused.value.rows] == [(3, "x1")]
    assert stored(project)["x0"] == ({"prompt": "p0"}, {})
    assert "new" not in stored(project)
    # Its metadata may change, and its data may be sent again unchanged.
    result = items_import(project=project, rows=[{"external_id": "x1", "data": {"prompt": "p1"}, "metadata": {"k": 1}}])
    assert (result.updated, stored(project)["x1"]) == (1, ({"prompt": "p1"}, {"k": 1}))


@pytest.mark.django_db(transaction=True)
def test_it_merges_when_a_concurrent_import_fills_the_empty_project_first(project):
    """The first import into an empty project COPYs straight into the items table; when another
    import commits the same external_ids meanwhile, it falls back to the merge and counts right."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite runs one writer at a time and has no such path")
    other_started, other_may_commit = threading.Event(), threading.Event()

    def other_import() -> None:
        try:
            with transaction.atomic():
                items_import(project=project, rows=[{"external_id": "b", "data": {"prompt": "pb"}}])
                other_started.set()
                other_may_commit.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=other_import)
    other.start()
    assert other_started.wait(10)
    # Our import sees no committed item, so it COPYs; its row "b" waits on the other's, which commits.
    threading.Timer(0.5, other_may_commit.set).start()
    result = items_import(
        project=project,
        rows=[{"external_id": "a", "data": {"prompt": "pa"}}, {"external_id": "b", "data": {"prompt": "pb, ours"}}],
    )
    other.join(10)
    assert result.as_dict() == {"created": 1, "updated": 1, "unchanged": 0}
    assert stored(project) == {"a": ({"prompt": "pa"}, {}), "b": ({"prompt": "pb, ours"}, {})}


def test_it_stores_text_that_copy_must_escape_exactly(project):
    """Backslashes, tabs, newlines and non-ASCII text in external_ids, data and metadata arrive as
    sent, whether the rows go straight into an empty project or through the merge."""
    tricky = {
        "tab\there": ({"prompt": "line one\nline two\r\n\ttabbed", "path": "C:\\temp\\new"}, {"note": "\\N"}),
        "back\\slash": ({"prompt": "naïve café ✓ 日本", "quote": '"q"'}, {"\\": "\\\\"}),
        "new\nline": ({"prompt": "\\t is not a tab"}, {}),
    }
    rows = [{"external_id": k, "data": d, "metadata": m} for k, (d, m) in tricky.items()]
    assert items_import(project=project, rows=rows).created == 3  # an empty project: straight COPY
    assert stored(project) == tricky
    assert items_import(project=project, rows=rows).unchanged == 3  # through the merge: all equal
    rows[0]["data"] = {"prompt": "\\\\ two backslashes\t"}
    assert items_import(project=project, rows=rows).as_dict() == {"created": 0, "updated": 1, "unchanged": 2}
    assert stored(project)["tab\there"] == ({"prompt": "\\\\ two backslashes\t"}, {"note": "\\N"})
