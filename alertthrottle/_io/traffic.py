"""Alert traffic files read as streams: :class:`TrafficReader`, whatever their format.

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

The reader is the one reading path for every format: it opens the file, picks the
format, and owns what all formats share (the rows read, the skipped rows, the caches of
values read once, the shape table, the time range and disorder). Each format's rows
are read by a collaborator of their own: :mod:`.csvrows`, :mod:`.columnarrows` (with
:mod:`.columnar` and :mod:`.batchshapes`) and :mod:`.jsonrows`.
"""

from __future__ import annotations

import bisect
import gzip
import io
import itertools
import operator
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, Literal, cast

import attrs

from .._core.alert import Alert, DeviceInfo, parse_code, parse_timestamp
from .._core.columns import AlertColumns, positions_of
from .._core.errors import InvalidAlertError, PolicyError
from .._core.shapes import ShapeTable, all_canonical
from .cells import (
    DEVICE_CACHE,
    UNITS,
    UNKNOWN,
    YEAR_10000,
    out_of_range,
    parse_time_text,
    scaled,
    unguard_cell,
)
from .columnar import COLUMNAR_FORMATS, sniff_columnar
from .columnarrows import ColumnarRows
from .csvrows import Cells, CsvRows
from .jsonrows import JsonRows
from .lines import Lines
from .trafficerrors import SkippedRow, cell_shown, file_error, row_error

