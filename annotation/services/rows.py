"""Rows of an import: read from an uploaded file (JSON Lines, CSV or a JSON array), numbered, and
reported all at once when any is bad. Item import and rating import share this, so a file that
one refuses is refused, and reported, the same way by the other.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from config.errors import RowsRejected
from config.untrusted import UntrustedInputError, json_check, json_loads_checked

MAX_REPORTED_ERRORS = 1_000
# Python's csv module refuses a cell over 128 KiB; items (a long trace in a `data` cell) may be
# larger. A cell over this limit is reported as an error of its line.
MAX_CSV_CELL = 16 * 1024 * 1024
csv.field_size_limit(MAX_CSV_CELL)


@dataclass(frozen=True)
class ParsedRow:
    """A record read from a file: either its value or why it could not be read (``error`` for
    the row as a whole, ``errors`` by field path)."""

    line: int
    value: Any = None
    error: str | None = None
    errors: dict[str, list[str]] | None = None


def rows_read_jsonl(stream: IO[bytes]) -> Iterator[ParsedRow]:
    for line_number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            yield ParsedRow(line=line_number, error=f"not valid UTF-8 (byte {exc.start + 1} of the line).")
            continue
        if not text.strip():
            continue
        try:
            yield ParsedRow(line=line_number, value=json_loads_checked(text))
        except UntrustedInputError as exc:
            yield ParsedRow(line=line_number, errors=exc.errors)
        except ValueError as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            yield ParsedRow(line=line_number, error=f"not valid JSON: {message}{column}.")


def rows_read_csv(stream: IO[bytes]) -> Iterator[ParsedRow]:
    """CSV: an ``external_id`` column; ``data`` / ``metadata`` columns hold JSON objects, and any
    other column becomes a field of data (``metadata.<name>`` columns a field of metadata).

    A file that is not UTF-8, or that the csv module cannot read on (a cell over MAX_CSV_CELL),
    ends with an error on the line where reading stopped; the rows before it are still checked."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        yield from _csv_records(reader)
    except UnicodeDecodeError:
        yield ParsedRow(line=reader.line_num + 1, error="the file is not valid UTF-8 from this line on.")
    except csv.Error as exc:
        yield ParsedRow(line=reader.line_num, error=f"unreadable CSV: {exc} (a cell may hold at most 16 MiB).")


def _csv_records(reader: csv.DictReader) -> Iterator[ParsedRow]:
    if not reader.fieldnames or "external_id" not in reader.fieldnames:
        yield ParsedRow(line=1, error="the CSV header must include an external_id column.")
        return
    for record in reader:
        line = reader.line_num
        if None in record:
            yield ParsedRow(line=line, error="this row has more cells than the header.")
            continue
        row: dict[str, Any] = {"external_id": record.pop("external_id")}
        try:
            data = json_loads_checked(record.pop("data"), path=("data",)) if "data" in record else {}
            metadata = json_loads_checked(record.pop("metadata"), path=("metadata",)) if "metadata" in record else {}
        except UntrustedInputError as exc:
            yield ParsedRow(line=line, errors=exc.errors)
            continue
        except ValueError as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield ParsedRow(line=line, error=f"the data or metadata cell is not valid JSON: {message}.")
            continue
        if not isinstance(data, dict) or not isinstance(metadata, dict):
            yield ParsedRow(line=line, error="the data and metadata cells must hold JSON objects.")
            continue
        for column, cell in record.items():
            if column.startswith("metadata."):
                metadata[column.removeprefix("metadata.")] = cell
            else:
                data[column] = cell
        row["data"] = data
        row["metadata"] = metadata
        try:
            json_check(row)  # plain cells (and header names) may hold a NUL character
        except UntrustedInputError as exc:
            yield ParsedRow(line=line, errors=exc.errors)
            continue
        yield ParsedRow(line=line, value=row)


def rows_read_upload(*, name: str, stream: IO[bytes]) -> Iterator[ParsedRow]:
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return rows_read_jsonl(stream)
    if lowered.endswith(".csv"):
        return rows_read_csv(stream)
    if lowered.endswith(".json"):
        return _rows_read_json_array(stream)
    raise ValueError("upload a .jsonl, .json or .csv file.")


def _rows_read_json_array(stream: IO[bytes]) -> Iterator[ParsedRow]:
    try:
        payload = json_loads_checked(stream.read())
    except UntrustedInputError as exc:
        yield ParsedRow(line=1, errors=exc.errors)
        return
    except ValueError as exc:  # not JSON, or not UTF-8
        yield ParsedRow(line=1, error=f"not valid JSON: {exc}.")
        return
    if not isinstance(payload, list):
        yield ParsedRow(line=1, error="a .json upload must hold an array of rows.")
        return
    for index, value in enumerate(payload, start=1):
        yield ParsedRow(line=index, value=value)


def rows_numbered(rows: Iterable[Any], *, errors: list[dict], max_rows: int | None = None) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each row that could be read; a file row that could not is appended to
    ``errors`` with its line, and so is the first row past ``max_rows`` (reading stops there)."""
    for count, row in enumerate(rows, start=1):
        line = count
        if isinstance(row, ParsedRow):
            line = row.line
            if row.error or row.errors:
                errors.append({"row": line, "errors": row.errors or {"row": [row.error]}})
                continue
            row = row.value
        if max_rows is not None and count > max_rows:
            errors.append({"row": line, "errors": {"row": [f"an import takes at most {max_rows} rows."]}})
            return
        yield line, row


def rows_reject_if_any(errors: list[dict], *, found: int, problem: str = "are invalid") -> None:
    """Raise RowsRejected, with every bad row (up to MAX_REPORTED_ERRORS) in row order, when there
    is any, or when no row was ``found`` at all. Nothing has been written when this raises."""
    if errors:
        errors = sorted(errors, key=lambda e: e["row"])
        raise RowsRejected(f"{len(errors)} row(s) {problem}; nothing was imported.", rows=errors[:MAX_REPORTED_ERRORS])
    if not found:
        raise RowsRejected("there are no rows to import.", rows=[])
