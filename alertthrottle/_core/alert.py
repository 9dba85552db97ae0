"""Alerts and the parsing of their fields: device ids, alert codes, times."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TypeAlias

import attrs

from .errors import InvalidAlertError
from .validation import MAX_TIMESTAMP, check_timestamp, optional, text

__all__ = [
    "DCC_CODE_PREFIX",
    "Alert",
    "AlertCode",
    "DeviceIds",
    "DeviceInfo",
    "Timestamp",
    "checked_alert",
    "format_code",
    "is_dcc_code",
    "parse_code",
    "parse_device_id",
    "parse_timestamp",
]

#: What callers may pass as a time: epoch seconds, or a timezone-aware datetime.
Timestamp: TypeAlias = int | float | datetime
#: What callers may pass as an alert code: an int, or hexadecimal text.
AlertCode: TypeAlias = int | str

_CANONICAL_EUI64 = re.compile(r"(?:[0-9A-F]{2}-){7}[0-9A-F]{2}")
# Bytes separated consistently by "-" or ":" (the backreference), or not at all.
_ANY_EUI64 = re.compile(
    r"[0-9A-Fa-f]{2}(?:([-:])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){6}|[0-9A-Fa-f]{14})"
)
_HEX_CODE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{1,4})")
_MAX_CODE = 0xFFFF
_NO_RECIPIENTS: tuple[str, ...] = ()
_MAX_FLOAT_TIME = float(MAX_TIMESTAMP)  # exact: the bound is well below 2**53
#: The prefix that names a DCC alert code (``DCC:N24``) wherever codes are text.
DCC_CODE_PREFIX = "DCC:"
# A DCC alert code (DUIS DCCAlertCode: N24, AD1, ...): letters and digits, case kept.
_DCC_CODE = re.compile(r"[0-9A-Za-z]{1,16}")
# DCC codes live above every device code: _DCC_BASE + the code's ASCII bytes read
# as one big-endian number. No code byte is 0, so distinct codes get distinct ints,
# and every int in the range decodes back to at most one code.
_DCC_BASE = 1 << 16


class DeviceIds:
    """The canonical spelling of the device ids seen lately: a bounded table, owned here.

    Traffic repeats the same devices endlessly, so an id is parsed once and then
    looked up. Only valid ids enter (each at most 23 characters); when the table
    holds ``size`` of them it starts again empty, so memory stays bounded
    whatever the input. :attr:`lookup` is the table's ``get``: the canonical
    spelling of a str seen before, else ``None``.
    """

    __slots__ = ("_size", "_table", "lookup")

    def __init__(self, size: int) -> None:
        self._size = size
        self._table: dict[str, str] = {}
        self.lookup = self._table.get

    def __len__(self) -> int:
        return len(self._table)

    def canonical(self, value: str, field: str = "device_id") -> str:
        """The canonical spelling of ``value``, parsed and remembered if new."""
        canonical = self._table.get(value)
        if canonical is not None:
            return canonical
        if _CANONICAL_EUI64.fullmatch(value):
            canonical = value
        elif _ANY_EUI64.fullmatch(value):
            digits = value.replace("-", "").replace(":", "").upper()
            canonical = "-".join(digits[i : i + 2] for i in range(0, 16, 2))
        else:
            raise InvalidAlertError(
                field, value, "must be an EUI-64 such as '00-0D-6F-00-0A-BC-12-34'"
            )
        self._remember(value, canonical)
        return canonical

    def is_canonical(self, value: str) -> bool:
        """Whether ``value`` is a device id in canonical spelling (remembered if new)."""
        if self._table.get(value) == value:
            return True
        if _CANONICAL_EUI64.fullmatch(value) is None:
            return False
        self._remember(value, value)
        return True

    def _remember(self, value: str, canonical: str) -> None:
        if len(self._table) >= self._size:
            self._table.clear()  # cleared in place: ``lookup`` stays bound to it
        self._table[value] = canonical


#: The process's table of device ids (one entry per spelling seen: some 100 bytes each).
_DEVICE_IDS = DeviceIds(1 << 16)
_device_lookup = _DEVICE_IDS.lookup
# The table itself (cleared in place, never replaced): a subscript costs less than a call.
_device_table = _DEVICE_IDS._table


def parse_device_id(value: object, field: str = "device_id") -> str:
    """Return the canonical EUI-64 spelling (``00-0D-6F-00-0A-BC-12-34``) of ``value``.

    Lower case, ``:`` separators and no separators are accepted; anything else
    raises :class:`InvalidAlertError` naming ``field``.
    """
    if type(value) is str:
        return _device_lookup(value) or _DEVICE_IDS.canonical(value, field)
    raise InvalidAlertError(field, value, "must be a str holding an EUI-64")


def parse_code(value: object, field: str = "code") -> int:
    """Return alert code ``value`` as an int.

    A device alert code is an ``int`` in 0..0xFFFF, or a ``str`` of hexadecimal
    with an optional ``0x`` prefix, so ``"8014"``, ``"0x8014"`` and ``0x8014`` are
    one code. A DCC alert code is written with its prefix, ``"DCC:N24"``, and
    becomes an int above 0xFFFF (the one this function returns for it is the only
    int accepted for it), so ``"DCC:AD1"`` and the device code ``"AD1"`` never meet.
    """
    if type(value) is int:
        if 0 <= value <= _MAX_CODE or _dcc_text(value) is not None:
            return value
        raise InvalidAlertError(
            field, value, "must be in 0..0xFFFF (or the int parse_code gives a 'DCC:' code)"
        )
    if type(value) is str:
        match = _HEX_CODE.fullmatch(value)
        if match is not None:
            return int(match.group(1), 16)
        if value[:4] == DCC_CODE_PREFIX:
            name = value[4:]
            if _DCC_CODE.fullmatch(name):
                return _DCC_BASE + int.from_bytes(name.encode("ascii"), "big")
            raise InvalidAlertError(
                field, value, "a DCC alert code must be 'DCC:' and 1 to 16 letters or digits"
            )
        raise InvalidAlertError(
            field, value, "must be 1 to 4 hexadecimal digits, optionally after '0x'"
        )
    raise InvalidAlertError(field, value, "must be an int in 0..0xFFFF or a hexadecimal str")


def _dcc_text(code: int) -> str | None:
    """The name of DCC alert code ``code`` (``N24``), or None if it names none."""
    number = code - _DCC_BASE
    if number <= 0 or number.bit_length() > 128:
        return None
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    text = raw.decode("latin-1")
    return text if _DCC_CODE.fullmatch(text) else None


def is_dcc_code(code: int) -> bool:
    """Whether ``code`` (as :func:`parse_code` returns it) is a DCC alert code."""
    return code > _MAX_CODE


def format_code(code: int) -> str:
    """Show an alert code: a device code as GBCS does, four upper-case hex digits
    (``8F84``); a DCC alert code with its prefix (``DCC:N24``)."""
    if type(code) is not int or code < 0:
        raise InvalidAlertError("code", code, "must be an int code, as parse_code returns it")
    if code <= _MAX_CODE:
        return f"{code:04X}"
    return DCC_CODE_PREFIX + (_dcc_text(code) or f"?{code}")


def parse_timestamp(value: object, field: str = "timestamp") -> int | float:
    """Return ``value`` as epoch seconds (int or float, finite, >= 0, before the year 10000).

    A timezone-aware ``datetime`` is converted; a naive one is refused, because
    its meaning depends on the machine it runs on. A number that looks like
    epoch milliseconds or microseconds is refused with a message saying so.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidAlertError(field, value, "must be timezone-aware, not a naive datetime")
        seconds = value.timestamp()
        if 0 <= seconds < MAX_TIMESTAMP:
            return seconds
        raise InvalidAlertError(field, value, "must be from 1970 UTC and before the year 10000")
    kind = type(value)
    if kind is int or kind is float:
        return check_timestamp(value, field)
    raise InvalidAlertError(
        field, value, "must be an int or float of epoch seconds, or an aware datetime"
    )


