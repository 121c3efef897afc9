"""The two ways an export record is built (exports/fields.py): in Python, and as JSON text by
PostgreSQL for JSON Lines. On PostgreSQL both must give the same records, field by field."""

import json

import pytest
from django.db import connection

from exports.fields import FIELDS, fields_for
from exports.postgres import jsonl_stream_postgres
from exports.records import export_chunks
from exports.spec import export_spec_parse
from quality.services.approval import item_reject
from tests.quality.test_acceptance import people, rate, tasks, tasks_project, verdict  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _both(project, **params):
    spec = export_spec_parse({"status": "all", **params})
    python = [record for chunk in export_chunks(project=project, spec=spec) for record in chunk]
    body = b"".join(jsonl_stream_postgres(project=project, spec=spec)).decode()
    return python, [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the JSON Lines fast path is PostgreSQL's; SQLite builds every record in Python")


@pytest.mark.parametrize("include", ["", "ratings,judges"])
def test_python_and_postgresql_records_are_the_same(postgres_only, project, dataset, include):
    python, postgres = _both(project, include=include, reveal_raters="true" if include else "false")
    assert len(python) == len(postgres) == 5
    assert python == postgres
    assert {f.name for f in FIELDS if (include or not f.with_ratings_only) and not f.gated_only} == set(postgres[0])
    assert {f.name for f in fields_for(with_ratings=bool(include), gated=False)} == set(python[0])
    assert any(r["gold"] for r in postgres) and any(r["approved_by"] for r in postgres)


def test_acceptance_is_the_same_both_ways(postgres_only, tasks_project, tasks, people, staff):  # noqa: F811
    for person in ("ann", "ben"):
        rate(tasks[0], people[person], verdict())
        rate(tasks[1], people[person], verdict(fail="reliable", reason="broken environment"))
    item_reject(item=tasks[2], actor=staff, reason="spam")
    python, postgres = _both(tasks_project)
    assert python == postgres
    assert "acceptance" in postgres[0], "a gated project's records carry acceptance"
    assert {r["acceptance"]["bucket"] for r in postgres} >= {"accepted", "rejected", "undecided"}


@pytest.mark.parametrize("micro", [0, 120_000, 123_456, 100])
def test_decision_times_are_written_alike(postgres_only, project, dataset, micro):
    from datetime import UTC, datetime

    from annotation.models import Item

    Item.objects.filter(pk=dataset["items"][0].pk).update(decided_at=datetime(2026, 3, 1, 12, 0, 5, micro, tzinfo=UTC))
    python, postgres = _both(project)
    assert [r["decided_at"] for r in python] == [r["decided_at"] for r in postgres]
