"""Alerts and the parsing of their fields: device ids, alert codes, times."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeAlias

import attrs

from .errors import InvalidAlertError

__all__ = [
    "Alert",
    "AlertCode",
    "DeviceInfo",
    "Timestamp",
    "format_code",
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

# Traffic repeats the same devices endlessly: remember their canonical spelling.
_device_cache: dict[str, str] = {}
_DEVICE_CACHE_SIZE = 1 << 16


def parse_device_id(value: object, field: str = "device_id") -> str:
    """Return the canonical EUI-64 spelling (``00-0D-6F-00-0A-BC-12-34``) of ``value``.

    Lower case, ``:`` separators and no separators are accepted; anything else
    raises :class:`InvalidAlertError` naming ``field``.
    """
    if type(value) is str:
        cached = _device_cache.get(value)
        if cached is not None:
            return cached
        if _CANONICAL_EUI64.fullmatch(value):
            canonical = value
        elif _ANY_EUI64.fullmatch(value):
            digits = value.replace("-", "").replace(":", "").upper()
            canonical = "-".join(digits[i : i + 2] for i in range(0, 16, 2))
        else:
            raise InvalidAlertError(
                field, value, "must be an EUI-64 such as '00-0D-6F-00-0A-BC-12-34'"
            )
        if len(_device_cache) >= _DEVICE_CACHE_SIZE:
            _device_cache.clear()
        _device_cache[value] = canonical
        return canonical
    raise InvalidAlertError(field, value, "must be a str holding an EUI-64")


def parse_code(value: object, field: str = "code") -> int:
    """Return alert code ``value`` as an int in 0..0xFFFF.

    An ``int`` is taken as given; a ``str`` is hexadecimal with an optional
    ``0x`` prefix, so ``"8014"``, ``"0x8014"`` and ``0x8014`` are one code.
    """
    if type(value) is int:
        if 0 <= value <= _MAX_CODE:
            return value
        raise InvalidAlertError(field, value, "must be in 0..0xFFFF")
    if type(value) is str:
        match = _HEX_CODE.fullmatch(value)
        if match is None:
            raise InvalidAlertError(
                field, value, "must be 1 to 4 hexadecimal digits, optionally after '0x'"
            )
        return int(match.group(1), 16)
    raise InvalidAlertError(field, value, "must be an int in 0..0xFFFF or a hexadecimal str")


def format_code(code: int) -> str:
    """Show an alert code as GBCS does: four upper-case hex digits (``8F84``)."""
    return f"{code:04X}"


def parse_timestamp(value: object, field: str = "timestamp") -> int | float:
    """Return ``value`` as epoch seconds (int or float, finite, >= 0).

    A timezone-aware ``datetime`` is converted; a naive one is refused, because
    its meaning depends on the machine it runs on.
    """
    kind = type(value)
    if kind is int or kind is float:
        seconds: int | float = value  # type: ignore[assignment]
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidAlertError(field, value, "must be timezone-aware, not a naive datetime")
        seconds = value.timestamp()
    else:
        raise InvalidAlertError(
            field, value, "must be an int or float of epoch seconds, or an aware datetime"
        )
    # NaN fails both comparisons, so it is refused with the infinities.
    if not (0 <= seconds < math.inf):
        raise InvalidAlertError(field, value, "must be finite and >= 0")
    return seconds


def _recipients(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidAlertError("recipients", value, "must be a tuple or list of str")
    items = tuple(value)
    for item in items:
        if type(item) is not str or not item:
            raise InvalidAlertError("recipients", value, "must hold non-empty str only")
    return items


@attrs.frozen(slots=True, kw_only=False)
class Alert:
    """One alert from one device, as the policy sees it.

    Fields are normalised at construction (device id to canonical EUI-64, code
    to an int, a datetime to epoch seconds), so two spellings of the same alert
    are equal, and a bad value raises :class:`InvalidAlertError` before it can
    travel.
    """

    timestamp: int | float = attrs.field(converter=parse_timestamp)
    device_id: str = attrs.field(converter=parse_device_id)
    code: int = attrs.field(converter=parse_code)
    recipients: tuple[str, ...] = attrs.field(default=(), converter=_recipients)

    @property
    def code_hex(self) -> str:
        """The alert code as four upper-case hex digits."""
        return format_code(self.code)


def _optional_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (type(value) is not str or not value):
        raise InvalidAlertError(attribute.name, value, "must be a non-empty str or None")


@attrs.frozen(slots=True)
class DeviceInfo:
    """What is known of a device's make, for root-cause grouping; ``None`` is unknown."""

    manufacturer: str | None = attrs.field(default=None, validator=_optional_text)
    model: str | None = attrs.field(default=None, validator=_optional_text)
    firmware: str | None = attrs.field(default=None, validator=_optional_text)
