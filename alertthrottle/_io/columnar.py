"""Columnar traffic: Parquet and Arrow IPC files, read by record batch with pyarrow.

The columns are a CSV traffic file's (``timestamp, device_id, code`` and
optionally ``recipients, manufacturer, model, firmware``). Codes may be
strings (hexadecimal) or integers; timestamps numbers (epoch seconds, or the
reader's ``time_unit``) or Arrow timestamps (a timestamp without a time zone
is taken as UTC); recipients a ``;``-separated string or a list of strings.
Memory holds one record batch (:data:`BATCH_ROWS` rows) at a time.

Text columns are read dictionary-encoded (:class:`Coded`): the reader checks and
converts each distinct value once, then gathers the rows' values in C.

pyarrow is an optional dependency (``pip install "alertthrottle[arrow]"``),
imported only when a columnar file is read.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import struct
from collections.abc import Iterator, Sequence
from typing import IO, Any, cast

__all__ = [
    "BATCH_ROWS",
    "COLUMNAR_FORMATS",
    "Batch",
    "Coded",
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
_MAKES = ("manufacturer", "model", "firmware")
#: Combined keys (make, device and make) are int64: products of widths must stay below.
_KEY_LIMIT = 1 << 62
_UNITS = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}
_NUMBER_FORMATS = (
    ("int8", "b", 1), ("int16", "h", 2), ("int32", "i", 4), ("int64", "q", 8),
    ("uint8", "B", 1), ("uint16", "H", 2), ("uint32", "I", 4), ("uint64", "Q", 8),
    ("float", "f", 4), ("double", "d", 8),
)  # fmt: skip
#: The memoryview format and size of each Arrow number type read from its buffer, by the
#: type's name (a format of another size on this platform is left out).
_FORMATS = {
    name: (fmt, size) for name, fmt, size in _NUMBER_FORMATS if struct.calcsize(fmt) == size
}


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


class Coded:
    """A text column of a batch as its distinct ``values`` and each row's position in them.

    A null row's position is that of a ``None`` at the end of ``values``. A
    reader checks or converts each distinct value once, then :func:`gather`
    gives each row's. Positions are made Python ints only when first asked for.
    """

    __slots__ = ("_indices", "_positions", "nulls", "values")

    def __init__(self, values: list[Any], indices: Any, nulls: bool = False) -> None:
        self.values = values
        #: Whether any row is null (at the ``None`` ending ``values``).
        self.nulls = nulls
        self._indices = indices
        self._positions: list[int] | None = None

    @property
    def positions(self) -> list[int]:
        """Each row's position in ``values``."""
        if self._positions is None:
            self._positions = pylist(self._indices)
        return self._positions

    def rows(self) -> list[Any]:
        """Each row's value."""
        return list(gather(self.values, self.positions))


def pylist(array: Any) -> list[Any]:
    """``array.to_pylist()``: an array of numbers without nulls read from its buffer.

    ``memoryview.tolist`` makes the same ints and floats as pyarrow's ``to_pylist`` at a
    fraction of the cost per value (Arrow buffers hold numbers in the machine's order).
    """
    found = _FORMATS.get(str(array.type))
    if found is None or array.null_count or not len(array):
        return cast("list[Any]", array.to_pylist())
    fmt, size = found
    start = array.offset * size
    data: Any = memoryview(array.buffers()[1])[start : start + len(array) * size]
    return cast("list[Any]", data.cast(fmt).tolist())


def gather(values: Sequence[Any], positions: Sequence[int]) -> tuple[Any, ...]:
    """``values[i]`` for each ``i`` in ``positions``, in C (the objects are shared)."""
    if len(positions) < 2:
        return tuple(values[i] for i in positions)
    return cast("tuple[Any, ...]", operator.itemgetter(*positions)(values))


