"""Parquet and Arrow traffic's rows for a traffic reader, a record batch at a time.

A batch whose every distinct value checks out (:class:`_Clean`) is cut into blocks of
columns gathered from its values, converted once each, its rows' shapes found in the
reader's table by :class:`~.batchshapes.BatchShapes`. Else a block is converted a column
at a time, and one with anything unusual (a bad or missing value, text times) is read
row by row, which reports its bad rows. Opening the file and its batches is
:mod:`.columnar`'s.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

import attrs

from .._core.alert import Alert, DeviceInfo, parse_device_id
from .._core.columns import AlertColumns, gather, positions_of, shaped_columns
from .._core.errors import InvalidAlertError
from .._core.shapes import ShapeTable
from .batchshapes import BatchShapes
from .cells import DEVICE_CACHE, DEVICE_FIELDS, REQUIRED, UNKNOWN, looked_up, out_of_range
from .columnar import Batch, Coded, ColumnarError, Shapes, open_columnar
from .formatrows import FormatRows
from .trafficerrors import file_error

__all__ = ["ColumnarRows"]

if TYPE_CHECKING:
    from .traffic import Block, Row, TrafficReader

_NUMBERS = frozenset((int, float))
#: The columns a row cannot be without (a null one is a bad row).
_NEEDED = frozenset(REQUIRED)
_INT = {int}


@attrs.frozen(slots=True)
class _Clean:
    """A record batch whose every value checked out, as columns of values per row (each
    distinct value converted once): when each device of the batch comes with one make,
    ``firsts`` the rows where a device's make first shows, in order, with that device
    and make in ``made_ids`` and ``made_infos`` (as ``made`` in :class:`Block`); else
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


