"""A value's code in Python (``value_code``) and in SQL (``value_code_sql``) agree, on every scale
kind and on the database the suite runs on; `make test` runs this file on SQLite as well."""

import pytest
from django.db import connection

from annotation.models import Rater, RaterKind, Rating
from rubrics.models import Criterion
from rubrics.scales import scale_points, value_code, value_code_sql
from rubrics.services import rubric_create

pytestmark = [pytest.mark.django_db, pytest.mark.both_databases]

CRITERIA = [
    {"key": "ok", "title": "OK", "scale": {"kind": "binary"}, "required": False},
    {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["calm", "rude", "odd"]},
     "required": False},
    {"key": "stars", "title": "Stars", "scale": {"kind": "ordinal", "min": 1, "max": 5}, "required": False},
    {"key": "temp", "title": "Temp", "scale": {"kind": "interval", "min": -10, "max": 40, "step": 0.5},
     "required": False},
    {"key": "weight", "title": "Weight", "scale": {"kind": "ratio"}, "required": False},
    {"key": "note", "title": "Note", "scale": {"kind": "text"}, "required": False},
    # A key that needs quoting in a JSON path.
    {"key": "in-out", "title": "In-out", "scale": {"kind": "binary"}, "required": False},
]  # fmt: skip

ROWS = [
    {"ok": True, "tone": "calm", "stars": 1, "temp": -10, "weight": 0, "note": "a", "in-out": False},
    {"ok": False, "tone": "odd", "stars": 5, "temp": 39.5, "weight": 1234.5, "note": "", "in-out": True},
    {"tone": "rude", "stars": 3, "temp": 0.5},
    {},
]


def test_python_and_sql_codes_agree(staff, project):
    version = rubric_create(actor=staff, name="Codes", criteria=CRITERIA)
    criteria = list(version.criteria.all())
    item = project.items.create(external_id="x", data={})
    for n, values in enumerate(ROWS):
        rater = Rater.objects.create(kind=RaterKind.JUDGE, name=f"r{n}")
        Rating.objects.create(item=item, rater=rater, rubric_version=version, values=values)

    column = f"r.{connection.ops.quote_name('values')}"
    selects, params = [], []
    for criterion in criteria:
        sql, sql_params = value_code_sql(criterion.scale, criterion.key, column=column, vendor=connection.vendor)
        selects.append(sql)
        params += sql_params
    table = connection.ops.quote_name(Rating._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(selects)} FROM {table} r WHERE r.rubric_version_id = %s ORDER BY r.id",
                       [*params, version.pk])  # fmt: skip
        from_sql = cursor.fetchall()

    from_python = [tuple(value_code(c.scale, values.get(c.key)) for c in criteria) for values in ROWS]
    assert [tuple(None if v is None else float(v) for v in row) for row in from_sql] == from_python
    assert from_python[1][:5] == (0.0, 2.0, 5.0, 39.5, 1234.5)


@pytest.mark.parametrize(
    ("scale", "observed", "points"),
    [
        ({"kind": "binary"}, (), [0.0, 1.0]),
        ({"kind": "categorical", "choices": ["a", "b", "c"]}, (), [0.0, 1.0, 2.0]),
        ({"kind": "ordinal", "min": 2, "max": 4}, (), [2.0, 3.0, 4.0]),
        ({"kind": "interval", "min": -1, "max": 1}, (), [-1.0, 1.0]),
        ({"kind": "ratio", "max": 10}, (3.0,), [0.0, 10.0]),
        ({"kind": "ratio"}, (3.0, 7.5), [0.0, 7.5]),
        ({"kind": "ratio"}, (0.0,), None),
        ({"kind": "text"}, (), None),
    ],
)
def test_scale_points(scale, observed, points):
    assert scale_points(scale, observed) == points


def test_text_has_no_code():
    assert value_code({"kind": "text"}, "anything") is None
    assert Criterion(key="n", scale={"kind": "text"}).agreement_level is None
