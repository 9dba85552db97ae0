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
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, cast

from .._core.columns import gather
from .cells import DEVICE_FIELDS, REQUIRED

__all__ = [
    "BATCH_ROWS",
    "COLUMNAR_FORMATS",
    "Batch",
    "Coded",
    "ColumnarError",
    "ColumnarTable",
    "Shapes",
    "moved_keys",
    "open_columnar",
    "sniff_columnar",
]

#: Rows per record batch read from a Parquet file: memory holds one batch, and the
#: reader's work per batch grows with its distinct values (each batch of a row group
#: carries the row group's whole dictionary), not with its rows.
BATCH_ROWS = 1 << 17
#: The columnar formats: Parquet, and Arrow IPC (file or stream).
COLUMNAR_FORMATS = ("parquet", "arrow")
_COLUMNS = ("timestamp", "device_id", "code", "recipients", "manufacturer", "model", "firmware")
#: Combined keys (make, device and make) are int64: products of widths must stay below.
_KEY_LIMIT = 1 << 62
#: Keys of a few columns are int32 first: products of widths must stay at most this.
_INT32_LIMIT = 1 << 31
#: The greatest device alert code: an integer code column within 0 to this goes into a
#: batch's keys as it is.
_CODES = 0xFFFF
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
    gives each row's. Positions are made Python ints only when first asked for:
    each row's Arrow index, or the Arrow array ``through`` at that index when given.
    """

    __slots__ = ("_indices", "_positions", "_through", "nulls", "values")

    def __init__(
        self, values: list[Any], indices: Any, nulls: bool = False, through: Any = None
    ) -> None:
        self.values = values
        #: Whether any row is null (at the ``None`` ending ``values``).
        self.nulls = nulls
        self._indices = indices
        self._through = through
        self._positions: list[int] | None = None

    @property
    def positions(self) -> list[int]:
        """Each row's position in ``values``."""
        if self._positions is None:
            indices = self._indices
            if self._through is not None:
                indices = self._through.take(indices)
            self._positions = pylist(indices)
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


class Shapes:
    """A batch's distinct (device id, code, recipients) as the positions of their values in
    those columns' (:class:`Coded`), and each row's.

    One per distinct combination of a row's values, so with make columns a device
    whose make changes may give a shape twice. ``keys``, when not None, gives each one
    an int that stands for its positions in every batch whose ``scope`` holds the same
    objects: the values lists of the device ids, codes (None: integer codes taken as
    they are, standing for themselves) and recipients (if the column is there), which
    a repeated dictionary keeps (see :func:`_coded`). A reader can then tell the
    shapes it met in earlier batches by key, without their values.
    """

    __slots__ = ("_digits", "_rows", "keys", "scope")

    def __init__(
        self, digits: list[Any], rows: Any, keys: list[int] | None, scope: tuple[Any, ...]
    ) -> None:
        self._digits = digits
        self._rows = rows
        self.keys = keys
        self.scope = scope

    def __len__(self) -> int:
        return len(self._digits[0])

    @property
    def positions(self) -> list[int]:
        """Each row's position among the shapes."""
        return pylist(self._rows)

    def columns(self, which: Sequence[int]) -> list[tuple[int, ...]]:
        """The device id, code and recipients (if the column is there) positions of the
        shapes at ``which``, a column each."""
        return [gather(pylist(digit), which) for digit in self._digits]

    def values(self, which: Sequence[int]) -> list[tuple[int, int, int]]:
        """The (device id, code, recipients) positions of the shapes at ``which`` (the
        recipients' 0 without the column)."""
        parts: list[Iterable[int]] = list(self.columns(which))
        if len(parts) == 2:
            parts.append(itertools.repeat(0))
        return list(zip(*parts, strict=False))