def _recipients(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidAlertError("recipients", value, "must be a tuple or list of str")
    items = tuple(value)
    for item in items:
        if type(item) is not str or not item:
            raise InvalidAlertError("recipients", value, "must hold non-empty str only")
    return items


# Readers pass the same few recipient tuples again and again: from_parsed remembers
# the ones it has checked, by identity. The dict holds each tuple, so its id cannot be
# reused by another object while it is remembered; a tuple is immutable, so a checked
# one stays good. (Looked up with the table itself as the default: None is not one.)
_checked_recipients: dict[int, tuple[str, ...]] = {}


def _remember_recipients(recipients: tuple[str, ...]) -> None:
    if len(_checked_recipients) >= 4096:
        _checked_recipients.clear()
    _checked_recipients[id(recipients)] = recipients


class _AlertSlots:
    """The storage of an :class:`Alert`: its four fields as plain, writable slots.

    Alert is frozen (its ``__setattr__`` raises), so its constructors cannot write
    ``self.x = v``, and a slot descriptor's ``__set__`` is a C call through a
    wrapper (an argument tuple, unpacked again) per field. So an Alert is built as
    an instance of this, its base: object's allocation (no Python ``__new__`` or
    ``__init__``), four stores that specialise to a few instructions (object's own
    ``__setattr__``), then one ``__class__`` store to Alert, which adds no slot and
    so has the same layout. The constructors do this only after every check has
    passed; the stores and the switch neither fail nor allocate, so no code (and no
    garbage collection) sees an Alert half built, and none of this class is ever
    returned or left behind.
    """

    __slots__ = ("__weakref__", "code", "device_id", "recipients", "timestamp")

    timestamp: int | float
    device_id: str
    code: int
    recipients: tuple[str, ...]


@attrs.frozen(slots=True, init=False)
class Alert(_AlertSlots):
    """One alert from one device, as the policy sees it.

    Fields are normalised at construction (device id to canonical EUI-64, code
    to an int, a datetime to epoch seconds), so two spellings of the same alert
    are equal, and a bad value raises :class:`InvalidAlertError` before it can
    travel. :meth:`from_parsed` builds one from fields already in that form.
    """

    timestamp: int | float
    device_id: str
    code: int
    recipients: tuple[str, ...] = ()

    def __new__(
        cls,
        timestamp: Timestamp,
        device_id: str,
        code: AlertCode,
        recipients: Iterable[str] = _NO_RECIPIENTS,
    ) -> Alert:
        # The constructor is ``__new__``, not ``__init__``: it allocates the alert
        # itself (see _AlertSlots), where an ``__init__`` would get an Alert already
        # made, frozen, whose slots cost a wrapper call each to write.
        # The common case (epoch seconds, a device seen before, an int code, no
        # recipients) is decided by exact-type checks and one lookup; everything
        # else goes through the parsers, which convert or refuse. The type comes
        # first, so no comparison or hash of a caller's object runs before it is
        # known to be a plain float, int or str. A float is compared with floats:
        # a float against an int takes CPython's slow path. The common case's bounds
        # are literals (_MAX_FLOAT_TIME, _MAX_CODE): a constant costs less than a global.
        if type(timestamp) is float:
            if not (timestamp >= 0.0 and timestamp < 253402300800.0):
                timestamp = parse_timestamp(timestamp)
        elif not (type(timestamp) is int and timestamp >= 0 and timestamp < MAX_TIMESTAMP):
            timestamp = parse_timestamp(timestamp)
        if type(device_id) is str:
            try:
                canonical = _device_table[device_id]
            except KeyError:  # not seen lately: parsed (or refused) and remembered
                canonical = parse_device_id(device_id)
        else:
            canonical = parse_device_id(device_id)  # which refuses it
        if not (type(code) is int and code >= 0 and code <= 0xFFFF):
            code = parse_code(code)
        if recipients is not _NO_RECIPIENTS:
            recipients = _recipients(recipients)
        alert = _AlertSlots()
        alert.timestamp = timestamp
        alert.device_id = canonical
        alert.code = code
        alert.recipients = recipients
        try:
            alert.__class__ = cls
        except TypeError:  # a subclass with a layout of its own (a slot or a __dict__)
            return _subclass_alert(cls, timestamp, canonical, code, recipients)
        return alert  # type: ignore[return-value]  # an Alert (or a subclass) now

    def __getnewargs__(self) -> tuple[int | float, str, int, tuple[str, ...]]:
        """The constructor's arguments: pickle and copy make an Alert through it."""
        return (self.timestamp, self.device_id, self.code, self.recipients)

    @classmethod
    def from_parsed(
        cls,
        timestamp: int | float,
        device_id: str,
        code: int,
        recipients: tuple[str, ...] = _NO_RECIPIENTS,
    ) -> Alert:
        """An alert from fields already in canonical form, checked but not converted.

        For readers that parse their input themselves (traffic files, DUIS
        messages): ``timestamp`` epoch seconds as :func:`parse_timestamp`
        returns them, ``device_id`` canonical as :func:`parse_device_id`
        returns it, ``code`` an int, ``recipients`` a tuple of non-empty str.
        A value in any other form raises :class:`InvalidAlertError`, as the
        constructor would for a bad one.
        """
        if type(timestamp) is float:
            if not (timestamp >= 0.0 and timestamp < 253402300800.0):  # _MAX_FLOAT_TIME
                check_timestamp(timestamp)
        elif not (type(timestamp) is int and timestamp >= 0 and timestamp < MAX_TIMESTAMP):
            check_timestamp(timestamp)
        # A canonical id not seen yet is remembered, so the next row's costs one lookup.
        if type(device_id) is not str or (
            _device_lookup(device_id) != device_id and not _DEVICE_IDS.is_canonical(device_id)
        ):
            raise InvalidAlertError(
                "device_id",
                device_id,
                "must be a canonical EUI-64 such as '00-0D-6F-00-0A-BC-12-34'",
            )
        if not (type(code) is int and (0 <= code <= _MAX_CODE or _dcc_text(code) is not None)):
            raise InvalidAlertError("code", code, "must be an int in 0..0xFFFF (or a DCC code's)")
        if (
            recipients is not _NO_RECIPIENTS
            and _checked_recipients.get(id(recipients), _checked_recipients) is not recipients
        ):
            if type(recipients) is not tuple or _recipients(recipients) != recipients:
                raise InvalidAlertError(
                    "recipients", recipients, "must be a tuple of non-empty str"
                )
            _remember_recipients(recipients)
        # As the constructor builds one (inline: a call of checked_alert costs a frame).
        alert = _AlertSlots()
        alert.timestamp = timestamp
        alert.device_id = device_id
        alert.code = code
        alert.recipients = recipients
        try:
            alert.__class__ = cls
        except TypeError:  # a subclass with a layout of its own (a slot or a __dict__)
            return _subclass_alert(cls, timestamp, device_id, code, recipients)
        return alert  # type: ignore[return-value]  # an Alert (or a subclass) now

    @property
    def code_hex(self) -> str:
        """The alert code as text: four upper-case hex digits, or ``DCC:N24`` for a DCC code."""
        return format_code(self.code)


def checked_alert(
    timestamp: int | float, device_id: str, code: int, recipients: tuple[str, ...]
) -> Alert:
    """The Alert of fields already checked and in canonical form, not checked again.

    For ``AlertColumns``, whose rows were checked a column at a time. Built as an
    ``_AlertSlots`` and switched to Alert (see there), as the constructors build
    theirs inline once their checks pass.
    """
    alert = _AlertSlots()
    alert.timestamp = timestamp
    alert.device_id = device_id
    alert.code = code
    alert.recipients = recipients
    alert.__class__ = Alert
    return alert  # type: ignore[return-value]  # an Alert now


def _subclass_alert(
    cls: type[Alert],
    timestamp: int | float,
    device_id: str,
    code: int,
    recipients: tuple[str, ...],
) -> Alert:
    """An instance of ``cls``, a subclass of Alert with another layout, holding checked fields.

    Allocated as object allocates it and written through the slots' own setters
    (object.__setattr__ would first look each name up).
    """
    alert = _new_alert(cls)
    _set_timestamp(alert, timestamp)
    _set_device_id(alert, device_id)
    _set_code(alert, code)
    _set_recipients(alert, recipients)
    return alert


_set_timestamp, _set_device_id, _set_code, _set_recipients = (
    vars(_AlertSlots)[field.name].__set__ for field in attrs.fields(Alert)
)
_new_alert = object.__new__


_OPTIONAL_TEXT = optional(text(error=InvalidAlertError))


@attrs.frozen(slots=True)
class DeviceInfo:
    """What is known of a device's make, for root-cause grouping; ``None`` is unknown."""

    manufacturer: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
    model: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
    firmware: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