class ColumnarRows(FormatRows):
    """A Parquet or Arrow file's rows for a :class:`~.traffic.TrafficReader`, as blocks.

    Owns what only columnar reading knows: the shapes of the reader's table known by
    batch key and by value (``_finder``), the last batch's device ids and the row read
    last. The reader owns the rest: the row count and skipped rows, the caches of values
    read once and the shape table.
    """

    __slots__ = (
        "_at",
        "_batch_ids",
        "_finder",
    )

    def __init__(self, reader: TrafficReader) -> None:
        super().__init__(reader)
        #: A batch's shapes in the reader's table, found by key or by value.
        self._finder = BatchShapes(reader._shapes)
        #: The last batch's distinct device ids (Coded.values) and their canonical spelling.
        self._batch_ids: tuple[list[Any], list[str]] | None = None
        #: The columnar row read last.
        self._at = 0

    def blocks(self, binary: IO[bytes], fmt: str, size: int) -> Iterator[Block]:
        """The file's rows as blocks of up to ``size`` (``fmt``: parquet or arrow)."""
        reader = self._reader
        try:
            table = open_columnar(binary, fmt)
            reader._table_rows = table.rows
            batches = table.batches(self.time_unit)
            yield from self._columnar_blocks(batches, table.columns, size)
        except ColumnarError as exc:
            raise file_error(reader.name, 0, f"{exc}; {reader.rows:,} rows were read") from None

    def _columnar_blocks(
        self, batches: Iterator[Batch], columns: tuple[str, ...], size: int
    ) -> Iterator[Block]:
        """Blocks from record batches, rows numbered from 1 (there is no header line).

        A batch whose every distinct value checks out is cut into blocks of columns
        gathered from them. Else (or from a block that fails, on) a block is converted a
        column at a time; one with anything unusual (a bad or missing value, text times)
        is read row by row, which reports its bad rows.
        """
        makes = [name for name in DEVICE_FIELDS if name in columns]
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
                    yield from self._reader._packed(self._column_rows(part, makes, infos), size)
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
                    times, (), (), None, per_row, *made, shapes, self._reader._shapes, batch.ordered
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
        recipients) positions (see :class:`BatchShapes`); None if they do not fit."""
        count = len(shaped)
        if self._reader._shapes.room < count:
            self._new_shapes()  # the batch's shapes in one table
            if self._reader._shapes.room < count:
                return None
        return self._finder.shapes(shaped, found, codes, lists)

    def _new_shapes(self) -> None:
        """Start a new shape table, the shapes known by key and by value forgotten."""
        self._reader._new_shapes()
        self._finder.reset(self._reader._shapes)

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

    def _clean_block(self, clean: _Clean, start: int, stop: int) -> Block | None:
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
        reader = self._reader
        first = self._at + 1
        self._at += stop - start
        reader.rows = self._at
        lines = range(first, self._at + 1)
        firsts, ordered = clean.firsts, clean.ordered
        if firsts is None:
            infos = None if clean.infos is None else clean.infos[start:stop]
            return reader._block(columns, lines, infos, in_order=ordered)
        low = bisect.bisect_left(firsts, start)
        high = bisect.bisect_left(firsts, stop)
        ids, makes = clean.made_ids[low:high], clean.made_infos[low:high]
        if not reader._by_alert:  # blocks() needs the pairs only, not their rows
            pairs = zip(ids, makes, strict=True)
            return reader._block(columns, lines, None, None, pairs, ordered)
        rows = map(operator.sub, firsts[low:high], itertools.repeat(start))
        made = list(zip(rows, ids, makes, strict=True))
        return reader._block(columns, lines, None, made, in_order=ordered)

    def _column_block(
        self, part: dict[str, list[Any]], makes: list[str], infos: dict[Any, DeviceInfo | None]
    ) -> Block | None:
        """The rows of ``part`` as a block, converted a column at a time; None if any is bad."""
        times = part["timestamp"]
        if not _NUMBERS.issuperset(map(type, times)):
            return None
        try:
            ids = looked_up(self._device_ids, part["device_id"], self._column_device)
            codes = part["code"]
            if set(map(type, codes)) != _INT:
                codes = looked_up(self._codes, codes, self._column_code)
            names = None
            if "recipients" in part:
                names = looked_up(self._recipients, part["recipients"], self._column_recipients)
            found = None
            if makes:
                keys = list(zip(*(part[name] for name in makes), strict=True))
                found = list(map(infos.get, keys, itertools.repeat(UNKNOWN)))
                for i in positions_of(found, UNKNOWN):
                    found[i] = infos[keys[i]] = self._column_make(keys[i], makes)
            columns = AlertColumns(times, ids, codes, names)
        except InvalidAlertError:
            return None
        first = self._at + 1
        self._at += len(times)
        self._reader.rows = self._at
        return self._reader._block(columns, range(first, self._at + 1), found)

    def _column_rows(
        self, part: dict[str, list[Any]], makes: list[str], infos: dict[Any, DeviceInfo | None]
    ) -> Iterator[Row]:
        """The rows of ``part`` one by one, bad ones reported."""
        reader = self._reader
        none = itertools.repeat(None)
        device_ids_get, codes_get = self._device_ids.get, self._codes.get
        recipients_get = self._recipients.get
        new_alert = Alert.from_parsed
        times, devices, codes = (part[name] for name in ("timestamp", "device_id", "code"))
        recipients = part.get("recipients", none)
        cells = zip(*(part[name] for name in makes), strict=True) if makes else none
        for t, d, c, r, m in zip(times, devices, codes, recipients, cells, strict=False):
            self._at += 1
            reader.rows = number = self._at
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
                info = infos.get(m, UNKNOWN) if m is not None else None
                if info is UNKNOWN:
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
            problem = out_of_range(cast("float", t), t, self.time_unit).problem
        self._bad(number, "timestamp", t, problem)

    def _column_device(self, value: object) -> str:
        if value is None:
            raise InvalidAlertError("device_id", None, "is missing (null)")
        device_id = parse_device_id(value)
        if type(value) is str and len(self._device_ids) < DEVICE_CACHE:
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
        key = tuple(given.get(name) or "" for name in DEVICE_FIELDS)
        return self._device_info(cast("tuple[str, str, str]", key))