class Batch:
    """A record batch: per column, its values per row (a list) or :class:`Coded` (text).

    ``nulls`` names the columns with a null row. ``shapes``, when the device ids,
    codes and recipients (if any) are all :class:`Coded` and none is null, holds the
    (device id, code, recipients) of the batch (:class:`Shapes`).
    ``makes`` holds, when the file has make columns and they are all text, the
    distinct (manufacturer, model, firmware) of the batch as tuples of the columns
    the file has (in that order), with each row's position; ``pairs``, when each
    device of the batch comes with one make only, holds the distinct (device, make)
    in row order as three lists: their first rows, the devices' positions and the
    makes' (else None).
    """

    __slots__ = ("columns", "makes", "nulls", "ordered", "pairs", "shapes", "size")

    def __init__(
        self,
        size: int,
        columns: dict[str, list[Any] | Coded],
        nulls: frozenset[str] = frozenset(),
        makes: Coded | None = None,
        pairs: tuple[list[int], list[int], list[int]] | None = None,
    ) -> None:
        self.size = size
        self.columns = columns
        self.nulls = nulls
        self.makes = makes
        self.pairs = pairs
        self.shapes: Shapes | None = None
        #: Whether the timestamps are numbers in time order (none earlier than one before).
        self.ordered = False

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
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise ColumnarError(
                f"header: must name the columns {', '.join(REQUIRED)} "
                f"(missing {', '.join(missing)}), got {', '.join(schema.names)}"
            )
        self._fields = {name: schema.names[names.index(name)] for name in _COLUMNS if name in names}
        self.columns = tuple(self._fields)
        #: Each text column's last dictionary and its values (see _coded).
        self._dictionaries: dict[str, tuple[Any, list[Any]]] = {}

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
                yield self._batch(batch, time_unit)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ColumnarError(f"cannot be read further ({exc})") from None

    def _batch(self, batch: Any, time_unit: str) -> Batch:
        """A record batch as a :class:`Batch` with its shapes, makes and pairs (:func:`_combine`).

        An integer code column without nulls is left to :func:`_combine`, which
        may take its codes into the batch's keys as they are.
        """
        pa = self._pa
        indices: dict[str, Any] = {}
        columns: dict[str, list[Any] | Coded] = {}
        codes = None
        for i, name in enumerate(self._fields):
            column = batch.column(i)
            if name == "code" and pa.types.is_integer(column.type) and not column.null_count:
                codes = column
                columns[name] = []  # set by _combine (the key keeps the column's place)
            else:
                columns[name] = self._values(name, column, time_unit, indices)
        nulls = frozenset(name for i, name in enumerate(self._fields) if batch.column(i).null_count)
        coded = Batch(batch.num_rows, columns, nulls)
        times = indices.pop("timestamp", None)  # numbers (or a text column's indices)
        coded.ordered = isinstance(columns["timestamp"], list) and _in_order(pa, times)
        _combine(pa, coded, indices, codes)
        return coded

    def _values(
        self, name: str, column: Any, time_unit: str, indices: dict[str, Any] | None = None
    ) -> list[Any] | Coded:
        """A column's values; a text one's Arrow indices (nulls at the end) go to ``indices``,
        and number timestamps (seconds) as Arrow has them too (to tell their order)."""
        pa = self._pa
        kind = column.type
        if pa.types.is_dictionary(kind):
            if _is_text(pa, kind.value_type):
                return _coded(pa, name, column, indices, self._dictionaries)
            column = column.dictionary_decode()
            kind = column.type
        _check_type(pa, name, kind)
        if _is_text(pa, kind) or (name == "code" and pa.types.is_integer(kind)):
            # Integer codes too: a few distinct codes, each checked once.
            return _coded(pa, name, column.dictionary_encode(), indices, self._dictionaries)
        if name == "timestamp":
            divisor = 1
            if pa.types.is_timestamp(kind):
                column, divisor = column.cast(pa.int64()), _UNITS[kind.unit]
            elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
                divisor = _UNITS[time_unit]
            if divisor != 1:
                # Unsafe: nanoseconds since 1970 pass 2**53 (float64 keeps them to 256 ns).
                column = pa.compute.divide(column.cast(pa.float64(), safe=False), float(divisor))
            if indices is not None:
                indices[name] = column
        return pylist(column)


