"""``AlertColumns``: a block of alerts as parallel columns, checked as :class:`Alert` checks them.

Readers of traffic files and adapters holding columnar data (Parquet,
Arrow, a database cursor) have their alerts as columns already. Making an
:class:`Alert` per row costs more than deciding it, so a policy can decide a
block of columns directly (``ThrottlePolicy.feed_columns``) and a replay reads
files in such blocks. The columns are checked at construction, a pass per
column in the common case, with the same rules and conversions as ``Alert``.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from .alert import (
    _MAX_CODE,
    _MAX_FLOAT_TIME,
    _NO_RECIPIENTS,
    Alert,
    _checked_recipients,
    _device_lookup,
    _device_table,
    _recipients,
    _remember_recipients,
    checked_alert,
    parse_code,
    parse_device_id,
)
from .errors import InvalidAlertError
from .shapes import ShapeTable
from .validation import check_timestamp

__all__ = ["AlertColumns", "gather", "positions_of", "shaped_columns", "shapes_of"]

_NUMBERS = frozenset((int, float))
_INTEGERS = frozenset((int,))
_TEXT = frozenset((str,))
#: The columns of a shaped block that come from its table, in the table's order.
_GATHERED = ("device_ids", "codes", "recipients")


class _ShapeSlots:
    """Where :func:`shaped_columns` keeps a block's shapes: each row's index into the
    table its other columns were gathered from, and the table. Slots of a base, not
    attrs fields: not part of the value (equality, hash, repr, ``asdict``, pickles)."""

    __slots__ = ("_shapes", "_table")
    _shapes: tuple[int, ...]
    _table: ShapeTable | None


@attrs.frozen(slots=True, init=False, eq=True)
class AlertColumns(_ShapeSlots):
    """Alerts as four parallel tuples: ``timestamps``, ``device_ids``, ``codes``, ``recipients``.

    Row ``i`` is the alert ``Alert(timestamps[i], device_ids[i], codes[i],
    recipients[i])``. Values are checked and converted as :class:`Alert` does
    (epoch seconds as int or float, device ids to canonical EUI-64, codes from
    hexadecimal text, recipients to tuples); ``recipients`` may be omitted for
    none. A bad value raises :class:`InvalidAlertError` naming the column and
    row (``device_ids[3]``). Checking costs one pass per column over clean
    data, a small part of making an ``Alert`` per row.
    """

    timestamps: tuple[int | float, ...]
    device_ids: tuple[str, ...]
    codes: tuple[int, ...]
    recipients: tuple[tuple[str, ...], ...]

    def __init__(
        self,
        timestamps: Sequence[int | float],
        device_ids: Sequence[str],
        codes: Sequence[int | str],
        recipients: Sequence[Iterable[str]] | None = None,
    ) -> None:
        times = tuple(timestamps)
        size = len(times)
        ids = tuple(device_ids)
        numbers: tuple[int | str, ...] = tuple(codes)
        _same_length("device_ids", ids, size)
        _same_length("codes", numbers, size)
        if recipients is None:
            lists: tuple[tuple[str, ...], ...] = (_NO_RECIPIENTS,) * size
        else:
            lists = _checked_lists(tuple(recipients), size)
        set_field = object.__setattr__
        set_field(self, "timestamps", _checked_times(times))
        set_field(self, "device_ids", _canonical_ids(ids))
        set_field(self, "codes", _checked_codes(numbers))
        set_field(self, "recipients", lists)
        set_field(self, "_table", None)  # no shapes

    @classmethod
    def of(cls, alerts: Iterable[Alert]) -> AlertColumns:
        """The columns of ``alerts`` (Alert objects), in order."""
        rows = list(alerts)
        for i, alert in enumerate(rows):
            if type(alert) is not Alert:
                raise InvalidAlertError(f"alerts[{i}]", alert, "must be an alertthrottle.Alert")
        return cls(
            [alert.timestamp for alert in rows],
            [alert.device_id for alert in rows],
            [alert.code for alert in rows],
            [alert.recipients for alert in rows],
        )

    def __len__(self) -> int:
        return len(self.timestamps)

    def __iter__(self) -> Iterator[Alert]:
        """The rows as :class:`Alert` objects, made as iterated."""
        return map(checked_alert, self.timestamps, self.device_ids, self.codes, self.recipients)

    def alert(self, index: int) -> Alert:
        """Row ``index`` as an :class:`Alert`."""
        table: ShapeTable | None = self._table
        if table is not None:
            # From the table: the other columns of a block need not be gathered for one row.
            shape = self._shapes[index]
            return checked_alert(
                self.timestamps[index],
                table.device_ids[shape],
                table.codes[shape],
                table.recipients[shape],
            )
        return checked_alert(
            self.timestamps[index],
            self.device_ids[index],
            self.codes[index],
            self.recipients[index],
        )

    if not TYPE_CHECKING:  # (typed as the fields they stand for)

        def __getattr__(self, name: str) -> Any:
            """A column :func:`shaped_columns` left to gather, gathered from the table when
            first read (a slot left unset reads as missing), and kept."""
            if name == "_table":
                return None  # (unset in a copy: it has no shapes)
            if name not in _GATHERED:
                raise AttributeError(name)
            index, table = self._shapes, self._table
            for field, source in zip(
                _GATHERED, (table.device_ids, table.codes, table.recipients), strict=True
            ):
                object.__setattr__(self, field, gather(source, index))
            return object.__getattribute__(self, name)


def shaped_columns(
    timestamps: Sequence[int | float], shapes: Sequence[int], table: ShapeTable
) -> AlertColumns:
    """The :class:`AlertColumns` whose row ``i`` is ``timestamps[i]`` and shape ``shapes[i]``
    of ``table``: the times checked as the constructor checks them, the shape indices
    checked in bulk (exact ints within the table), the other columns gathered from the
    table (checked when added) in C. The block keeps the indices and the table
    (:func:`shapes_of`), so a consumer can count its rows by shape.
    """
    times = tuple(timestamps)
    index = tuple(shapes)
    _same_length("shapes", index, len(times))
    try:
        # The indices a table gave are its own int objects: gathered from its positions,
        # each must come back as the very object asked for (not a bool, a negative index
        # counted from the end, an equal int of another type).
        checked = all(map(operator.is_, gather(table.positions, index), index))
    except (IndexError, TypeError):
        checked = False
    if not checked:
        _check_shapes(index, len(table.codes))
    columns: AlertColumns = AlertColumns.__new__(AlertColumns)
    set_field = object.__setattr__
    set_field(columns, "timestamps", _checked_times(times))
    # The other columns are gathered when first read: a consumer that decides and
    # counts by shape (a replay) reads none of them.
    set_field(columns, "_shapes", index)
    set_field(columns, "_table", table)
    return columns


def gather(values: Sequence[Any], positions: Sequence[int]) -> tuple[Any, ...]:
    """``values[i]`` for each ``i`` in ``positions``, in C (the objects are shared)."""
    if len(positions) < 2:
        return tuple(values[i] for i in positions)
    return cast("tuple[Any, ...]", operator.itemgetter(*positions)(values))


def positions_of(values: Sequence[Any], missing: object) -> Iterator[int]:
    """The positions of ``missing`` in ``values``, found by identity in C (values such as
    DeviceInfo compare with a method call)."""
    return itertools.compress(
        itertools.count(), map(operator.is_, values, itertools.repeat(missing))
    )


def _check_shapes(index: tuple[object, ...], size: int) -> None:
    """Refuse any index that is not an exact int in ``0..size - 1``, naming its row."""
    if _typed(index, _INTEGERS):
        ints = cast("tuple[int, ...]", index)
        if not ints or (min(ints) >= 0 and max(ints) < size):
            return
    for i, value in enumerate(index):
        if type(value) is not int or not 0 <= value < size:
            problem = f"must be an int index into the shape table (0..{size - 1})"
            raise InvalidAlertError(f"shapes[{i}]", value, problem)


def shapes_of(columns: AlertColumns) -> tuple[tuple[int, ...], ShapeTable] | None:
    """Each row's shape index and the table, for columns made by :func:`shaped_columns`."""
    # None unless shaped_columns made them (a copy or a pickle has no shapes).
    table: ShapeTable | None = columns._table
    return None if table is None else (columns._shapes, table)


