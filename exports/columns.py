"""The columns of the tabular exports: CSV flattened for pandas, Parquet with JSON text columns.

CSV (docs/export.md, "CSV columns"): one column per top-level key of the items' ``data``
(``data.<key>``) and per criterion for ``consensus.<key>`` and ``disagreement.<key>``, so
``pandas.read_csv`` gives usable columns at once; what is still nested stays compact JSON text in
its cell. Text that a spreadsheet would run as a formula is defused (OWASP: a leading ``'``).
Parquet keeps every value exact: the nested fields as JSON text columns, unescaped.
"""

import json
from dataclasses import dataclass
from typing import Any

json_text = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

# Scalar columns first, in this order, in CSV and Parquet.
SCALAR_COLUMNS = ("external_id", "status", "approved_by", "decided_at", "audit_rank", "rubric_id", "rubric_version")
# Parquet: the nested fields, each one JSON text column (acceptance and ratings only when present).
JSON_COLUMNS = ("data", "metadata", "consensus", "disagreement", "gold")

# A text cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# (OWASP, "CSV Injection"); a leading apostrophe makes it text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Layout:
    """What the columns of one export depend on besides the records themselves."""

    with_ratings: bool
    gated: bool  # the rubric has acceptance gates: records carry ``acceptance``
    criteria: tuple[str, ...] = ()  # consensus / disagreement keys, in rubric order
    data_keys: tuple[str, ...] = ()  # CSV: the top-level keys of the exported items' data, sorted

    def json_columns(self) -> tuple[str, ...]:
        extra = ("acceptance",) if self.gated else ()
        return (*JSON_COLUMNS, *extra, *(("ratings",) if self.with_ratings else ()))

    def csv_header(self) -> list[str]:
        return [
            *SCALAR_COLUMNS,
            *(f"data.{key}" for key in self.data_keys),
            "metadata",
            *(f"consensus.{key}" for key in self.criteria),
            *(f"disagreement.{key}" for key in self.criteria),
            "gold",
            *(("acceptance.bucket", "acceptance.failing", "acceptance.reason") if self.gated else ()),
            *(("ratings",) if self.with_ratings else ()),
        ]


def defused(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading ``'`` before a formula character."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_cell(value: Any) -> Any:
    """One value as a CSV cell: empty for null, ``true``/``false``, numbers as they are, text
    defused, anything nested as compact JSON (which starts with ``{`` or ``[``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return defused(value)
    return json_text(value)


def _scalars(record: dict) -> list:
    rubric = record["rubric"]
    return [
        record["external_id"],
        record["status"],
        record["approved_by"],
        record["decided_at"],
        record["audit_rank"],
        rubric["id"],
        rubric["version"],
    ]


def csv_row(record: dict, layout: Layout) -> list:
    data = record["data"] if isinstance(record["data"], dict) else {}
    consensus, disagreement = record["consensus"] or {}, record["disagreement"] or {}
    row = [
        *_scalars(record),
        *(data.get(key) for key in layout.data_keys),
        record["metadata"],
        *(consensus.get(key) for key in layout.criteria),
        *(disagreement.get(key) for key in layout.criteria),
        record["gold"],
    ]
    if layout.gated:
        acceptance = record["acceptance"] or {}
        row += [acceptance.get("bucket"), acceptance.get("failing"), acceptance.get("reason")]
    if layout.with_ratings:
        row.append(record["ratings"])
    return [csv_cell(value) for value in row]


def parquet_row(record: dict, layout: Layout) -> list:
    """Scalars, then each nested field as exact JSON text (null stays null)."""
    return [
        *_scalars(record),
        *(None if record[name] is None else json_text(record[name]) for name in layout.json_columns()),
    ]