def _in_order(pa: Any, times: Any) -> bool:
    """Whether number ``times`` have no null and none is earlier than one before it (with
    two or more, a NaN is not: it compares false)."""
    if times.null_count:
        return False
    if len(times) < 2:
        return True
    return bool(pa.compute.all(pa.compute.less_equal(times[:-1], times[1:])).as_py())


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _coded(
    pa: Any,
    name: str,
    column: Any,
    indices: dict[str, Any] | None,
    last: dict[str, tuple[Any, list[Any]]] | None = None,
) -> Coded:
    """A dictionary-encoded text column as :class:`Coded`, one str object per distinct value.

    The reader hashes and compares repeated values (device ids, makes): a
    str computes its hash once, and equal objects compare by identity. A
    dictionary equal to the column's in the batch before (a Parquet reader gives
    each batch of a row group the whole dictionary) keeps that batch's values:
    the same list, read-only, with the same str objects.
    """
    known = None if last is None else last.get(name)
    dictionary = column.dictionary
    if known is not None and known[0].equals(dictionary):
        values = known[1]
    else:
        values = dictionary.to_pylist()
        values.append(None)
        if last is not None:
            last[name] = (dictionary, values)
    filled = column.indices
    if filled.null_count:
        filled = pa.compute.fill_null(filled, len(values) - 1)
    if indices is not None:
        indices[name] = filled
    return Coded(values, filled, bool(column.null_count))


def _combine(pa: Any, batch: Batch, indices: dict[str, Any], codes: Any) -> None:
    """Give ``batch`` its shapes, makes and pairs (see :class:`Batch`), and its integer
    ``codes`` column (without nulls) as :class:`Coded`.

    One key per row combines the positions of the row's device id, code and
    recipients (when all are coded and none is null: shapes) and of its make
    columns (when all are text: makes), encoded by Arrow once; the distinct
    combinations are then split in Arrow, a few thousand values rather than a row
    each. Codes of 0 to 0xFFFF go into the key as they are (the distinct codes are
    found among the combinations).
    """
    columns = batch.columns
    parts = [name for name in ("device_id", "code", "recipients") if name in columns]
    shaped = not batch.nulls.intersection(parts) and all(
        name in indices or (name == "code" and codes is not None) for name in parts
    )
    raw = _small_codes(pa, codes) if shaped and codes is not None else None
    if codes is not None and raw is None:
        columns["code"] = _coded(pa, "code", codes.dictionary_encode(), indices)
    makes = [name for name in DEVICE_FIELDS if name in columns]
    if not all(name in indices for name in makes):
        makes = []
    if not shaped:
        parts = ["device_id"] if makes and "device_id" in indices else []
    arrays = [raw[0] if name == "code" and raw else indices[name] for name in parts + makes]
    widths = [raw[1] if name == "code" and raw else _width(columns[name]) for name in parts + makes]
    found = _distinct(pa, arrays, widths)
    if found is None:
        if raw is not None:
            columns["code"] = _coded(pa, "code", codes.dictionary_encode(), indices)
        return
    rows, digits = found
    keyed = digits[: len(parts)]  # codes taken as they are stand for themselves in keys
    if raw is not None:
        # The distinct codes, numbered in the order rows first show them (as a dictionary's).
        code = digits[1].dictionary_encode()
        columns["code"] = Coded([*pylist(code.dictionary), None], rows, through=code.indices)
        digits[1], widths[1] = code.indices, len(code.dictionary)
    if shaped:
        _shaped(pa, batch, rows, digits[: len(parts)], keyed, raw is not None)
    if makes:
        _made(pa, batch, rows, digits, widths, makes)


def _width(column: list[Any] | Coded) -> int:
    return len(cast("Coded", column).values)