def _same_length(field: str, column: tuple[object, ...], size: int) -> None:
    if len(column) != size:
        raise InvalidAlertError(
            field, f"{len(column)} values", f"must have as many as timestamps ({size})"
        )


def _typed(values: tuple[object, ...], kinds: frozenset[type]) -> bool:
    """Whether every value is exactly of one of ``kinds`` (an instance of a subclass is not).

    A column of one type, the usual case, is checked by counting its types, which
    hashes none of them.
    """
    if not values:
        return True
    first = type(values[0])
    if first in kinds and operator.countOf(map(type, values), first) == len(values):
        return True
    return kinds.issuperset(map(type, values))


def _checked_times(times: tuple[int | float, ...]) -> tuple[int | float, ...]:
    """``times`` if every one is epoch seconds Alert accepts, checked in bulk passes.

    Only plain ints and floats get to the comparisons (none runs a caller's code).
    The least and the greatest come from one sort (times in order, as they mostly
    are, cost a comparison each; min and max would cost two). A NaN leaves the sort's
    order undefined, so the sum, NaN if any time is (or too large for a float with an
    int out of range), catches it; an infinity sorts first or last.
    """
    if _typed(times, _NUMBERS):
        ordered = sorted(times)
        if not ordered:
            return times
        if ordered[0] >= 0.0 and ordered[-1] < _MAX_FLOAT_TIME:
            try:
                total = sum(times)
            except OverflowError:  # an int too large for a float, hidden by a NaN
                total = math.nan
            if total == total:
                return times
    for i, value in enumerate(times):
        kind = type(value)
        if kind is not int and kind is not float:
            raise InvalidAlertError(
                f"timestamps[{i}]", value, "must be an int or float of epoch seconds"
            )
        check_timestamp(value, f"timestamps[{i}]")
    raise AssertionError("unreachable: a time failed the bulk check but none alone")


