"""Turning chunks of export records into bytes: JSON Lines, CSV and Parquet.

Every encoder is deterministic (sorted keys, fixed separators, fixed column order), so the same
records give the same bytes; that is what makes manifests' sha256 and repeated exports agree.
The tabular columns are laid out in exports/columns.py.
"""

import csv
import io
from typing import Protocol

from exports.columns import SCALAR_COLUMNS, Layout, csv_row, json_text, parquet_row

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
    def __init__(self, *, layout: Layout):
        self.layout = layout

    def start(self) -> bytes:
        return b""

    def encode(self, records: list[dict]) -> bytes:
        return "".join([json_text(record) + "\n" for record in records]).encode()

    def finish(self) -> bytes:
        return b""


class CsvEncoder:
    """One row per item, flattened for pandas (exports/columns.py); empty cells for null."""

    def __init__(self, *, layout: Layout):
        self.layout = layout

    def _rows(self, rows) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode()

    def start(self) -> bytes:
        return self._rows([self.layout.csv_header()])

    def encode(self, records: list[dict]) -> bytes:
        return self._rows(csv_row(record, self.layout) for record in records)

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
    """One row group per chunk, written as it comes; nested fields as exact JSON text columns."""

    def __init__(self, *, layout: Layout):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.layout = layout
        types = [pa.string(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64()]
        self.schema = pa.schema(
            [*zip(SCALAR_COLUMNS, types, strict=True), *((name, pa.string()) for name in layout.json_columns())]
        )
        self.sink = _Drain()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")

    def start(self) -> bytes:
        return self.sink.drain()

    def encode(self, records: list[dict]) -> bytes:
        columns = list(zip(*(parquet_row(record, self.layout) for record in records), strict=True))
        self.writer.write_table(self.pa.Table.from_arrays(columns, schema=self.schema))
        return self.sink.drain()

    def finish(self) -> bytes:
        self.writer.close()
        return self.sink.drain()


class Encoder(Protocol):
    def __init__(self, *, layout: Layout) -> None: ...
    def start(self) -> bytes: ...
    def encode(self, records: list[dict]) -> bytes: ...
    def finish(self) -> bytes: ...


ENCODERS: dict[str, type[Encoder]] = {"jsonl": JsonLinesEncoder, "csv": CsvEncoder, "parquet": ParquetEncoder}
