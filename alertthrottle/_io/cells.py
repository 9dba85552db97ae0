"""A traffic file's cells: the columns, timestamps in their forms and units, and text.

What every format's reader (and the writer) agrees on about a cell: the columns a row
has, how a timestamp's text or number becomes epoch seconds (and the hint when it looks
scaled), the guard :func:`~.trafficwrite.write_traffic` puts on a cell a spreadsheet
would take for a formula, and how a column of values is looked up in a reader's cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .._core.columns import positions_of
from .._core.errors import InvalidAlertError

__all__ = [
    "DEVICE_CACHE",
    "DEVICE_FIELDS",
    "REQUIRED",
    "UNITS",
    "UNKNOWN",
    "YEAR_10000",
    "guard_cell",
    "looked_up",
    "out_of_range",
    "parse_time_text",
    "scaled",
    "unguard_cell",
]

REQUIRED = ("timestamp", "device_id", "code")
DEVICE_FIELDS = ("manufacturer", "model", "firmware")
#: Epoch seconds of 10000-01-01T00:00:00Z: times must come before it.
YEAR_10000 = 253_402_300_800
UNITS: dict[str, int] = {"s": 1, "ms": 1000, "us": 1_000_000}
UNKNOWN: Any = object()
#: Distinct device-id spellings a reader remembers (one entry per device, not per row).
DEVICE_CACHE = 1 << 20


def parse_time_text(text: str) -> int | float | datetime:
    """Epoch seconds (int or float text) or ISO 8601; the Alert checks the range and offset."""
    stripped = text.strip()
    # int() refuses more than 4300 digits with a ValueError; such a number is no time.
    if stripped.isdecimal() and len(stripped) <= 20:
        return int(stripped)
    try:
        return float(stripped)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(stripped)
    except ValueError:
        raise InvalidAlertError(
            "timestamp", text, "must be epoch seconds or ISO 8601 with a UTC offset"
        ) from None


def out_of_range(value: float, text: object, unit: str) -> InvalidAlertError:
    """The error for a time outside 0 <= t < year 10000, with a hint when it looks scaled."""
    if not value >= 0:
        return InvalidAlertError("timestamp", text, "must be finite and >= 0")
    if unit == "s" and value < YEAR_10000 * 1000:
        hint = "epoch milliseconds: read the file with time_unit='ms' (--time-unit ms)"
    elif unit in ("s", "ms") and value < YEAR_10000 * 1_000_000:
        hint = "epoch microseconds: read the file with time_unit='us' (--time-unit us)"
    else:
        hint = ""
    problem = "must be before the year 10000"
    if hint and value < float("inf"):
        problem += f"; it looks like {hint}"
    return InvalidAlertError("timestamp", text, problem)


def scaled(value: int | float, unit: str) -> int | float:
    """Epoch ``value`` in ``unit`` as seconds: an int when it is whole seconds."""
    divisor = UNITS[unit]
    if divisor == 1:
        return value
    if type(value) is int and value % divisor == 0:
        return value // divisor
    return value / divisor


#: A cell write_csv guarded against spreadsheet formulas: ``'`` then what a formula starts with.
_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def unguard_cell(text: str) -> str:
    """A CSV cell as it was before :func:`write_traffic` guarded it (``'=x`` -> ``=x``)."""
    return text[1:] if text.startswith(_GUARDED) else text


def guard_cell(text: str) -> str:
    """A cell that already looks guarded gets one more ``'``, so reading it back is exact."""
    return "'" + text if text.startswith(_GUARDED) else text


def looked_up(
    known: Mapping[Any, Any], values: list[Any], parse: Callable[[Any], Any]
) -> list[Any]:
    """``values`` looked up in ``known``, a column at a time; misses through ``parse``."""
    try:
        found = list(map(known.get, values))
    except TypeError:  # unhashable values (lists): each one parsed
        found = [None] * len(values)
    if None in found:  # (a scan that stops at the first, cheaper than finding them all)
        for i in positions_of(found, None):
            found[i] = parse(values[i])
    return found
