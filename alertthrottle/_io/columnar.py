"""Columnar traffic: Parquet and Arrow IPC files, read by record batch with pyarrow.

The columns are a CSV traffic file's (``timestamp, device_id, code`` and
optionally ``recipients, manufacturer, model, firmware``). Codes may be
strings (hexadecimal) or integers; timestamps numbers (epoch seconds, or the
reader's ``time_unit``) or Arrow timestamps (a timestamp without a time zone
is taken as UTC); recipients a ``;``-separated string or a list of strings.
Memory holds one record batch (:data:`BATCH_ROWS` rows) at a time.

pyarrow is an optional dependency (``pip install "alertthrottle[arrow]"``),
imported only when a columnar file is read.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from typing import IO, Any, cast

__all__ = [
    "BATCH_ROWS",
    "COLUMNAR_FORMATS",
    "ColumnarError",
    "ColumnarTable",
    "open_columnar",
    "sniff_columnar",
]

#: Rows per record batch read from a Parquet file.
BATCH_ROWS = 1 << 16
#: The columnar formats: Parquet, and Arrow IPC (file or stream).
COLUMNAR_FORMATS = ("parquet", "arrow")
_COLUMNS = ("timestamp", "device_id", "code", "recipients", "manufacturer", "model", "firmware")
_REQUIRED = ("timestamp", "device_id", "code")
_UNITS = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


class ColumnarError(Exception):
    """A columnar file that cannot be read; the message says why (the reader adds the name)."""


def sniff_columnar(head: bytes) -> str | None:
    """The columnar format whose magic bytes ``head`` starts with, or None."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"\xff\xff\xff\xff")):
        return "arrow"
    return None


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise ColumnarError(
            'reading Parquet or Arrow files needs pyarrow: pip install "alertthrottle[arrow]"'
        ) from None
    return pyarrow


class ColumnarTable:
    """A Parquet or Arrow IPC file opened for reading: its columns, size and batches."""

    def __init__(self, source: str | os.PathLike[str] | IO[bytes], fmt: str) -> None:
        pa = _pyarrow()
        self._pa = pa
        if fmt == "parquet" and not isinstance(source, str | os.PathLike) and not source.seekable():
            # A Parquet file's index is its footer: pyarrow must seek to the end first.
            raise ColumnarError(
                "Parquet cannot be read from a pipe (its index is at the end of the file): "
                "give the file's name"
            )
        try:
            if fmt == "parquet":
                self._parquet = pa.parquet.ParquetFile(source)
                schema = self._parquet.schema_arrow
                self.rows: int | None = self._parquet.metadata.num_rows
            else:
                self._parquet = None
                self._ipc = self._open_ipc(source)
                schema = self._ipc.schema
                self.rows = None
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ColumnarError(f"is not a readable {fmt} file ({exc})") from None
        names = [name.strip().lower() for name in schema.names]
        missing = [name for name in _REQUIRED if name not in names]
        if missing:
            raise ColumnarError(
                f"header: must name the columns {', '.join(_REQUIRED)} "
                f"(missing {', '.join(missing)}), got {', '.join(schema.names)}"
            )
        self._fields = {name: schema.names[names.index(name)] for name in _COLUMNS if name in names}
        self.columns = tuple(self._fields)

    def _open_ipc(self, source: str | os.PathLike[str] | IO[bytes]) -> Any:
        ipc = self._pa.ipc
        if isinstance(source, str | os.PathLike):
            source = self._pa.memory_map(os.fspath(source))
        try:
            return ipc.open_file(source)
        except self._pa.ArrowInvalid:
            cast("IO[bytes]", source).seek(0)
            return ipc.open_stream(source)

    def _batches(self) -> Iterator[Any]:
        fields = list(self._fields.values())
        if self._parquet is not None:
            yield from self._parquet.iter_batches(batch_size=BATCH_ROWS, columns=fields)
        elif hasattr(self._ipc, "num_record_batches"):
            for i in range(self._ipc.num_record_batches):
                yield self._ipc.get_batch(i).select(fields)
        else:
            for batch in self._ipc:
                yield batch.select(fields)

    def batches(self, time_unit: str = "s") -> Iterator[dict[str, list[Any]]]:
        """Each record batch as Python lists per column.

        Timestamps come as epoch seconds when the column is an Arrow
        timestamp or ``time_unit`` is not seconds (converted by Arrow, floats),
        else as the file has them (numbers or text). Raises
        :class:`ColumnarError` if the file turns out unreadable part-way.
        """
        pa = self._pa
        try:
            for batch in self._batches():
                yield {
                    name: self._values(name, batch.column(i), time_unit)
                    for i, name in enumerate(self._fields)
                }
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ColumnarError(f"cannot be read further ({exc})") from None

    def _values(self, name: str, column: Any, time_unit: str) -> list[Any]:
        pa = self._pa
        kind = column.type
        if pa.types.is_dictionary(kind):
            if _is_text(pa, kind.value_type):
                return _shared_text(pa, column)
            column = column.dictionary_decode()
            kind = column.type
        _check_type(pa, name, kind)
        if _is_text(pa, kind):
            return _shared_text(pa, column.dictionary_encode())
        if name == "timestamp":
            divisor = 1
            if pa.types.is_timestamp(kind):
                column, divisor = column.cast(pa.int64()), _UNITS[kind.unit]
            elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
                divisor = _UNITS[time_unit]
            if divisor != 1:
                # Unsafe: nanoseconds since 1970 pass 2**53 (float64 keeps them to 256 ns).
                column = pa.compute.divide(column.cast(pa.float64(), safe=False), float(divisor))
        return list(column.to_pylist())


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _shared_text(pa: Any, column: Any) -> list[str | None]:
    """A dictionary-encoded text column's values, one str object per distinct value.

    The reader hashes and compares repeated values (device ids, makes): a
    str computes its hash once, and equal objects compare by identity.
    """
    values = column.dictionary.to_pylist()
    values.append(None)
    indices = pa.compute.fill_null(column.indices, len(values) - 1)
    positions = indices.to_pylist()
    if len(positions) < 2:
        return [values[i] for i in positions]
    return list(operator.itemgetter(*positions)(values))


def _check_type(pa: Any, name: str, kind: Any) -> None:
    """Refuse a column whose Arrow type cannot hold its field (a date for a code...)."""
    types = pa.types
    text = types.is_string(kind) or types.is_large_string(kind)
    if name == "timestamp":
        ok = text or types.is_integer(kind) or types.is_floating(kind) or types.is_timestamp(kind)
        want = "numbers, text or Arrow timestamps"
    elif name == "code":
        ok, want = text or types.is_integer(kind), "text (hexadecimal) or integers"
    elif name == "recipients":
        ok = text or (
            (types.is_list(kind) or types.is_large_list(kind))
            and (types.is_string(kind.value_type) or types.is_large_string(kind.value_type))
        )
        want = "text (';'-separated) or lists of text"
    else:
        ok, want = text, "text"
    if not ok:
        raise ColumnarError(f"column {name}: must hold {want}, got the Arrow type {kind}")


def open_columnar(source: str | os.PathLike[str] | IO[bytes], fmt: str) -> ColumnarTable:
    """Open ``source`` as a ``fmt`` (``"parquet"`` or ``"arrow"``) file."""
    return ColumnarTable(source, fmt)