def _canonical_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    """``ids`` in canonical spelling: looked up in one pass, the few unseen ones parsed.

    Only plain str are looked up: an instance of a subclass is refused, as Alert
    refuses it. (``itemgetter`` of two or more keys gives a tuple, of one the value.)
    """
    if len(ids) > 1 and _typed(ids, _TEXT):
        try:
            return operator.itemgetter(*ids)(_device_table)  # type: ignore[no-any-return]
        except KeyError:  # an id not seen lately: the loop below parses it
            pass
    canonical: list[str] = []
    for i, value in enumerate(ids):
        known = _device_lookup(value) if type(value) is str else None
        canonical.append(known or parse_device_id(value, f"device_ids[{i}]"))
    return tuple(canonical)


def _checked_codes(codes: tuple[int | str, ...]) -> tuple[int, ...]:
    """``codes`` as ints: device codes in bulk passes, anything else through ``parse_code``.

    The bounds are checked on the distinct codes, a few: plain ints only, so none is
    lost to an equal value of another type (``True == 1``).
    """
    if _typed(codes, _INTEGERS):
        ints = cast("tuple[int, ...]", codes)
        distinct = set(ints)
        if not ints or (min(distinct) >= 0 and max(distinct) <= _MAX_CODE):
            return ints
    return tuple(parse_code(code, f"codes[{i}]") for i, code in enumerate(codes))


def _checked_lists(lists: tuple[Iterable[str], ...], size: int) -> tuple[tuple[str, ...], ...]:
    """Recipient lists as tuples of non-empty str; tuples checked before pass by identity."""
    _same_length("recipients", lists, size)
    # The table itself is the default of each lookup: it is no list, so None is not one.
    _checked_recipients[id(_NO_RECIPIENTS)] = _NO_RECIPIENTS  # (a clear may have dropped it)
    known = map(_checked_recipients.get, map(id, lists), itertools.repeat(_checked_recipients))
    if all(map(operator.is_, known, lists)):
        return lists  # type: ignore[return-value]  # each is a checked tuple
    checked = []
    for i, value in enumerate(lists):
        seen: object = _checked_recipients.get(id(value), _checked_recipients)
        if value is _NO_RECIPIENTS or seen is value:
            checked.append(value)
            continue
        try:
            items = _recipients(value)
        except InvalidAlertError as exc:
            raise InvalidAlertError(f"recipients[{i}]", value, exc.problem) from None
        if type(value) is tuple and items == value:
            items = value  # keep the caller's tuple: the next block passes it by identity
        _remember_recipients(items)
        checked.append(items)
    return tuple(checked)  # type: ignore[arg-type]
