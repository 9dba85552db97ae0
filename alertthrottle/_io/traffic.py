"""Alert traffic files: CSV, JSON Lines, Parquet and Arrow, read as streams.

A traffic file holds one alert per row: ``timestamp, device_id, code,
recipients`` and, optionally, ``manufacturer, model, firmware`` (which
become a :class:`DeviceInfo` per device). Files may be gzip-compressed and
``-`` is standard input. Reading is a stream: memory holds one row (at most
:data:`~.lines.MAX_RECORD` characters), the caches of distinct codes and recipient
lists, and one ``DeviceInfo`` per device that has any.

A bad row either stops the read with a :class:`TrafficError` that says
``file:line: field: problem`` (``on_error="fail"``), or is counted and the
first few kept as :class:`SkippedRow` (``on_error="skip"``): nothing is
dropped without being counted. A problem with the whole file (empty, a
truncated gzip, a header without the needed columns) always stops the read.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import gzip
import io
import itertools
import json
import operator
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any, Literal, cast

import attrs

from .._core.alert import (
    Alert,
    DeviceInfo,
    parse_code,
    parse_device_id,
    parse_timestamp,
)
from .._core.columns import AlertColumns, gather, positions_of, shaped_columns
from .._core.errors import (
    InvalidAlertError,
    PolicyError,
)
from .._core.shapes import ShapeTable, all_canonical
from .._core.validation import check_timestamp
from .batchshapes import _BatchShapes
from .cells import (
    _DEVICE_CACHE,
    _DEVICE_FIELDS,
    _REQUIRED,
    _UNITS,
    _UNKNOWN,
    _YEAR_10000,
    _looked_up,
    _out_of_range,
    _parse_time_text,
    _scaled,
    _unguarded,
)
from .columnar import (
    COLUMNAR_FORMATS,
    Batch,
    Coded,
    ColumnarError,
    Shapes,
    open_columnar,
    sniff_columnar,
)
from .lines import MAX_RECORD, _line_problem, _Lines, _not_utf8
from .trafficerrors import SkippedRow, _file_error, _row_error, _shown

__all__ = [
    "BLOCK_ROWS",
    "KEPT_SKIPS",
    "OnError",
    "TimeUnit",
    "TrafficFormat",
    "TrafficReader",
    "read_traffic",
]

TrafficFormat = Literal["csv", "jsonl", "parquet", "arrow"]
OnError = Literal["fail", "skip"]
TimeUnit = Literal["s", "ms", "us"]

#: How many skipped rows a reader keeps for the report (all are counted).
KEPT_SKIPS = 10
#: Rows per block that :meth:`TrafficReader.blocks` gives by default.
BLOCK_ROWS = 512

_GZIP_MAGIC = b"\x1f\x8b"


def _format_for(name: str) -> TrafficFormat | None:
    lower = name.lower().removesuffix(".gz")
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".arrow", ".arrows", ".feather", ".ipc")):
        return "arrow"
    return None


def _separator_hint(header: list[str]) -> str:
    """A hint for a header that is one cell holding the required names split by another
    separator (spreadsheets in many locales save ';', others tabs): else nothing."""
    if len(header) == 1:
        for name, separator in _OTHER_SEPARATORS:
            names = [cell.strip().lower() for cell in header[0].split(separator)]
            if all(required in names for required in _REQUIRED):
                return f"; its columns seem separated by {name}: save the file comma-separated"
    return ""


class _FieldTwice(Exception):
    """A JSON object names a field twice (json keeps the last value and drops the rest)."""


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _FieldTwice(name)
            seen.add(name)
    return row


#: JSON text to Python, an object that names a field twice refused (which value is meant?).
_load_object = json.JSONDecoder(object_pairs_hook=_unique_fields).decode


class _RecordTooLong(Exception):
    """A quoted CSV record ran past :data:`MAX_RECORD` characters."""


class _RecordNotUtf8(Exception):
    """A line inside a quoted CSV record is not UTF-8."""


#: Distinct rows (less their timestamp) a CSV reader remembers, each as a shape of its
#: table: about one per device, code and recipient list; some 300 bytes each, so at most
#: about 40 MB. A full table is started again empty.
_ROW_CACHE = 1 << 17
#: A CSV row's cells other than the timestamp, parsed: device id, code, recipients, make.
_Cells = tuple[str, int, tuple[str, ...], DeviceInfo | None]


class _Remembered(dict[str, int]):
    """A CSV reader's remembered rows: the text after a line's timestamp, to its shape.

    Subscripted (a block's lookup), a text not remembered gets the next shape index of
    the table at once (from ``start``), noted in ``new`` (text to index, in the order
    first met), so the lookup tells the block's new rows without another pass over it.
    The reader then adds their shapes with those very index objects, or forgets them
    all (:meth:`forget`): a remembered index is always a shape of the table.
    ``get`` gives None for a text not remembered, as a dict's does.
    """

    __slots__ = ("new", "start")

    def __init__(self) -> None:
        super().__init__()
        self.new: dict[str, int] = {}
        self.start = 0

    def __missing__(self, rest: str) -> int:
        index = self[rest] = self.new[rest] = self.start + len(self.new)
        return index

    def forget(self) -> None:
        """Forget the texts noted in ``new`` (their shapes are not added)."""
        for rest in self.new:
            del self[rest]
        self.new.clear()


@attrs.frozen(slots=True)
class _Layout:
    """Where a CSV file's header puts each field."""

    width: int
    time: int
    device: int
    code: int
    recipients: int
    makes: Any  # itemgetter of the make cells (absent ones at ``width``, an appended "")
    has_makes: bool
    pad: bool


#: A row read one by one: timestamp, device id, code, recipients, make, line.
_Row = tuple[int | float, str, int, tuple[str, ...], DeviceInfo | None, int]
_COMMAS = itertools.repeat(",")
_QUOTES = itertools.repeat('"')
#: What stands between two quoted cells.
_SEPARATORS = itertools.repeat('","')
_LINE_ENDS = itertools.repeat("\r\n")
_NOTHING = itertools.repeat("")
#: Separators a header may use instead of commas, named for the hint that says so.
_OTHER_SEPARATORS = (("semicolons", ";"), ("tabs", "\t"), ("'|'", "|"))
_NUMBERS = frozenset((int, float))
#: The columns a row cannot be without (a null one is a bad row).
_NEEDED = frozenset(_REQUIRED)
_INT = {int}


@attrs.frozen(slots=True)
class _Block:
    """Alerts read together: their columns, the line of each, and each row's make (None:
    no row has one) or, when each device of the rows comes with one make, ``made``: the
    rows where a device's make first shows (row in the block, device, make), in order."""

    columns: AlertColumns
    lines: Sequence[int]
    infos: Sequence[DeviceInfo | None] | None
    made: Sequence[tuple[int, str, DeviceInfo]] | None = None
    #: When each device of the rows comes with one make: (device, make) per device with
    #: one, in the order their first rows come (for ``blocks``, which keeps no rows).
    pairs: Iterable[tuple[str, DeviceInfo]] | None = None


@attrs.frozen(slots=True)
class _Clean:
    """A record batch whose every value checked out, as columns of values per row (each
    distinct value converted once): when each device of the batch comes with one make,
    ``firsts`` the rows where a device's make first shows, in order, with that device
    and make in ``made_ids`` and ``made_infos`` (as ``made`` in :class:`_Block`); else
    ``infos`` the make of each row, if any."""

    times: Sequence[int | float]
    ids: Sequence[str]
    codes: Sequence[int]
    names: Sequence[tuple[str, ...]] | None
    infos: Sequence[DeviceInfo | None] | None
    firsts: Sequence[int] | None
    made_ids: Sequence[str]
    made_infos: Sequence[DeviceInfo]
    #: Each row's shape in ``table``, when the batch has shapes (``ids``, ``codes`` and
    #: ``names`` are then not gathered per row).
    shapes: Sequence[int] | None = None
    table: ShapeTable | None = None
    #: Whether the times are in order (none earlier than one before it).
    ordered: bool = False


def _plain_times(stamps: tuple[str, ...], unit: str) -> list[int | float] | None:
    """Timestamp cells in ``unit`` as the row-by-row path reads them, in seconds, a column
    at a time; None when any needs more (text, or a mix of whole and decimal numbers)."""
    divisor = _UNITS[unit]
    joined = "".join(stamps)
    # A float's text has at most one ".": if all convert, as many dots as cells means
    # that each has one, so none is a whole number (which the row path reads as an int).
    if joined.count(".") == len(stamps):
        try:
            times: list[int | float] = list(map(float, stamps))
        except ValueError:
            return None
        return times if divisor == 1 else [t / divisor for t in times]
    # Whole numbers: the row path reads seconds of up to 11 digits as ints (longer ones
    # as floats, out of range anyway), milliseconds and microseconds of up to 20 digits.
    digits = 11 if divisor == 1 else 20
    if joined.isdecimal() and all(stamps) and max(map(len, stamps)) <= digits:
        whole: list[int] = list(map(int, stamps))
        if divisor == 1:
            return whole  # type: ignore[return-value]  # list is invariant
        # As _scaled: an int when it is whole seconds.
        return [t // divisor if not t % divisor else t / divisor for t in whole]
    return None


def _unquoted(taken: list[str], width: int) -> list[str] | None:
    """The lines of a block whose every cell is quoted and plain, with the quotes taken
    out; None if any line is otherwise (read row by row then).

    Exports often quote every cell: ``"1705276800","00-0D-...","8014"``. Such a line
    is ``"`` + the cells joined by ``","`` + ``"`` exactly when, its ending aside, it
    starts and ends with a quote (neither of them part of a ``","``) and has ``width``
    - 1 commas, as many ``","`` and 2 * ``width`` quotes: then every comma is between
    cells and every quote at a cell's edge, so no cell holds a quote, a comma or a
    line break, and the csv module reads each cell as the text between its quotes.
    """
    # A line holds no line break but its ending (\n, \r\n or \r): rstrip takes just that.
    lines = list(map(str.rstrip, taken, _LINE_ENDS))
    size = len(lines)
    if (
        operator.countOf(map(str.count, lines, _QUOTES), 2 * width) == size
        and operator.countOf(map(str.count, lines, _COMMAS), width - 1) == size
        and operator.countOf(map(str.count, lines, _SEPARATORS), width - 1) == size
        and all(map(str.startswith, lines, _QUOTES))
        and all(map(str.endswith, lines, _QUOTES))
        and not any(map(str.startswith, lines, _SEPARATORS))
        and not any(map(str.endswith, lines, _SEPARATORS))
    ):
        return list(map(str.replace, taken, _QUOTES, _NOTHING))
    return None


def _open_binary(source: str | os.PathLike[str] | IO[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """``source`` opened for binary reading: (the file itself, the data un-gzipped)."""
    if isinstance(source, str | os.PathLike):
        if os.fspath(source) == "-":
            raw: IO[bytes] = sys.stdin.buffer
        else:
            raw = open(source, "rb")  # noqa: SIM115 - closed by the reader's generator
    else:
        raw = source
    # peek() looks at the first bytes without consuming them, even on a pipe.
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return raw, cast("IO[bytes]", gzip.GzipFile(fileobj=buffered, mode="rb"))
    return raw, cast("IO[bytes]", buffered)


def _file_size(source: str | os.PathLike[str] | IO[bytes]) -> int | None:
    """The size in bytes of a regular file given by path, else None (stdin, pipes, streams)."""
    if not isinstance(source, str | os.PathLike) or os.fspath(source) == "-":
        return None
    try:
        stat = os.stat(source)
    except OSError:
        return None
    return stat.st_size if stat.st_size > 0 else None


class TrafficReader:
    """Stream the alerts of one traffic file: CSV or JSON Lines (optionally gzipped),
    Parquet or Arrow IPC (with the ``[arrow]`` extra).

    Iterate it once to get :class:`Alert` objects in file order. Afterwards
    (or during) ``rows`` counts the rows read, ``skipped`` the rows left out
    (``on_error="skip"``), ``skipped_rows`` keeps the first
    :data:`KEPT_SKIPS` of them, and ``devices`` maps device ids to the
    :class:`DeviceInfo` last given for them. ``format=None`` picks the format
    from the file name (``.csv``, ``.jsonl``, ``.ndjson``, ``.json``, with
    ``.gz`` after it allowed; ``.parquet``, ``.pq``; ``.arrow``, ``.arrows``,
    ``.feather``, ``.ipc``) or else from the data (Parquet's and Arrow's
    magic bytes, ``{`` for JSON Lines). ``time_unit`` says what numeric
    timestamps count: ``"s"`` (epoch seconds, the default), ``"ms"`` or
    ``"us"``; ISO 8601 text is read as it says. ``size`` and ``position``
    (bytes of the file as stored, so compressed for a ``.gz``) let a caller
    show progress.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        format: TrafficFormat | None = None,
        on_error: OnError = "fail",
        name: str | None = None,
        time_unit: TimeUnit = "s",
    ) -> None:
        if name is not None and type(name) is not str:
            raise PolicyError("name", name, "must be a str or None")
        if name is None:
            if isinstance(source, str | os.PathLike):
                name = "<stdin>" if os.fspath(source) == "-" else os.fspath(source)
            else:
                name = getattr(source, "name", "<stream>")
                name = name if isinstance(name, str) else "<stream>"
        self.name: str = name
        for field, value, allowed in (
            ("on_error", on_error, ("fail", "skip")),
            ("format", format, (None, "csv", "jsonl", *COLUMNAR_FORMATS)),
            ("time_unit", time_unit, tuple(_UNITS)),
        ):
            if value not in allowed:
                choices = ", ".join(repr(choice) for choice in allowed)
                raise _row_error(name, 0, field, value, f"must be one of {choices}")
        self.format: TrafficFormat | None = format if format else _format_for(name)
        self.on_error: OnError = on_error
        self.time_unit: TimeUnit = time_unit
        self.rows = 0
        self.skipped = 0
        self.skipped_rows: list[SkippedRow] = []
        self.devices: dict[str, DeviceInfo] = {}
        #: The line of the last alert read (where the next error should point).
        self.line = 0
        #: The earliest and the latest time read, and how many alerts came earlier than
        #: one before them (out of time order).
        self.earliest: int | float | None = None
        self.latest: int | float | None = None
        self.out_of_order = 0
        self.size: int | None = _file_size(source)
        self._source = source
        self._raw: IO[bytes] | None = None
        self._table_rows: int | None = None
        self._codes: dict[str, int] = {}
        self._device_ids: dict[str, str] = {}
        self._recipients: dict[str, tuple[str, ...]] = {"": ()}
        self._infos: dict[tuple[str, str, str], DeviceInfo | None] = {}
        #: A CSV row's shape in ``_shapes`` by the text after its timestamp (see _read_csv),
        #: and each shape's make; ``_makes_of`` the make of each device of the table's shapes
        #: while each has one (``_one_make``).
        self._remembered = _Remembered()
        self._shapes = ShapeTable(_ROW_CACHE)
        self._shape_infos: list[DeviceInfo | None] = []
        self._makes_of: dict[str, DeviceInfo] = {}
        self._one_make = True
        #: A columnar batch's shapes in ``_shapes``, found by key or by value.
        self._finder = _BatchShapes(self._shapes)
        #: The table's first ``_given`` shapes have had their makes given to ``devices``
        #: by ``blocks()`` (each device's one make there since); -1: not tracked.
        self._given = 0
        #: Whether the reader is iterated alert by alert (each row's make is wanted).
        self._by_alert = False
        #: The last batch's distinct device ids (Coded.values) and their canonical spelling.
        self._batch_ids: tuple[list[Any], list[str]] | None = None
        #: The line (or columnar row) read last.
        self._at = 0
        self._started = False

    @property
    def position(self) -> int | None:
        """Bytes of the file read so far (compressed bytes for gzip), when it can tell."""
        raw = self._raw
        if raw is None or self.size is None:
            return None
        if self._table_rows:
            # pyarrow reads a columnar file's footer first: count rows instead.
            return self.size * self.rows // self._table_rows
        try:
            return min(raw.tell(), self.size)
        except (OSError, ValueError):
            return None

    def __iter__(self) -> Iterator[Alert]:
        devices = self.devices
        self._by_alert = True
        for block in self._blocks(BLOCK_ROWS):
            infos = block.infos
            if block.made:
                sparse: list[DeviceInfo | None] = [None] * len(block.lines)
                for row, _, made in block.made:
                    sparse[row] = made
                infos = sparse
            if infos is None:
                for alert, line in zip(block.columns, block.lines, strict=True):
                    self.line = line
                    yield alert
                continue
            # The make given with a row is known once its alert is read, not before.
            for alert, line, info in zip(block.columns, block.lines, infos, strict=True):
                if info is not None:
                    devices[alert.device_id] = info
                self.line = line
                yield alert

    def blocks(self, size: int = BLOCK_ROWS) -> Iterator[AlertColumns]:
        """The alerts as :class:`AlertColumns` of up to ``size`` rows, in file order.

        The same alerts, errors and counts as iterating the reader (which can
        be done once, either way); a block ends early at a row that raises, so
        the alerts before it arrive before the error does. ``devices`` and
        ``line`` are up to date with each block as it arrives.
        """
        if type(size) is not int or size < 1:
            raise PolicyError("size", size, "must be an int >= 1")
        devices = self.devices
        for block in self._blocks(size):
            infos = block.infos
            if block.pairs is not None:
                devices.update(block.pairs)
            elif block.made is not None:
                devices.update([(device, info) for _, device, info in block.made])
                self._given = -1
            elif infos is not None:
                # compress keeps the rows with a make (a DeviceInfo is true, None false),
                # needed only when some row has none.
                made = zip(block.columns.device_ids, infos, strict=True)
                devices.update(made if all(infos) else itertools.compress(made, infos))  # type: ignore[arg-type]
                self._given_kept(block.columns.device_ids, infos)
            self.line = block.lines[-1]
            yield block.columns

    def _given_kept(self, ids: Sequence[str], infos: Sequence[DeviceInfo | None]) -> None:
        """After ``devices`` was given each row's make (a block without pairs): stop tracking
        the makes given by shape if one is not the make of the device's shapes, else count
        the shapes added since as given (each was added by a row of the block)."""
        if self._given >= 0:
            makes_of = self._makes_of.get
            if any(makes_of(d, i) is not i for d, i in zip(ids, infos, strict=True) if i):
                self._given = -1
            else:
                self._given = len(self._shapes)

    def _blocks(self, size: int) -> Iterator[_Block]:
        """The one reading path: the file's rows as blocks, whichever way they are wanted."""
        if self._started:
            raise _file_error(self.name, 0, "a TrafficReader can be iterated only once")
        self._started = True
        try:
            raw, binary = _open_binary(self._source)
        except OSError as exc:
            raise _file_error(self.name, 0, f"cannot be read ({exc.strerror or exc})") from None
        self._raw = raw
        owned = isinstance(self._source, str | os.PathLike) and os.fspath(self._source) != "-"
        try:
            yield from self._read(binary, size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise _file_error(
                self.name,
                0,
                f"is a truncated or corrupt gzip file ({exc}); {self.rows:,} rows were read "
                "before it",
            ) from None
        except OSError as exc:
            raise _file_error(
                self.name, 0, f"cannot be read ({exc.strerror or exc}) after {self.rows:,} rows"
            ) from None
        finally:
            if owned:
                raw.close()

    def _read(self, binary: IO[bytes], size: int) -> Iterator[_Block]:
        columnar = self.format or sniff_columnar(cast("Any", binary).peek(8)[:8])
        if columnar in COLUMNAR_FORMATS:
            self.format = cast("TrafficFormat", columnar)
            yield from self._read_columnar(binary, columnar, size)
            return
        # A byte that is not UTF-8 becomes a row error, not a crash; an endless line is read
        # in pieces of MAX_RECORD + 1 characters.
        lines = _Lines(binary)
        first = next(lines, "")
        # No rows is a JSON Lines file of no alerts, but a CSV file without its header.
        if not first and self.format != "jsonl":
            raise _file_error(
                self.name, 0, "is empty: a traffic file starts with a header line (CSV) "
                "or a JSON object per line"
            )  # fmt: skip
        fmt = self.format
        if fmt is None:
            fmt = "jsonl" if first.lstrip().startswith("{") else "csv"
            self.format = fmt
        if fmt == "csv":
            yield from self._read_csv(first, lines, size)
        else:
            rows = self._jsonl_rows(itertools.chain((first,), lines))
            yield from self._packed(rows, size)

    # -- blocks -------------------------------------------------------------------------

    def _packed(self, rows: Iterator[_Row], size: int) -> Iterator[_Block]:
        """Rows read one by one, as blocks of ``size``; a row that raises ends its block."""
        while True:
            chunk: list[_Row] = []
            error: Exception | None = None
            try:
                chunk.extend(itertools.islice(rows, size))  # keeps the rows before an error
            except Exception as exc:  # raised below, after the rows read before it
                error = exc
            if chunk:
                yield self._block_of(chunk)
            if error is not None:
                raise error
            if len(chunk) < size:
                return

    def _block_of(self, rows: list[_Row]) -> _Block:
        """A block of rows read one by one (their values are checked already)."""
        times, ids, codes, recipients, infos, lines = zip(*rows, strict=True)
        return self._block(AlertColumns(times, ids, codes, recipients), lines, infos)

    def _block(
        self,
        columns: AlertColumns,
        lines: Sequence[int],
        infos: Sequence[DeviceInfo | None] | None,
        made: Sequence[tuple[int, str, DeviceInfo]] | None = None,
        pairs: Iterable[tuple[str, DeviceInfo]] | None = None,
        in_order: bool = False,
    ) -> _Block:
        """The block of ``columns``, with the read's time range and disorder brought up to date
        (``in_order``: its times are known to be in order, none earlier than one before it)."""
        times = columns.timestamps
        newest: float = -1 if self.latest is None else self.latest
        ordered = times if in_order else sorted(times)
        if in_order or ordered == list(times):
            # In time order: the alerts before the newest time seen are a prefix.
            disorder = bisect.bisect_left(ordered, newest)
            earliest = times[0]
            latest = times[bisect.bisect_left(ordered, ordered[-1])]
        else:
            run = itertools.accumulate(times, max, initial=newest)
            # An alert is out of order when it is earlier than one before it (ties are not).
            disorder = sum(map(operator.lt, times, run))
            earliest, latest = min(times), max(times)
        # On a tie the one read first stays (an int and an equal float differ in type).
        self.earliest = earliest if self.earliest is None else min(self.earliest, earliest)
        self.latest = latest if self.latest is None else max(self.latest, latest)
        self.out_of_order += disorder
        if infos is not None and not any(infos):
            infos = pairs = None
        return _Block(columns, lines, infos, made, pairs)

    # -- errors -----------------------------------------------------------------------

    def _bad(self, line: int, field: str, value: object, problem: str, last_line: int = 0) -> None:
        """Fail with ``file:line: field: problem`` or count the row as skipped.

        A record over several lines (``last_line`` its last) is ``file:line-last_line``.
        """
        if self.on_error == "fail":
            raise _row_error(self.name, line, field, value, problem, last_line)
        self.skipped += 1
        if len(self.skipped_rows) < KEPT_SKIPS:
            shown_value = _shown(value)
            row = SkippedRow(self.name, line, field, problem, shown_value, last_line)
            self.skipped_rows.append(row)

    # -- fields -------------------------------------------------------------------------

    def _code(self, value: object) -> int:
        if type(value) is str:
            code = self._codes.get(value)
            if code is None:
                code = parse_code(value.strip())
                if len(self._codes) < 4096:
                    self._codes[value] = code
            return code
        return parse_code(value)

    def _recipient_list(self, text: str) -> tuple[str, ...]:
        cached = self._recipients.get(text)
        if cached is None:
            cached = tuple(part.strip() for part in _unguarded(text).split(";"))
            if not all(cached):
                raise InvalidAlertError("recipients", text, "must be ';'-separated non-empty names")
            if len(self._recipients) < 4096:
                self._recipients[text] = cached
        return cached

    def _device_info(self, cells: tuple[str, str, str]) -> DeviceInfo | None:
        """The make in ``cells`` (manufacturer, model, firmware), None when all are empty."""
        info = self._infos.get(cells, _UNKNOWN)
        if info is _UNKNOWN:
            parts = [_unguarded(cell.strip()) or None for cell in cells]
            info = None if parts == [None, None, None] else DeviceInfo(*parts)
            if len(self._infos) < 4096:
                self._infos[cells] = info
        return cast("DeviceInfo | None", info)

    def _seconds(self, value: object) -> int | float:
        """A timestamp cell or JSON value as epoch seconds, checked as an Alert checks them."""
        if value is None:
            raise InvalidAlertError("timestamp", None, "is missing (null)")
        unit = self.time_unit
        stamp = _parse_time_text(value) if type(value) is str else value
        if isinstance(stamp, datetime):
            return parse_timestamp(stamp)
        kind = type(stamp)
        if kind is not int and kind is not float:
            return parse_timestamp(stamp)  # refuses it, naming the type
        number = cast("int | float", stamp)
        if not 0 <= number < _YEAR_10000 * _UNITS[unit]:
            raise _out_of_range(number, value, unit)
        return _scaled(number, unit)

    def _time_error(self, text: str) -> InvalidAlertError:
        """The error :meth:`_seconds` gives for a timestamp cell (with its hints)."""
        try:
            self._seconds(text)
        except InvalidAlertError as exc:
            return exc
        return _out_of_range(float(text), text, self.time_unit)

    # -- CSV ----------------------------------------------------------------------------

    def _layout(self, first: str, lines: Iterator[str]) -> _Layout:
        """Read the header line; a header without the required columns stops the read."""
        problem = _line_problem(first, lines)
        if problem is not None:
            raise _file_error(self.name, 1, f"header: {problem}")
        header, _, problem = self._record(first, lines)
        if header is None:
            raise _file_error(self.name, 1, f"header: {problem}")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in _REQUIRED if name not in columns]
        if missing:
            raise _row_error(
                self.name, 1, "header", ",".join(header),
                f"must name the columns {', '.join(_REQUIRED)} (missing {', '.join(missing)})"
                + _separator_hint(header),
            )  # fmt: skip
        width = len(columns)
        return _Layout(
            width=width,
            time=columns.index("timestamp"),
            device=columns.index("device_id"),
            code=columns.index("code"),
            recipients=columns.index("recipients") if "recipients" in columns else -1,
            makes=operator.itemgetter(
                *(columns.index(n) if n in columns else width for n in _DEVICE_FIELDS)
            ),
            has_makes=any(name in columns for name in _DEVICE_FIELDS),
            # Absent make columns read as the empty cell appended to every row.
            pad=any(name not in columns for name in _DEVICE_FIELDS),
        )

    @staticmethod
    def _record(line: str, lines: Iterator[str]) -> tuple[list[str] | None, int, str]:
        """The cells of the CSV record starting at ``line``, read as the csv module reads it.

        Returns (cells or None, lines read after ``line``, problem). A quote
        that never closes makes csv run on to the end of the file: the record
        stops at :data:`MAX_RECORD` characters and is a bad row.
        """
        extra = 0

        def record_lines() -> Iterator[str]:
            nonlocal extra
            yield line
            size = len(line)
            for more in lines:
                extra += 1
                size += len(more)
                if size > MAX_RECORD:
                    raise _RecordTooLong
                if not more.isascii() and _not_utf8(more):
                    raise _RecordNotUtf8(_not_utf8(more))
                yield more

        try:
            return next(csv.reader(record_lines()), []), extra, ""
        except _RecordTooLong:
            problem = (
                f"has a quote that does not close within {MAX_RECORD:,} characters "
                f"(lines {extra} after it read as part of it)"
            )
            return None, extra, problem
        except _RecordNotUtf8 as exc:
            return None, extra, f"continues on a line that {exc.args[0]}"
        except csv.Error as exc:
            return None, extra, f"is not CSV ({exc})"

    def _cells(self, row: list[str], layout: _Layout) -> _Cells:
        """A row's fields other than the timestamp, parsed and checked."""
        text = row[layout.code]
        code = self._codes.get(text, -1)
        if code < 0:
            code = self._code(text)
        recipients: tuple[str, ...] = ()
        if layout.recipients >= 0:
            text = row[layout.recipients]
            cached = self._recipients.get(text)
            recipients = cached if cached is not None else self._recipient_list(text)
        text = row[layout.device]
        device_id = self._device_ids.get(text)
        if device_id is None:
            device_id = self._csv_device(text)
        info = None
        if layout.has_makes:
            if layout.pad:
                row.append("")
            key = layout.makes(row)
            info = self._infos.get(key, _UNKNOWN)
            if info is _UNKNOWN:
                info = self._device_info(key)
        return device_id, code, recipients, info

    def _csv_device(self, text: str) -> str:
        """A device id cell in canonical spelling, remembered (while the cache has room)."""
        device_id = parse_device_id(text)
        if len(self._device_ids) < _DEVICE_CACHE:
            self._device_ids[text] = device_id
        return device_id

    def _row(
        self, line: str, lines: Iterator[str], layout: _Layout, at: int
    ) -> tuple[_Cells | None, str, int, bool]:
        """Read a row the reader does not remember: (cells, timestamp text, extra lines,
        whether it is a row at all). Cells are None for a bad row, reported here, and for
        a blank line, which is no row.
        """
        extra = 0
        if '"' not in line:
            row: list[str] | None = line.rstrip("\r\n").split(",")
        else:
            # Quoted cells may hold commas and even line breaks: let csv read them.
            row, extra, problem = self._record(line, lines)
        # A record over several lines is reported with its line range: a stray quote
        # joins every line up to the next quote into it, and they are all left out.
        last = at + extra if extra else 0
        if row is None or len(row) != layout.width:
            if row is not None and len(row) <= 1 and not "".join(row).strip():
                return None, "", extra, False  # a blank line is not a row
            if row is not None:
                problem = f"has {len(row)} fields, the header {layout.width}"
            self._bad(at, "row", line, problem, last)
            return None, "", extra, True
        try:
            cells = self._cells(row, layout)
        except InvalidAlertError as exc:
            self._bad(at, exc.field, exc.value, exc.problem, last)
            return None, "", extra, True
        return cells, row[layout.time], extra, True

    def _read_csv(self, first: str, lines: _Lines, size: int) -> Iterator[_Block]:
        layout = self._layout(first, lines)
        self._at = 1  # the header's line
        # Rows repeat: a device sends the same code to the same recipients again and again;
        # only the time differs. With the time first, the rest of an unquoted line is a key
        # to its cells, parsed and checked once (only rows that read cleanly are remembered),
        # and a block of such lines is read a column at a time.
        fast = layout.time == 0
        while True:
            taken, error = lines.take(size)
            block = self._plain_block(taken, layout) if fast and taken else None
            if block is None and taken:
                rows: list[_Row] = []
                try:
                    rows.extend(self._csv_rows(taken, lines, layout))
                except Exception as exc:  # raised below, after the rows read before it
                    error = exc  # a bad row comes before a read error after it
                if rows:
                    block = self._block_of(rows)
            if block is not None:
                yield block
            if error is not None:
                raise error
            if not taken:
                return

    def _plain_block(self, taken: list[str], layout: _Layout) -> _Block | None:
        """The block of ``taken`` read a column at a time, or None if any line is unusual.

        Usual is a line of plain text (no quote, not overlong, UTF-8) that reads as a
        good row: then only the rows not seen before are parsed one by one.
        """
        text = "".join(taken)
        if len(text) > MAX_RECORD and max(map(len, taken)) > MAX_RECORD:
            return None
        if not text.isascii() and _not_utf8(text) is not None:
            return None
        if '"' in text:
            unquoted = _unquoted(taken, layout.width)
            if unquoted is None:
                return None
            taken = unquoted
        # Not strict: each partition is a tuple of one width, and a strict zip of a block's
        # rows asks each of their iterators once more at the end.
        stamps, _, rests = zip(*map(str.partition, taken, _COMMAS), strict=False)
        times = _plain_times(stamps, self.time_unit)
        if times is None:
            return None
        if self._shapes.room < len(taken):
            self._new_shapes()  # every shape of the block in one table
            if self._shapes.room < len(taken):
                return None  # a block longer than a table: read row by row
        table = self._shapes
        before = len(table)
        remembered = self._remembered
        remembered.start = before
        shapes: list[int | None] = list(map(remembered.__getitem__, rests))
        columns = self._shaped(times, shapes, taken, rests, layout)
        if columns is None:
            if len(table) > before:
                self._given = -1  # shapes of rows that may not be read: no longer tracked
            return None
        first = self._at + 1
        self._at += len(taken)
        self.rows += len(taken)
        lines = range(first, self._at + 1)
        if not layout.has_makes:
            return self._block(columns, lines, None)
        pairs: Iterable[tuple[str, DeviceInfo]] | None = None
        if self._one_make and self._given == before:
            # Each device of the table has one make, given for every shape before this
            # block's new ones (their first rows are in this block, in the order added).
            makes = self._shape_infos[before:]
            given = zip(table.device_ids[before:], makes, strict=True)
            pairs = cast("Iterable[tuple[str, DeviceInfo]]", itertools.compress(given, makes))
            self._given = len(table)
            if not self._by_alert:  # blocks() needs no make per row
                return self._block(columns, lines, None, None, pairs)
        infos = gather(self._shape_infos, shapes)  # type: ignore[arg-type]  # no None
        return self._block(columns, lines, infos, None, pairs)

    def _shaped(
        self,
        times: Sequence[int | float],
        shapes: list[int | None],
        taken: list[str],
        rests: tuple[str, ...],
        layout: _Layout,
    ) -> AlertColumns | None:
        """The columns of a plain block, rows not remembered parsed and added as shapes;
        None at a row that is not good or a time out of range (the careful path words it)."""
        if self._remembered.new and not self._add_new(shapes, taken, rests, layout):
            return None
        try:
            return shaped_columns(times, shapes, self._shapes)  # type: ignore[arg-type]
        except InvalidAlertError:
            return None

    def _new_shapes(self) -> None:
        """Start a new shape table, forgetting the rows remembered as shapes of the last."""
        self._shapes = ShapeTable(_ROW_CACHE)
        self._remembered.clear()
        self._finder.reset(self._shapes)
        self._shape_infos = []
        self._makes_of.clear()
        self._one_make = True
        self._given = 0

    def _add_shape(self, cells: _Cells) -> int:
        """Add a good row's cells as a shape of the table (which has room); its index."""
        device_id, code, recipients, info = cells
        shape = self._shapes.add(device_id, code, recipients)
        self._shape_infos.append(info)
        if info is not None and self._makes_of.setdefault(device_id, info) is not info:
            self._one_make = False
        return shape

    def _add_new(
        self, shapes: list[int | None], taken: list[str], rests: tuple[str, ...], layout: _Layout
    ) -> bool:
        """Add the shapes of the rows of a block the reader did not remember (each given
        its index by the lookup), parsed a column at a time; else (a row that is not good)
        forget them and parse the rows one by one, up to the bad one (then False)."""
        remembered = self._remembered
        new = remembered.new
        cells = self._new_cells(list(new), layout)
        if cells is not None:
            self._add_shapes(*cells, list(new.values()))
            new.clear()
            return True
        # The state the row-by-row read of the block starts from: the shapes of the rows
        # before the bad one added, as they were when a row at a time was all there was.
        remembered.forget()
        shapes[:] = map(remembered.get, rests)
        return self._fill_shapes_one_by_one(shapes, taken, rests, layout)

    def _new_cells(
        self, rests: list[str], layout: _Layout
    ) -> tuple[list[str], list[int], list[tuple[str, ...]], list[DeviceInfo | None]] | None:
        """The cells after the timestamp (the first cell) of plain lines, as :meth:`_cells`
        parses each, a column at a time (each distinct value looked up, the new ones
        parsed); None if any is not a good row."""
        rows = list(map(str.split, map(str.rstrip, rests, _LINE_ENDS), _COMMAS))
        count = len(rows)
        if operator.countOf(map(len, rows), layout.width - 1) != count:
            return None
        # Column i of the row: the timestamp's left out, the make cells the header has not
        # at ``width``.
        columns: list[Sequence[str]] = [(), *zip(*rows, strict=True), ("",) * count]
        infos: list[DeviceInfo | None] = [None] * count
        try:
            codes = _looked_up(self._codes, columns[layout.code], self._code)  # type: ignore[arg-type]
            names: list[tuple[str, ...]] = [()] * count
            if layout.recipients >= 0:
                cells = columns[layout.recipients]
                names = _looked_up(self._recipients, cells, self._recipient_list)  # type: ignore[arg-type]
            ids = self._devices(columns[layout.device], self._csv_device)
            if layout.has_makes:
                keys = list(zip(*layout.makes(columns), strict=True))
                infos = list(map(self._infos.get, keys, itertools.repeat(_UNKNOWN)))
                for i in positions_of(infos, _UNKNOWN):
                    infos[i] = self._device_info(keys[i])
        except InvalidAlertError:
            return None
        return ids, codes, names, infos

    def _devices(self, values: Sequence[Any], parse: Callable[[Any], str]) -> list[str]:
        """Device ids (CSV cells, a batch's distinct values) in canonical spelling: looked
        up, the new ones checked together when all are canonical text already (as exports
        write them), else each through ``parse`` (which remembers it, or refuses it)."""
        cache = self._device_ids
        ids = list(map(cache.get, values))
        if None not in ids:
            return cast("list[str]", ids)
        missing = list(positions_of(ids, None))
        new = list(map(values.__getitem__, missing))
        if (
            operator.countOf(map(type, new), str) == len(new)
            and len(cache) + len(new) <= _DEVICE_CACHE
            and all_canonical(new)
        ):
            cache.update(zip(new, new, strict=True))
            for i in missing:
                ids[i] = values[i]
            return cast("list[str]", ids)
        for i in missing:
            ids[i] = parse(values[i])
        return cast("list[str]", ids)

    def _add_shapes(
        self,
        ids: list[str],
        codes: list[int],
        names: list[tuple[str, ...]],
        infos: list[DeviceInfo | None],
        indices: list[int],
    ) -> None:
        """Add good rows' cells as shapes of the table (which has room) with ``indices``, as
        :meth:`_add_shape` adds each."""
        self._shapes.add_many(ids, codes, names, indices)
        self._shape_infos += infos
        if any(infos):
            # Each make (a DeviceInfo is true, None false) set as its device's if it has none.
            makes = cast("list[DeviceInfo]", list(itertools.compress(infos, infos)))
            firsts = map(self._makes_of.setdefault, itertools.compress(ids, infos), makes)
            if not all(map(operator.is_, list(firsts), makes)):
                self._one_make = False

    def _fill_shapes_one_by_one(
        self, shapes: list[int | None], taken: list[str], rests: tuple[str, ...], layout: _Layout
    ) -> bool:
        """Fill in the shapes (None) of a block's rows not remembered, parsing them a row
        at a time, each new one added as a shape, up to the first row that is not good
        (then False: the block is read row by row)."""
        remembered = self._remembered
        i = -1
        with contextlib.suppress(ValueError):  # index() finds no more
            while True:
                i = shapes.index(None, i + 1)
                found = remembered.get(rests[i])
                if found is None:
                    row = taken[i].rstrip("\r\n").split(",")
                    if len(row) != layout.width:
                        return False
                    try:
                        cells = self._cells(row, layout)
                    except InvalidAlertError:
                        return False
                    found = remembered[rests[i]] = self._add_shape(cells)
                shapes[i] = found
        return True

    def _csv_rows(self, taken: list[str], lines: Iterator[str], layout: _Layout) -> Iterator[_Row]:
        """The rows of ``taken`` (and of the lines a record runs on to), read one by one."""
        pending = iter(taken)
        more = itertools.chain(pending, lines)  # a record may run on past the block
        remembered = self._remembered
        remember = layout.time == 0
        bad = self._bad
        table, infos = self._shapes, self._shape_infos
        for line in pending:
            self._at += 1
            at = self._at
            if len(line) > MAX_RECORD or not line.isascii():
                problem = _line_problem(line, more)
                if problem is not None:
                    self.rows += 1
                    bad(at, "row", line[:60], problem)
                    continue
            cells: _Cells | None = None
            unquoted = '"' not in line
            if remember and unquoted:
                stamp, _, rest = line.partition(",")
                shape = remembered.get(rest)
                if shape is not None:
                    cells = (
                        table.device_ids[shape], table.codes[shape], table.recipients[shape],
                        infos[shape],
                    )  # fmt: skip
            if cells is None:
                cells, stamp, extra, is_row = self._row(line, more, layout, at)
                self._at += extra
                self.rows += is_row
                if cells is None:
                    continue
                new = remember and unquoted
            else:
                self.rows += 1
                new = False
            timestamp = self._stamp(stamp)
            if timestamp is None:
                exc = self._time_error(stamp)
                bad(at, exc.field, stamp, exc.problem)  # the cell as written
                continue
            # Remembered once read: every shape added here is of a row the block has.
            if new and table.room:
                remembered[rest] = self._add_shape(cells)
            yield (timestamp, *cells, at)

    def _stamp(self, stamp: str) -> int | float | None:
        """A timestamp cell as epoch seconds, None if it is not one (in range)."""
        try:
            if self.time_unit != "s":
                timestamp: int | float = self._seconds(stamp)
            elif len(stamp) < 12 and stamp.isdecimal():
                return int(stamp)  # whole seconds in at most 11 digits: before the year 10000
            else:
                try:
                    timestamp = float(stamp)
                except ValueError:
                    timestamp = self._seconds(stamp)
            return check_timestamp(timestamp)
        except InvalidAlertError:
            return None

    # -- Parquet and Arrow ----------------------------------------------------------------

    def _read_columnar(self, binary: IO[bytes], fmt: str, size: int) -> Iterator[_Block]:
        try:
            table = open_columnar(binary, fmt)
            self._table_rows = table.rows
            batches = table.batches(self.time_unit)
            yield from self._columnar_blocks(batches, table.columns, size)
        except ColumnarError as exc:
            raise _file_error(self.name, 0, f"{exc}; {self.rows:,} rows were read") from None

    def _columnar_blocks(
        self, batches: Iterator[Batch], columns: tuple[str, ...], size: int
    ) -> Iterator[_Block]:
        """Blocks from record batches, rows numbered from 1 (there is no header line).

        A batch whose every distinct value checks out is cut into blocks of columns
        gathered from them. Else (or from a block that fails, on) a block is converted a
        column at a time; one with anything unusual (a bad or missing value, text times)
        is read row by row, which reports its bad rows.
        """
        makes = [name for name in _DEVICE_FIELDS if name in columns]
        infos: dict[Any, DeviceInfo | None] = {}
        for batch in batches:
            start = 0
            clean = self._clean_batch(batch, makes)
            if clean is not None:
                for start in range(0, batch.size, size):
                    block = self._clean_block(clean, start, min(start + size, batch.size))
                    if block is None:
                        break
                    yield block
                else:
                    continue
            plain = batch.plain(start)
            for start in range(0, len(plain["timestamp"]), size):
                part = {name: values[start : start + size] for name, values in plain.items()}
                block = self._column_block(part, makes, infos)
                if block is None:
                    yield from self._packed(self._column_rows(part, makes, infos), size)
                else:
                    yield block

    def _clean_batch(self, batch: Batch, makes: list[str]) -> _Clean | None:
        """The rows of ``batch``, each distinct value converted once; None if any value
        is not usable as it is (a null, a bad value, text times, recipient lists)."""
        columns = batch.columns
        times, ids, codes = columns["timestamp"], columns["device_id"], columns["code"]
        names = columns.get("recipients")
        if (
            isinstance(times, Coded)
            or not isinstance(ids, Coded)
            or batch.nulls & _NEEDED
            or isinstance(names, list)
            or (makes and batch.makes is None)
        ):
            return None
        try:
            found = self._batch_devices(ids.values)
            distinct = None
            if isinstance(codes, Coded):
                distinct = [self._column_code(v) for v in codes.values[:-1]]
            lists = None if names is None else list(map(self._column_recipients, names.values))
            infos = None
            if batch.makes is not None:
                infos = [self._column_make(combo, makes) for combo in batch.makes.values]
        except InvalidAlertError:
            return None
        per_row, made = self._made(batch, found, infos)
        if batch.shapes is not None and distinct is not None:
            shapes = self._batch_shapes(batch.shapes, found, distinct, lists)
            if shapes is not None:
                return _Clean(
                    times, (), (), None, per_row, *made, shapes, self._shapes, batch.ordered
                )
        numbers: Sequence[int] = cast("list[int]", codes)
        if distinct is not None:
            numbers = gather(distinct, cast("Coded", codes).positions)
        return _Clean(
            times,
            gather(found, ids.positions),
            numbers,
            None if names is None or not any(lists or ()) else gather(lists or [], names.positions),
            per_row,
            *made,
            ordered=batch.ordered,
        )

    def _batch_shapes(
        self,
        shaped: Shapes,
        found: list[str],
        codes: list[int],
        lists: list[tuple[str, ...]] | None,
    ) -> tuple[int, ...] | None:
        """Each row's shape in the reader's table, from a batch's distinct (device, code,
        recipients) positions (see :class:`_BatchShapes`); None if they do not fit."""
        count = len(shaped)
        if self._shapes.room < count:
            self._new_shapes()  # the batch's shapes in one table
            if self._shapes.room < count:
                return None
        return self._finder.shapes(shaped, found, codes, lists)

    def _batch_devices(self, values: list[Any]) -> list[str]:
        """The canonical spelling of each of a batch's distinct device ids (``values``,
        whose last is a null row's: there is none): the last batch's when ``values`` is
        the very list it had (a repeated dictionary), else looked up, the new ones checked
        together when all are canonical text (as exports write them), else each parsed."""
        last = self._batch_ids
        if last is not None and last[0] is values:  # held, so no other list has its id
            return last[1]
        ids = self._devices(values[:-1], self._column_device)
        self._batch_ids = (values, ids)
        return ids

    def _made(
        self, batch: Batch, found: list[str], infos: list[DeviceInfo | None] | None
    ) -> tuple[
        Sequence[DeviceInfo | None] | None,
        tuple[Sequence[int] | None, Sequence[str], Sequence[DeviceInfo]],
    ]:
        """The makes of a clean batch: (None, (its first rows, devices, makes)) when each
        device comes with one make (two spellings of an id are one device; a make of
        nothing is given to none), else (each row's make, (None, (), ())).

        Gathered a column at a time: no tuple per device."""
        if infos is None or batch.makes is None:
            return None, (None, (), ())
        if batch.pairs is None or not self._finder.one_spelling(found):
            return gather(infos, batch.makes.positions), (None, (), ())
        rows, devices, makes = batch.pairs
        given = gather(infos, makes)
        ids = gather(found, devices)
        if not all(given):  # a DeviceInfo is true, None false
            rows = list(itertools.compress(rows, given))
            ids = tuple(itertools.compress(ids, given))
            given = tuple(itertools.compress(given, given))
        return None, (rows, ids, cast("tuple[DeviceInfo, ...]", given))

    def _clean_block(self, clean: _Clean, start: int, stop: int) -> _Block | None:
        """Rows ``start`` to ``stop`` of a clean batch as a block; None if they fail."""
        names = clean.names
        try:
            if clean.shapes is not None:
                table = cast("ShapeTable", clean.table)
                columns = shaped_columns(clean.times[start:stop], clean.shapes[start:stop], table)
            else:
                columns = AlertColumns(
                    clean.times[start:stop],
                    clean.ids[start:stop],
                    clean.codes[start:stop],
                    None if names is None else names[start:stop],
                )
        except InvalidAlertError:  # a time out of range, a bad code: read row by row
            return None
        first = self._at + 1
        self._at += stop - start
        self.rows = self._at
        lines = range(first, self._at + 1)
        firsts, ordered = clean.firsts, clean.ordered
        if firsts is None:
            infos = None if clean.infos is None else clean.infos[start:stop]
            return self._block(columns, lines, infos, in_order=ordered)
        low = bisect.bisect_left(firsts, start)
        high = bisect.bisect_left(firsts, stop)
        ids, makes = clean.made_ids[low:high], clean.made_infos[low:high]
        if not self._by_alert:  # blocks() needs the pairs only, not their rows
            pairs = zip(ids, makes, strict=True)
            return self._block(columns, lines, None, None, pairs, ordered)
        rows = map(operator.sub, firsts[low:high], itertools.repeat(start))
        made = list(zip(rows, ids, makes, strict=True))
        return self._block(columns, lines, None, made, in_order=ordered)

    def _column_block(
        self, part: dict[str, list[Any]], makes: list[str], infos: dict[Any, DeviceInfo | None]
    ) -> _Block | None:
        """The rows of ``part`` as a block, converted a column at a time; None if any is bad."""
        times = part["timestamp"]
        if not _NUMBERS.issuperset(map(type, times)):
            return None
        try:
            ids = _looked_up(self._device_ids, part["device_id"], self._column_device)
            codes = part["code"]
            if set(map(type, codes)) != _INT:
                codes = _looked_up(self._codes, codes, self._column_code)
            names = None
            if "recipients" in part:
                names = _looked_up(self._recipients, part["recipients"], self._column_recipients)
            found = None
            if makes:
                keys = list(zip(*(part[name] for name in makes), strict=True))
                found = list(map(infos.get, keys, itertools.repeat(_UNKNOWN)))
                for i in positions_of(found, _UNKNOWN):
                    found[i] = infos[keys[i]] = self._column_make(keys[i], makes)
            columns = AlertColumns(times, ids, codes, names)
        except InvalidAlertError:
            return None
        first = self._at + 1
        self._at += len(times)
        self.rows = self._at
        return self._block(columns, range(first, self._at + 1), found)

    def _column_rows(
        self, part: dict[str, list[Any]], makes: list[str], infos: dict[Any, DeviceInfo | None]
    ) -> Iterator[_Row]:
        """The rows of ``part`` one by one, bad ones reported."""
        none = itertools.repeat(None)
        device_ids_get, codes_get = self._device_ids.get, self._codes.get
        recipients_get = self._recipients.get
        new_alert = Alert.from_parsed
        times, devices, codes = (part[name] for name in ("timestamp", "device_id", "code"))
        recipients = part.get("recipients", none)
        cells = zip(*(part[name] for name in makes), strict=True) if makes else none
        for t, d, c, r, m in zip(times, devices, codes, recipients, cells, strict=False):
            self._at += 1
            self.rows = number = self._at
            try:
                timestamp = t if type(t) is float or type(t) is int else self._seconds(t)
                device_id = device_ids_get(d) if type(d) is str else None
                if device_id is None:
                    device_id = self._column_device(d)
                # An int code is checked by from_parsed; text goes through the cache.
                code = c if type(c) is int else codes_get(c) if type(c) is str else None
                if code is None:
                    code = self._column_code(c)
                names = recipients_get(r) if type(r) is str else None
                if names is None:
                    names = self._column_recipients(r)
                new_alert(timestamp, device_id, code, names)  # checks the time and code
                info = infos.get(m, _UNKNOWN) if m is not None else None
                if info is _UNKNOWN:
                    info = infos[m] = self._column_make(m, makes)
            except InvalidAlertError as exc:
                self._column_bad(number, t, exc)
                continue
            yield timestamp, device_id, code, names, info, number

    def _column_bad(self, number: int, t: object, exc: InvalidAlertError) -> None:
        """Report a bad columnar row: a bad time shows the file's value, with its hints."""
        if exc.field != "timestamp":
            self._bad(number, exc.field, exc.value, exc.problem)
            return
        problem = exc.problem
        if type(t) in (int, float):
            problem = _out_of_range(cast("float", t), t, self.time_unit).problem
        self._bad(number, "timestamp", t, problem)

    def _column_device(self, value: object) -> str:
        if value is None:
            raise InvalidAlertError("device_id", None, "is missing (null)")
        device_id = parse_device_id(value)
        if type(value) is str and len(self._device_ids) < _DEVICE_CACHE:
            self._device_ids[value] = device_id
        return device_id

    def _column_code(self, value: object) -> int:
        if value is None:
            raise InvalidAlertError("code", None, "is missing (null)")
        return self._code(value)

    def _column_recipients(self, value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if type(value) is str:
            return self._recipient_list(value)
        names = tuple(cast("list[str]", value))
        if not all(type(name) is str and name for name in names):
            raise InvalidAlertError("recipients", value, "must be non-empty names")
        return names

    def _column_make(self, cells: Any, makes: list[str]) -> DeviceInfo | None:
        for name, value in zip(makes, cells, strict=True):
            if value is not None and type(value) is not str:
                raise InvalidAlertError(name, value, "must be text")
        given = dict(zip(makes, cells, strict=True))
        key = tuple(given.get(name) or "" for name in _DEVICE_FIELDS)
        return self._device_info(cast("tuple[str, str, str]", key))

    # -- JSON Lines ---------------------------------------------------------------------

    def _jsonl_rows(self, lines: Iterator[str]) -> Iterator[_Row]:
        bad = self._bad
        for number, line in enumerate(lines, 1):
            if len(line) > MAX_RECORD or not line.isascii():
                problem = _line_problem(line, lines)
                if problem is not None:
                    self.rows += 1
                    bad(number, "row", line[:60], problem)
                    continue
            if not line.strip():
                continue
            self.rows += 1
            try:
                row = _load_object(line)
            except _FieldTwice as exc:
                bad(number, "row", line.strip(), f"has the field {exc.args[0]} twice")
                continue
            except ValueError as exc:
                # int() refuses more than 4300 digits, with advice meant for programmers.
                reason = f"is not JSON ({exc.args[0]})"
                if not isinstance(exc, json.JSONDecodeError) and "digits" in str(exc):
                    reason = "has a number of more than 4,300 digits"
                bad(number, "row", line.strip(), reason)
                continue
            except RecursionError:
                bad(number, "row", line.strip(), "is nested too deeply")
                continue
            if not isinstance(row, dict):
                bad(number, "row", line.strip(), "must be a JSON object")
                continue
            try:
                alert, info = self._json_alert(row)
            except InvalidAlertError as exc:
                bad(number, exc.field, exc.value, exc.problem)
                continue
            yield alert.timestamp, alert.device_id, alert.code, alert.recipients, info, number

    def _json_alert(self, row: Mapping[str, Any]) -> tuple[Alert, DeviceInfo | None]:
        for name in _REQUIRED:
            if name not in row:
                raise InvalidAlertError(name, None, "is required")
        recipients = row.get("recipients")
        if recipients is None:
            recipients = ()
        alert = Alert(
            self._seconds(row["timestamp"]), row["device_id"], self._code(row["code"]), recipients
        )
        parts = []
        for name in _DEVICE_FIELDS:
            value = row.get(name)
            if value is not None and type(value) is not str:
                raise InvalidAlertError(name, value, "must be a str or null")
            parts.append(value or "")
        return alert, self._device_info(tuple(parts))  # type: ignore[arg-type]


def read_traffic(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    format: TrafficFormat | None = None,
    on_error: OnError = "fail",
    time_unit: TimeUnit = "s",
) -> TrafficReader:
    """A :class:`TrafficReader` over ``source``: iterate it for the alerts."""
    return TrafficReader(source, format=format, on_error=on_error, time_unit=time_unit)