class Batch:
    """A record batch: per column, its values per row (a list) or :class:`Coded` (text).

    ``nulls`` names the columns with a null row. ``shapes``, when the device ids,
    codes and recipients (if any) are all :class:`Coded` and none is null, holds the
    distinct (device id, code, recipients) of the batch as tuples of their positions in
    those columns' values (recipients 0 without the column), with each row's position.
    ``makes`` holds, when the file has make columns and they are all text, the
    distinct (manufacturer, model, firmware) of the batch as tuples of the columns
    the file has (in that order), with each row's position; ``pairs``, when each
    device of the batch comes with one make only, holds per distinct (device, make)
    its first row, the device's position and the make's, in row order (else None).
    """

    __slots__ = ("columns", "makes", "nulls", "pairs", "shapes", "size")

    def __init__(
        self,
        size: int,
        columns: dict[str, list[Any] | Coded],
        nulls: frozenset[str] = frozenset(),
        makes: Coded | None = None,
        pairs: list[tuple[int, int, int]] | None = None,
    ) -> None:
        self.size = size
        self.columns = columns
        self.nulls = nulls
        self.makes = makes
        self.pairs = pairs
        self.shapes: Coded | None = None

    def plain(self, start: int = 0) -> dict[str, list[Any]]:
        """Each column's values per row, from row ``start`` on."""
        return {
            name: (values.rows() if isinstance(values, Coded) else values)[start:]
            for name, values in self.columns.items()
        }


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
                # Text columns read as dictionaries: no str made per row (the file's
                # own dictionary encoding, Parquet's default, is kept).
                text = [field.name for field in schema if _is_text(pa, field.type)]
                if text:
                    self._parquet = pa.parquet.ParquetFile(source, read_dictionary=text)
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
            # In this thread: the decoding is a small part of a replay, and its CPU time
            # is then counted where the rest is.
            yield from self._parquet.iter_batches(
                batch_size=BATCH_ROWS, columns=fields, use_threads=False
            )
        elif hasattr(self._ipc, "num_record_batches"):
            for i in range(self._ipc.num_record_batches):
                yield self._ipc.get_batch(i).select(fields)
        else:
            for batch in self._ipc:
                yield batch.select(fields)

    def batches(self, time_unit: str = "s") -> Iterator[Batch]:
        """Each record batch as a :class:`Batch`: Python lists per column, or :class:`Coded`.

        Text columns come as :class:`Coded`. Timestamps come as epoch seconds
        when the column is an Arrow timestamp or ``time_unit`` is not seconds
        (converted by Arrow, floats), else as the file has them (numbers or
        text). Raises :class:`ColumnarError` if the file turns out unreadable
        part-way.
        """
        pa = self._pa
        try:
            for batch in self._batches():
                indices: dict[str, Any] = {}
                columns = {
                    name: self._values(name, batch.column(i), time_unit, indices)
                    for i, name in enumerate(self._fields)
                }
                nulls = frozenset(
                    name for i, name in enumerate(self._fields) if batch.column(i).null_count
                )
                yield _batch(pa, Batch(batch.num_rows, columns, nulls), indices)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ColumnarError(f"cannot be read further ({exc})") from None

    def _values(
        self, name: str, column: Any, time_unit: str, indices: dict[str, Any] | None = None
    ) -> list[Any] | Coded:
        """A column's values; a text one's Arrow indices (nulls at the end) go to ``indices``."""
        pa = self._pa
        kind = column.type
        if pa.types.is_dictionary(kind):
            if _is_text(pa, kind.value_type):
                return _coded(pa, name, column, indices)
            column = column.dictionary_decode()
            kind = column.type
        _check_type(pa, name, kind)
        if _is_text(pa, kind) or (name == "code" and pa.types.is_integer(kind)):
            # Integer codes too: a few distinct codes, each checked once.
            return _coded(pa, name, column.dictionary_encode(), indices)
        if name == "timestamp":
            divisor = 1
            if pa.types.is_timestamp(kind):
                column, divisor = column.cast(pa.int64()), _UNITS[kind.unit]
            elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
                divisor = _UNITS[time_unit]
            if divisor != 1:
                # Unsafe: nanoseconds since 1970 pass 2**53 (float64 keeps them to 256 ns).
                column = pa.compute.divide(column.cast(pa.float64(), safe=False), float(divisor))
        return pylist(column)


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _coded(pa: Any, name: str, column: Any, indices: dict[str, Any] | None) -> Coded:
    """A dictionary-encoded text column as :class:`Coded`, one str object per distinct value.

    The reader hashes and compares repeated values (device ids, makes): a
    str computes its hash once, and equal objects compare by identity.
    """
    values = column.dictionary.to_pylist()
    values.append(None)
    filled = column.indices
    if filled.null_count:
        filled = pa.compute.fill_null(filled, len(values) - 1)
    if indices is not None:
        indices[name] = filled
    return Coded(values, filled, bool(column.null_count))