__all__ = [
    "BLOCK_ROWS",
    "KEPT_SKIPS",
    "Block",
    "OnError",
    "Row",
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
#: Distinct rows (less their timestamp) a CSV reader remembers, each as a shape of its
#: table: about one per device, code and recipient list; some 300 bytes each, so at most
#: about 40 MB. A full table is started again empty.
_ROW_CACHE = 1 << 17
#: A row read one by one: timestamp, device id, code, recipients, make, line.
Row = tuple[int | float, str, int, tuple[str, ...], DeviceInfo | None, int]


@attrs.frozen(slots=True)
class Block:
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
            ("time_unit", time_unit, tuple(UNITS)),
        ):
            if value not in allowed:
                choices = ", ".join(repr(choice) for choice in allowed)
                raise row_error(name, 0, field, value, f"must be one of {choices}")
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
        #: The shapes of the rows read (a format's rows add them), and each shape's make;
        #: ``_makes_of`` the make of each device of the table's shapes while each has one
        #: (``_one_make``).
        self._shapes = ShapeTable(_ROW_CACHE)
        self._shape_infos: list[DeviceInfo | None] = []
        self._makes_of: dict[str, DeviceInfo] = {}
        self._one_make = True
        #: The table's first ``_given`` shapes have had their makes given to ``devices``
        #: by ``blocks()`` (each device's one make there since); -1: not tracked.
        self._given = 0
        #: Whether the reader is iterated alert by alert (each row's make is wanted).
        self._by_alert = False
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

    def _blocks(self, size: int) -> Iterator[Block]:
        """The one reading path: the file's rows as blocks, whichever way they are wanted."""
        if self._started:
            raise file_error(self.name, 0, "a TrafficReader can be iterated only once")
        self._started = True
        try:
            raw, binary = _open_binary(self._source)
        except OSError as exc:
            raise file_error(self.name, 0, f"cannot be read ({exc.strerror or exc})") from None
        self._raw = raw
        owned = isinstance(self._source, str | os.PathLike) and os.fspath(self._source) != "-"
        try:
            yield from self._read(binary, size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise file_error(
                self.name,
                0,
                f"is a truncated or corrupt gzip file ({exc}); {self.rows:,} rows were read "
                "before it",
            ) from None
        except OSError as exc:
            raise file_error(
                self.name, 0, f"cannot be read ({exc.strerror or exc}) after {self.rows:,} rows"
            ) from None
        finally:
            if owned:
                raw.close()

    def _read(self, binary: IO[bytes], size: int) -> Iterator[Block]:
        columnar = self.format or sniff_columnar(cast("Any", binary).peek(8)[:8])
        if columnar in COLUMNAR_FORMATS:
            self.format = cast("TrafficFormat", columnar)
            yield from ColumnarRows(self).blocks(binary, columnar, size)
            return
        # A byte that is not UTF-8 becomes a row error, not a crash; an endless line is read
        # in pieces of MAX_RECORD + 1 characters.
        lines = Lines(binary)
        first = next(lines, "")
        # No rows is a JSON Lines file of no alerts, but a CSV file without its header.
        if not first and self.format != "jsonl":
            raise file_error(
                self.name, 0, "is empty: a traffic file starts with a header line (CSV) "
                "or a JSON object per line"
            )  # fmt: skip
        fmt = self.format
        if fmt is None:
            fmt = "jsonl" if first.lstrip().startswith("{") else "csv"
            self.format = fmt
        if fmt == "csv":
            yield from CsvRows(self).blocks(first, lines, size)
        else:
            rows = JsonRows(self).rows(itertools.chain((first,), lines))
            yield from self._packed(rows, size)

    # -- blocks -------------------------------------------------------------------------

    def _packed(self, rows: Iterator[Row], size: int) -> Iterator[Block]:
        """Rows read one by one, as blocks of ``size``; a row that raises ends its block."""
        while True:
            chunk: list[Row] = []
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

    def _block_of(self, rows: list[Row]) -> Block:
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
    ) -> Block:
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
        return Block(columns, lines, infos, made, pairs)

    # -- errors -----------------------------------------------------------------------

    def _bad(self, line: int, field: str, value: object, problem: str, last_line: int = 0) -> None:
        """Fail with ``file:line: field: problem`` or count the row as skipped.

        A record over several lines (``last_line`` its last) is ``file:line-last_line``.
        """
        if self.on_error == "fail":
            raise row_error(self.name, line, field, value, problem, last_line)
        self.skipped += 1
        if len(self.skipped_rows) < KEPT_SKIPS:
            shown_value = cell_shown(value)
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
            cached = tuple(part.strip() for part in unguard_cell(text).split(";"))
            if not all(cached):
                raise InvalidAlertError("recipients", text, "must be ';'-separated non-empty names")
            if len(self._recipients) < 4096:
                self._recipients[text] = cached
        return cached

    def _device_info(self, cells: tuple[str, str, str]) -> DeviceInfo | None:
        """The make in ``cells`` (manufacturer, model, firmware), None when all are empty."""
        info = self._infos.get(cells, UNKNOWN)
        if info is UNKNOWN:
            parts = [unguard_cell(cell.strip()) or None for cell in cells]
            info = None if parts == [None, None, None] else DeviceInfo(*parts)
            if len(self._infos) < 4096:
                self._infos[cells] = info
        return cast("DeviceInfo | None", info)

    def _seconds(self, value: object) -> int | float:
        """A timestamp cell or JSON value as epoch seconds, checked as an Alert checks them."""
        if value is None:
            raise InvalidAlertError("timestamp", None, "is missing (null)")
        unit = self.time_unit
        stamp = parse_time_text(value) if type(value) is str else value
        if isinstance(stamp, datetime):
            return parse_timestamp(stamp)
        kind = type(stamp)
        if kind is not int and kind is not float:
            return parse_timestamp(stamp)  # refuses it, naming the type
        number = cast("int | float", stamp)
        if not 0 <= number < YEAR_10000 * UNITS[unit]:
            raise out_of_range(number, value, unit)
        return scaled(number, unit)

    def _time_error(self, text: str) -> InvalidAlertError:
        """The error :meth:`_seconds` gives for a timestamp cell (with its hints)."""
        try:
            self._seconds(text)
        except InvalidAlertError as exc:
            return exc
        return out_of_range(float(text), text, self.time_unit)

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
            and len(cache) + len(new) <= DEVICE_CACHE
            and all_canonical(new)
        ):
            cache.update(zip(new, new, strict=True))
            for i in missing:
                ids[i] = values[i]
            return cast("list[str]", ids)
        for i in missing:
            ids[i] = parse(values[i])
        return cast("list[str]", ids)

    # -- shapes -----------------------------------------------------------------------

    def _new_shapes(self) -> None:
        """Start a new shape table, forgetting the makes of the last's shapes. A format's rows
        start it and forget what they know of the last themselves (remembered rows, keys)."""
        self._shapes = ShapeTable(_ROW_CACHE)
        self._shape_infos = []
        self._makes_of.clear()
        self._one_make = True
        self._given = 0

    def _add_shape(self, cells: Cells) -> int:
        """Add a good row's cells as a shape of the table (which has room); its index."""
        device_id, code, recipients, info = cells
        shape = self._shapes.add(device_id, code, recipients)
        self._shape_infos.append(info)
        if info is not None and self._makes_of.setdefault(device_id, info) is not info:
            self._one_make = False
        return shape

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


def read_traffic(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    format: TrafficFormat | None = None,
    on_error: OnError = "fail",
    time_unit: TimeUnit = "s",
) -> TrafficReader:
    """A :class:`TrafficReader` over ``source``: iterate it for the alerts."""
    return TrafficReader(source, format=format, on_error=on_error, time_unit=time_unit)