def _shaped(
    pa: Any, batch: Batch, rows: Any, digits: list[Any], keyed: list[Any], raw: bool
) -> None:
    """Give ``batch`` its shapes (:class:`Shapes`): the positions of the device id, code and
    recipients (if any) in the distinct combinations of its rows, each given a key from
    ``keyed`` (the same, but the codes as they are when ``raw``) unless too wide."""
    columns = batch.columns
    scope = tuple(
        None if raw and name == "code" else cast("Coded", columns[name]).values
        for name in ("device_id", "code", "recipients")
        if name in columns
    )
    widths = _key_widths(scope)
    keys = None
    if math.prod(widths) < _KEY_LIMIT:
        keys = pylist(_key(pa, [keyed[0].cast(pa.int64()), *keyed[1:]], widths))
    batch.shapes = Shapes(digits, rows, keys, scope)


def _key_widths(scope: tuple[Any, ...]) -> list[int]:
    """The width of each position in the keys of shapes (Shapes.keys) of ``scope``."""
    return [_CODES + 1 if values is None else len(values) for values in scope]


def _key(pa: Any, digits: list[Any], widths: list[int]) -> Any:
    """The int64 key of ``digits`` (int64 arrays, each below its width) in mixed radix."""
    compute = pa.compute
    key = digits[0]
    for digit, width in zip(digits[1:], widths[1:], strict=True):
        key = compute.add(compute.multiply(key, width), digit)
    return key


def moved_keys(
    keys: list[int], old: tuple[Any, ...], new: tuple[Any, ...], moves: list[list[int] | None]
) -> list[int | None]:
    """Keys of shapes (Shapes.keys) in batches of scope ``old``, as the same shapes' keys in
    batches of scope ``new``: each position moved to the one ``moves`` gives it (a list
    per part, or None: the same position), None where a part's value is not there (-1).
    """
    pa = _pyarrow()
    widths = _key_widths(new)
    if math.prod(widths) >= _KEY_LIMIT:
        return [None] * len(keys)
    digits = _digits(pa, pa.array(keys, pa.int64()), _key_widths(old), None)
    there = None
    for i, move in enumerate(moves):
        if move is not None:
            digits[i] = pa.array(move, pa.int64()).take(digits[i])
            found = pa.compute.greater_equal(digits[i], 0)
            there = found if there is None else pa.compute.and_(there, found)
    key = _key(pa, digits, widths)
    if there is not None:
        key = pa.compute.if_else(there, key, None)
    return cast("list[int | None]", pylist(key))


def _made(
    pa: Any, batch: Batch, rows: Any, digits: list[Any], widths: list[int], makes: list[str]
) -> None:
    """Give ``batch`` its makes, and its (device, make) pairs when each device comes with one
    make, from the positions in the distinct combinations of its rows (the make columns
    last, the device first when there are more)."""
    compute = pa.compute
    count = len(makes)
    found = _distinct(pa, digits[-count:], widths[-count:])
    if found is None:
        return
    index, distinct = found
    values = [cast("Coded", batch.columns[name]).values for name in makes]
    combos = zip(*map(pylist, distinct), strict=True)
    made = [tuple(map(operator.getitem, values, combo)) for combo in combos]
    batch.makes = Coded(made, rows, through=index)
    if len(digits) == count:
        return  # no device
    device = digits[0]
    paired = _distinct(pa, [device, index], [widths[0], len(made)])
    if paired is None:
        return
    pair, (devices, pair_makes) = paired
    if len(devices) == compute.count_distinct(device).as_py():
        # A pair's first row: that of its first combination.
        firsts = _firsts(pa, rows).take(_firsts(pa, pair))
        batch.pairs = (pylist(firsts), pylist(devices), pylist(pair_makes))


def _small_codes(pa: Any, codes: Any) -> tuple[Any, int] | None:
    """An integer code column as int64 with its width (the greatest code + 1) when every
    code is 0 to 0xFFFF (a device alert code's range; a batch with others is not combined
    as it is)."""
    if not len(codes):
        return None
    bounds = pa.compute.min_max(codes).as_py()
    if bounds["min"] < 0 or bounds["max"] > _CODES:
        return None
    return codes, bounds["max"] + 1


