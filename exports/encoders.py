"""Turning chunks of export records into bytes: JSON Lines, CSV and Parquet.

Every encoder is deterministic (sorted keys, fixed separators, fixed column order), so the same
records give the same bytes; that is what makes manifests' sha256 and repeated exports agree.
"""

import csv
import io
import json
from typing import Protocol

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

# Scalar columns of CSV and Parquet; everything nested is a JSON text column after them.
SCALAR_COLUMNS = ("external_id", "status", "approved_by", "decided_at", "rubric_id", "rubric_version")
JSON_COLUMNS = ("data", "metadata", "consensus", "disagreement", "gold", "acceptance")

CONTENT_TYPES = {
    "jsonl": "application/x-ndjson; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


class JsonLinesEncoder:
    def __init__(self, *, with_ratings: bool):
        self.with_ratings = with_ratings

    def start(self) -> bytes:
        return b""

    def encode(self, records: list[dict]) -> bytes:
        return "".join([_dumps(record) + "\n" for record in records]).encode()

    def finish(self) -> bytes:
        return b""


def _flat(record: dict, columns: tuple[str, ...]) -> list:
    rubric = record["rubric"]
    return [
        record["external_id"],
        record["status"],
        record["approved_by"],
        record["decided_at"],
        rubric["id"],
        rubric["version"],
        *(None if record[name] is None else _dumps(record[name]) for name in columns),
    ]


class CsvEncoder:
    """One row per item; nested fields as compact JSON text; empty cells for null."""

    def __init__(self, *, with_ratings: bool):
        self.json_columns = (*JSON_COLUMNS, "ratings") if with_ratings else JSON_COLUMNS

    def _rows(self, rows) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode()

    def start(self) -> bytes:
        return self._rows([(*SCALAR_COLUMNS, *self.json_columns)])

    def encode(self, records: list[dict]) -> bytes:
        return self._rows(_flat(record, self.json_columns) for record in records)

    def finish(self) -> bytes:
        return b""


class _Drain:
    """A write-only file for pyarrow that hands back what was written since the last drain."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class ParquetEncoder:
    """One row group per chunk, written as it comes; nested fields as JSON text columns."""

    def __init__(self, *, with_ratings: bool):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.json_columns = (*JSON_COLUMNS, "ratings") if with_ratings else JSON_COLUMNS
        types = [pa.string(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64()]
        self.schema = pa.schema(
            [*zip(SCALAR_COLUMNS, types, strict=True), *((name, pa.string()) for name in self.json_columns)]
        )
        self.sink = _Drain()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")

    def start(self) -> bytes:
        return self.sink.drain()

    def encode(self, records: list[dict]) -> bytes:
        columns = list(zip(*(_flat(record, self.json_columns) for record in records), strict=True))
        self.writer.write_table(self.pa.Table.from_arrays(columns, schema=self.schema))
        return self.sink.drain()

    def finish(self) -> bytes:
        self.writer.close()
        return self.sink.drain()


class Encoder(Protocol):
    def __init__(self, *, with_ratings: bool) -> None: ...
    def start(self) -> bytes: ...
    def encode(self, records: list[dict]) -> bytes: ...
    def finish(self) -> bytes: ...


ENCODERS: dict[str, type[Encoder]] = {"jsonl": JsonLinesEncoder, "csv": CsvEncoder, "parquet": ParquetEncoder}
