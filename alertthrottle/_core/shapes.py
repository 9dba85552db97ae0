"""Row shapes: a traffic row less its time (device id, code, recipients), checked once.

Traffic repeats itself: a device sends the same code to the same recipients
again and again, and only the time changes. A reader that finds repeated rows
cheaply (a remembered line, an Arrow dictionary position) adds each distinct
shape to a :class:`ShapeTable` once and gives every row its shape's index;
``shaped_columns`` (in :mod:`.columns`) makes a block from the times and those
indices (its other columns gathered from the table in C when first read), a
policy decides it by shape, and a replay counts the rows by shape.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import cast

from .alert import (
    _MAX_CODE,
    _NO_RECIPIENTS,
    _checked_recipients,
    _device_lookup,
    _recipients,
    _remember_recipients,
    parse_code,
    parse_device_id,
)
from .errors import InvalidAlertError

__all__ = ["SHAPES", "ShapeTable", "all_canonical"]

#: How many shapes a table holds. A reader starts a new table when one is full, so
#: memory stays bounded whatever the input (some 200 bytes a shape).
SHAPES = 1 << 17


class ShapeTable:
    """An append-only table of checked shapes: ``device_ids[i]``, ``codes[i]`` and
    ``recipients[i]`` are shape ``i``'s, canonical and checked as :class:`Alert` checks
    them when added. Append-only: an index once given means the same shape for good,
    so blocks made from the table stay valid after it grows."""

    __slots__ = ("codes", "device_ids", "positions", "recipients", "size")

    def __init__(self, size: int = SHAPES) -> None:
        if type(size) is not int or size < 1:
            raise InvalidAlertError("size", size, "must be an int >= 1")
        #: The most shapes the table takes.
        self.size = size
        self.device_ids: list[str] = []
        self.codes: list[int] = []
        self.recipients: list[tuple[str, ...]] = []
        #: ``positions[i]`` is the int ``add`` returned for shape ``i`` (that very object):
        #: indices gathered from it are the caller's own objects when they are these.
        self.positions: list[int] = []

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def room(self) -> int:
        """How many more shapes the table takes."""
        return self.size - len(self.codes)

    def add(self, device_id: object, code: object, recipients: Iterable[str] = ()) -> int:
        """Check a shape as :class:`Alert` checks its fields, add it and return its index.

        A bad value raises :class:`InvalidAlertError` naming the field and value;
        a full table raises it too (naming the table's size).
        """
        canonical = parse_device_id(device_id)
        number = parse_code(code)
        names = _checked_names(recipients)
        if len(self.codes) >= self.size:
            raise InvalidAlertError("shapes", self.size, "the shape table is full")
        index = len(self.codes)
        self.device_ids.append(canonical)
        self.codes.append(number)
        self.recipients.append(names)
        self.positions.append(index)
        return index

    def add_many(
        self,
        device_ids: Sequence[object],
        codes: Sequence[object],
        recipients: Sequence[Iterable[str]],
        indices: Sequence[int] | None = None,
    ) -> list[int]:
        """Check shapes as :meth:`add` checks each, add them all, return their indices.

        A reader adds a block's new shapes at once: the usual values (device ids in
        canonical spelling, device codes as ints, recipient tuples checked before) are
        checked a column at a time, the rest one by one. ``indices``, if given, are the
        int objects to give the shapes (each equal to its index: a reader may hand them
        out before it adds the shapes). All or nothing: a bad value raises
        :class:`InvalidAlertError` naming the field and row (``codes[3]``), and shapes
        that do not all fit raise it too, adding none.
        """
        ids = tuple(device_ids)
        numbers = tuple(codes)
        lists = tuple(recipients)
        count = len(ids)
        start = len(self.codes)
        added = list(range(start, start + count)) if indices is None else list(indices)
        if len(numbers) != count or len(lists) != count or len(added) != count:
            problem = f"must be as many as device_ids ({count})"
            raise InvalidAlertError("shapes", (len(numbers), len(lists), len(added)), problem)
        if operator.countOf(map(type, added), int) != count or added != list(
            range(start, start + count)
        ):
            problem = f"must be the next indices of the table ({start}..)"
            raise InvalidAlertError("indices", indices, problem)
        canonical = _canonical(ids)
        ints = cast("tuple[int, ...]", numbers)
        if operator.countOf(map(type, numbers), int) != count or (
            count and (min(ints) < 0 or max(ints) > _MAX_CODE)
        ):
            ints = tuple(parse_code(code, f"codes[{i}]") for i, code in enumerate(numbers))
        # The table itself is the default of each lookup: it is no tuple, so None is not one.
        _checked_recipients[id(_NO_RECIPIENTS)] = _NO_RECIPIENTS  # (a clear may have dropped it)
        known = map(_checked_recipients.get, map(id, lists), itertools.repeat(_checked_recipients))
        if not all(map(operator.is_, known, lists)):
            lists = tuple(map(_indexed_names, lists, itertools.count()))
        if start + count > self.size:
            raise InvalidAlertError("shapes", self.size, "the shape table is full")
        self.device_ids += canonical
        self.codes += ints
        self.recipients += cast("tuple[tuple[str, ...], ...]", lists)
        self.positions += added
        return added


def _canonical(ids: tuple[object, ...]) -> list[str]:
    """The canonical spelling of each id: looked up or checked in one pass, else each parsed."""
    if operator.countOf(map(type, ids), str) == len(ids):
        texts = cast("tuple[str, ...]", ids)
        found = list(map(_device_lookup, texts))
        if None not in found:
            return cast("list[str]", found)
        if all_canonical(texts):
            return list(texts)
    return [parse_device_id(value, f"device_ids[{i}]") for i, value in enumerate(ids)]


#: Deletes the characters of a canonical device id's bytes (upper-case hexadecimal digits).
_NOT_HEX = str.maketrans("", "", "0123456789ABCDEF")


def all_canonical(ids: Sequence[str]) -> bool:
    """Whether every id (a str) is a device id in canonical spelling, as
    :func:`parse_device_id` gives them (``00-0D-6F-00-0A-BC-12-34``): checked together
    in a few passes over their joined text, where matching a pattern costs more per id.

    Each of 23 characters, joined by ``-`` with one more after the last, the ids take 24
    characters each: eight bytes of two characters, each byte followed by a ``-`` (the
    last by the joining one). Every third character a ``-``, and nothing left but those
    ``-`` once the upper-case hexadecimal digits are deleted: the canonical spelling.
    """
    count = len(ids)
    if operator.countOf(map(len, ids), 23) != count:
        return False
    text = "-".join(ids) + "-" if count else ""
    dashes = "-" * (8 * count)
    return text[2::3] == dashes and text.translate(_NOT_HEX) == dashes


def _checked_names(recipients: Iterable[str]) -> tuple[str, ...]:
    """A recipient list as :meth:`ShapeTable.add` keeps it: a checked tuple, remembered."""
    if recipients is _NO_RECIPIENTS or (
        # A tuple checked before, as Alert.from_parsed knows one: by identity.
        type(recipients) is tuple
        and _checked_recipients.get(id(recipients), _checked_recipients) is recipients
    ):
        return cast("tuple[str, ...]", recipients)
    names = _recipients(recipients)
    if type(recipients) is tuple and names == recipients:
        names = recipients  # the caller's tuple: blocks pass it by identity
    _remember_recipients(names)
    return names


def _indexed_names(recipients: Iterable[str], row: int) -> tuple[str, ...]:
    """:func:`_checked_names`, a bad list named by its row (``recipients[3]``)."""
    try:
        return _checked_names(recipients)
    except InvalidAlertError as exc:
        raise InvalidAlertError(f"recipients[{row}]", recipients, exc.problem) from None