def _distinct(pa: Any, arrays: list[Any], widths: list[int]) -> tuple[Any, list[Any]] | None:
    """Each row's combination of ``arrays`` (ints of 0 to their width - 1) as Arrow dictionary
    indices, numbered in the order rows first show them, and the distinct combinations'
    values, an array per one of ``arrays``; None without arrays (or when too wide).

    The arrays are combined into one int64 key (int32 keys of a few arrays each
    first, see :func:`_subkeys`); when the next width would take it past
    :data:`_KEY_LIMIT`, the key so far is encoded first (a position among its
    distinct combinations, at most one per row).
    """
    compute = pa.compute
    int64 = pa.int64()
    key: Any = None
    radix: list[int] = []
    known: list[Any] | None = None
    for sub, parts in _subkeys(pa, arrays, widths):
        width = math.prod(parts)
        if key is not None and math.prod(radix) * width >= _KEY_LIMIT:
            encoded = key.dictionary_encode()
            known = _digits(pa, encoded.dictionary, radix, known)
            key, radix = encoded.indices.cast(int64), [len(encoded.dictionary)]
            if radix[0] * width >= _KEY_LIMIT:
                return None
        column = sub.cast(int64)
        key = column if key is None else compute.add(compute.multiply(key, width), column)
        radix.extend(parts)
    if key is None:
        return None
    encoded = key.dictionary_encode()
    return encoded.indices, _digits(pa, encoded.dictionary, radix, known)


def _subkeys(pa: Any, arrays: list[Any], widths: list[int]) -> list[tuple[Any, list[int]]]:
    """``arrays`` combined a few at a time, in order, into int32 keys whose widths' product
    stays at most 2**31, each with the widths it combines (Arrow multiplies int32 arrays
    several times faster than int64 ones)."""
    compute = pa.compute
    int32 = pa.int32()
    subkeys: list[tuple[Any, list[int]]] = []
    for array, width in zip(arrays, widths, strict=True):
        # Positions below 2**31 fit int32 (a wider column is a key of its own, int64); each
        # is below its width, so the cast checks no range.
        kind = int32 if width <= _INT32_LIMIT else pa.int64()
        column = array if array.type == kind else array.cast(kind, safe=False)
        if subkeys and math.prod(subkeys[-1][1]) * width <= _INT32_LIMIT:
            sub, parts = subkeys[-1]
            sub = compute.add(compute.multiply(sub, pa.scalar(width, int32)), column)
            subkeys[-1] = (sub, [*parts, width])
        else:
            subkeys.append((column, [width]))
    return subkeys


def _digits(pa: Any, keys: Any, radix: list[int], known: list[Any] | None) -> list[Any]:
    """The digits of ``keys`` (>= 0) in the mixed ``radix``, an Arrow array per digit, by
    integer division; a first digit standing for combinations of ``known`` (arrays of
    their values) is replaced by their values."""
    compute = pa.compute
    digits = []
    rest = keys
    for width in reversed(radix[1:]):
        high = compute.divide(rest, width)
        digits.append(compute.subtract(rest, compute.multiply(high, width)))
        rest = high
    digits.append(rest)
    digits.reverse()
    if known is None:
        return digits
    return [part.take(digits[0]) for part in known] + digits[1:]


def _firsts(pa: Any, indices: Any) -> Any:
    """Where each of ``indices`` (dictionary indices, numbered in the order they first show)
    first shows, as an int64 array: where their running greatest rises."""
    compute = pa.compute
    int64 = pa.int64()
    if not len(indices):
        return pa.array([], int64)
    top = compute.cumulative_max(indices)
    rises = compute.indices_nonzero(compute.not_equal(top[1:], top[:-1])).cast(int64)
    return pa.concat_arrays([pa.array([0], int64), compute.add(rises, 1)])


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
