"""Row shapes: a traffic row less its time (device id, code, recipients), checked once.

Traffic repeats itself: a device sends the same code to the same recipients
again and again, and only the time changes. A reader that finds repeated rows
cheaply (a remembered line, an Arrow dictionary position) adds each distinct
shape to a :class:`ShapeTable` once and gives every row its shape's index;
``shaped_columns`` (in :mod:`.columns`) then gathers a block's columns from
the table in C, and a replay counts the rows by shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from .alert import (
    _NO_RECIPIENTS,
    _checked_recipients,
    _recipients,
    _remember_recipients,
    parse_code,
    parse_device_id,
)
from .errors import InvalidAlertError

__all__ = ["SHAPES", "ShapeTable"]

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
        if recipients is _NO_RECIPIENTS or (
            # A tuple checked before, as Alert.from_parsed knows one: by identity.
            type(recipients) is tuple
            and _checked_recipients.get(id(recipients), _checked_recipients) is recipients
        ):
            names: tuple[str, ...] = cast("tuple[str, ...]", recipients)
        else:
            names = _recipients(recipients)
            if type(recipients) is tuple and names == recipients:
                names = recipients  # the caller's tuple: blocks pass it by identity
            _remember_recipients(names)
        if len(self.codes) >= self.size:
            raise InvalidAlertError("shapes", self.size, "the shape table is full")
        index = len(self.codes)
        self.device_ids.append(canonical)
        self.codes.append(number)
        self.recipients.append(names)
        self.positions.append(index)
        return index
