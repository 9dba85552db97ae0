"""CSV traffic: a header line, then a row per line, read a block of lines at a time.

Rows repeat (a device sends the same code to the same recipients again and again; only
the time differs), so a block of plain lines is read a column at a time: the text after
each line's timestamp is remembered as a shape of the reader's table once it read as a
good row, and only the rows not seen before are parsed. A block with anything unusual (a
quote, an overlong line, a byte that is not UTF-8, a bad row) is read row by row, as the
csv module reads it, which reports its bad rows.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from .._core.alert import DeviceInfo, parse_device_id
from .._core.columns import AlertColumns, gather, positions_of, shaped_columns
from .._core.errors import InvalidAlertError
from .._core.validation import check_timestamp
from .cells import DEVICE_CACHE, DEVICE_FIELDS, REQUIRED, UNITS, UNKNOWN, looked_up
from .formatrows import FormatRows
from .lines import MAX_RECORD, Lines, line_problem, not_utf8
from .trafficerrors import file_error, row_error

__all__ = ["Cells", "CsvRows"]

if TYPE_CHECKING:
    from .traffic import Block, Row, TrafficReader

#: A CSV row's cells other than the timestamp, parsed: device id, code, recipients, make.
Cells = tuple[str, int, tuple[str, ...], DeviceInfo | None]
_COMMAS = itertools.repeat(",")
_QUOTES = itertools.repeat('"')
#: What stands between two quoted cells.
_SEPARATORS = itertools.repeat('","')
_LINE_ENDS = itertools.repeat("\r\n")
_NOTHING = itertools.repeat("")
#: Separators a header may use instead of commas, named for the hint that says so.
_OTHER_SEPARATORS = (("semicolons", ";"), ("tabs", "\t"), ("'|'", "|"))


def _separator_hint(header: list[str]) -> str:
    """A hint for a header that is one cell holding the required names split by another
    separator (spreadsheets in many locales save ';', others tabs): else nothing."""
    if len(header) == 1:
        for name, separator in _OTHER_SEPARATORS:
            names = [cell.strip().lower() for cell in header[0].split(separator)]
            if all(required in names for required in REQUIRED):
                return f"; its columns seem separated by {name}: save the file comma-separated"
    return ""


class _RecordTooLong(Exception):
    """A quoted CSV record ran past :data:`MAX_RECORD` characters."""


class _RecordNotUtf8(Exception):
    """A line inside a quoted CSV record is not UTF-8."""


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


def _plain_times(stamps: tuple[str, ...], unit: str) -> list[int | float] | None:
    """Timestamp cells in ``unit`` as the row-by-row path reads them, in seconds, a column
    at a time; None when any needs more (text, or a mix of whole and decimal numbers)."""
    divisor = UNITS[unit]
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
        # As scaled: an int when it is whole seconds.
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


class CsvRows(FormatRows):
    """A CSV file's rows for a :class:`~.traffic.TrafficReader`, as blocks.

    Owns what only CSV reading knows: the rows remembered as shapes of the reader's table
    (by the text after their timestamp) and the line read last. The reader owns the rest:
    the row count and skipped rows, the caches of values read once, the shape table and
    the makes of its shapes.
    """

    __slots__ = (
        "_add_shape",
        "_at",
        "_infos",
        "_remembered",
        "_time_error",
    )

    def __init__(self, reader: TrafficReader) -> None:
        super().__init__(reader)
        self._infos = reader._infos
        self._time_error = reader._time_error
        self._add_shape = reader._add_shape
        #: A row's shape in the reader's table by the text after its timestamp (see blocks).
        self._remembered = _Remembered()
        #: The line read last.
        self._at = 0

    def _layout(self, first: str, lines: Iterator[str]) -> _Layout:
        """Read the header line; a header without the required columns stops the read."""
        problem = line_problem(first, lines)
        if problem is not None:
            raise file_error(self._reader.name, 1, f"header: {problem}")
        header, _, problem = self._record(first, lines)
        if header is None:
            raise file_error(self._reader.name, 1, f"header: {problem}")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise row_error(
                self._reader.name, 1, "header", ",".join(header),
                f"must name the columns {', '.join(REQUIRED)} (missing {', '.join(missing)})"
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
                *(columns.index(n) if n in columns else width for n in DEVICE_FIELDS)
            ),
            has_makes=any(name in columns for name in DEVICE_FIELDS),
            # Absent make columns read as the empty cell appended to every row.
            pad=any(name not in columns for name in DEVICE_FIELDS),
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
                if not more.isascii() and not_utf8(more):
                    raise _RecordNotUtf8(not_utf8(more))
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

    def _cells(self, row: list[str], layout: _Layout) -> Cells:
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
            info = self._infos.get(key, UNKNOWN)
            if info is UNKNOWN:
                info = self._device_info(key)
        return device_id, code, recipients, info

    def _csv_device(self, text: str) -> str:
        """A device id cell in canonical spelling, remembered (while the cache has room)."""
        device_id = parse_device_id(text)
        if len(self._device_ids) < DEVICE_CACHE:
            self._device_ids[text] = device_id
        return device_id

    def _row(
        self, line: str, lines: Iterator[str], layout: _Layout, at: int
    ) -> tuple[Cells | None, str, int, bool]:
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

    def blocks(self, first: str, lines: Lines, size: int) -> Iterator[Block]:
        """The file's rows as blocks of up to ``size``, ``first`` its header line."""
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
                rows: list[Row] = []
                try:
                    rows.extend(self._csv_rows(taken, lines, layout))
                except Exception as exc:  # raised below, after the rows read before it
                    error = exc  # a bad row comes before a read error after it
                if rows:
                    block = self._reader._block_of(rows)
            if block is not None:
                yield block
            if error is not None:
                raise error
            if not taken:
                return

    def _plain_block(self, taken: list[str], layout: _Layout) -> Block | None:
        """The block of ``taken`` read a column at a time, or None if any line is unusual.

        Usual is a line of plain text (no quote, not overlong, UTF-8) that reads as a
        good row: then only the rows not seen before are parsed one by one.
        """
        reader = self._reader
        text = "".join(taken)
        if len(text) > MAX_RECORD and max(map(len, taken)) > MAX_RECORD:
            return None
        if not text.isascii() and not_utf8(text) is not None:
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
        if reader._shapes.room < len(taken):
            self._new_shapes()  # every shape of the block in one table
            if reader._shapes.room < len(taken):
                return None  # a block longer than a table: read row by row
        table = reader._shapes
        before = len(table)
        remembered = self._remembered
        remembered.start = before
        shapes: list[int | None] = list(map(remembered.__getitem__, rests))
        columns = self._shaped(times, shapes, taken, rests, layout)
        if columns is None:
            if len(table) > before:
                reader._given = -1  # shapes of rows that may not be read: no longer tracked
            return None
        first = self._at + 1
        self._at += len(taken)
        reader.rows += len(taken)
        lines = range(first, self._at + 1)
        if not layout.has_makes:
            return reader._block(columns, lines, None)
        pairs: Iterable[tuple[str, DeviceInfo]] | None = None
        if reader._one_make and reader._given == before:
            # Each device of the table has one make, given for every shape before this
            # block's new ones (their first rows are in this block, in the order added).
            makes = reader._shape_infos[before:]
            given = zip(table.device_ids[before:], makes, strict=True)
            pairs = cast("Iterable[tuple[str, DeviceInfo]]", itertools.compress(given, makes))
            reader._given = len(table)
            if not reader._by_alert:  # blocks() needs no make per row
                return reader._block(columns, lines, None, None, pairs)
        infos = gather(reader._shape_infos, shapes)  # type: ignore[arg-type]  # no None
        return reader._block(columns, lines, infos, None, pairs)

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
            return shaped_columns(times, shapes, self._reader._shapes)  # type: ignore[arg-type]
        except InvalidAlertError:
            return None

    def _new_shapes(self) -> None:
        """Start a new shape table, forgetting the rows remembered as shapes of the last."""
        self._reader._new_shapes()
        self._remembered.clear()

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
            self._reader._add_shapes(*cells, list(new.values()))
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
            codes = looked_up(self._codes, columns[layout.code], self._code)  # type: ignore[arg-type]
            names: list[tuple[str, ...]] = [()] * count
            if layout.recipients >= 0:
                cells = columns[layout.recipients]
                names = looked_up(self._recipients, cells, self._recipient_list)  # type: ignore[arg-type]
            ids = self._devices(columns[layout.device], self._csv_device)
            if layout.has_makes:
                keys = list(zip(*layout.makes(columns), strict=True))
                infos = list(map(self._infos.get, keys, itertools.repeat(UNKNOWN)))
                for i in positions_of(infos, UNKNOWN):
                    infos[i] = self._device_info(keys[i])
        except InvalidAlertError:
            return None
        return ids, codes, names, infos

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

    def _csv_rows(self, taken: list[str], lines: Iterator[str], layout: _Layout) -> Iterator[Row]:
        """The rows of ``taken`` (and of the lines a record runs on to), read one by one."""
        pending = iter(taken)
        more = itertools.chain(pending, lines)  # a record may run on past the block
        remembered = self._remembered
        remember = layout.time == 0
        bad = self._bad
        reader = self._reader
        table, infos = reader._shapes, reader._shape_infos
        for line in pending:
            self._at += 1
            at = self._at
            if (len(line) > MAX_RECORD or not line.isascii()) and self._refused(line, more, at):
                continue
            cells: Cells | None = None
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
                reader.rows += is_row
                if cells is None:
                    continue
                new = remember and unquoted
            else:
                reader.rows += 1
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