def _shapes(pa: Any, batch: Batch, indices: dict[str, Any]) -> None:
    """Give ``batch`` its shapes when its device ids, codes and recipients are coded and
    none is null: each row's positions combined into one int64 key, encoded by Arrow."""
    names = [name for name in ("device_id", "code", "recipients") if name in batch.columns]
    if not all(name in indices for name in names) or batch.nulls.intersection(names):
        return
    compute = pa.compute
    widths = [len(cast("Coded", batch.columns[name]).values) for name in names]
    if math.prod(widths) >= _KEY_LIMIT:
        return
    key = indices[names[0]].cast(pa.int64())
    for name, width in zip(names[1:], widths[1:], strict=True):
        key = compute.add(compute.multiply(key, width), indices[name].cast(pa.int64()))
    encoded = key.dictionary_encode()
    # Each distinct key's positions, by Arrow's integer division (the keys are >= 0).
    rest = encoded.dictionary
    digits = []
    for width in reversed(widths[1:]):
        high = compute.divide(rest, width)
        digits.append(compute.subtract(rest, compute.multiply(high, width)).to_pylist())
        rest = high
    digits.append(rest.to_pylist())
    if len(digits) == 2:
        digits.insert(0, itertools.repeat(0))  # no recipients column
    device, code, names = reversed(digits)
    batch.shapes = Coded(list(zip(device, code, names, strict=False)), encoded.indices)


def _batch(pa: Any, batch: Batch, indices: dict[str, Any]) -> Batch:
    """``batch`` with its shapes (see :func:`_shapes`), and its makes and (device, make)
    pairs when its make columns are text: each row's combined into one int64 key, encoded
    by Arrow."""
    _shapes(pa, batch, indices)
    columns = batch.columns
    makes = [name for name in _MAKES if name in columns]
    if not makes or not all(name in indices for name in makes):
        return batch
    compute = pa.compute
    widths = [len(cast("Coded", columns[name]).values) for name in makes]
    if math.prod(widths) >= _KEY_LIMIT:
        return batch
    key = indices[makes[0]].cast(pa.int64())
    for name, width in zip(makes[1:], widths[1:], strict=True):
        key = compute.add(compute.multiply(key, width), indices[name].cast(pa.int64()))
    encoded = key.dictionary_encode()
    combos = []
    for number in encoded.dictionary.to_pylist():
        digits = []
        for name, width in zip(reversed(makes), reversed(widths), strict=True):
            number, digit = divmod(number, width)
            digits.append(cast("Coded", columns[name]).values[digit])
        combos.append(tuple(reversed(digits)))
    batch.makes = Coded(combos, encoded.indices)
    device = indices.get("device_id")
    count = len(combos)
    if device is None or len(cast("Coded", columns["device_id"]).values) * count >= _KEY_LIMIT:
        return batch
    pair = compute.add(
        compute.multiply(device.cast(pa.int64()), count), encoded.indices.cast(pa.int64())
    )
    distinct = compute.unique(pair)
    if len(distinct) == compute.count_distinct(device).as_py():
        # unique keeps the order rows first show a pair in; index_in finds that first row.
        firsts = compute.index_in(distinct, value_set=pair).to_pylist()
        batch.pairs = [
            (first, key // count, key % count)
            for first, key in zip(firsts, distinct.to_pylist(), strict=True)
        ]
    return batch


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
