"""JSON Lines traffic: one JSON object per line, read row by row for a traffic reader.

Each line is an object with a traffic file's fields; a line that is not one (bad JSON, a
field given twice, a value of the wrong type) is a bad row. The rows go to the
:class:`~.traffic.TrafficReader`, which packs them in blocks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._core.alert import Alert, DeviceInfo
from .._core.errors import InvalidAlertError
from .cells import DEVICE_FIELDS, REQUIRED
from .formatrows import FormatRows
from .lines import MAX_RECORD

__all__ = ["JsonRows"]

if TYPE_CHECKING:
    from .traffic import Row


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


class JsonRows(FormatRows):
    """A JSON Lines file's rows for a :class:`~.traffic.TrafficReader`, which owns the row
    count, the skipped rows and the caches of values read once."""

    __slots__ = ()

    def rows(self, lines: Iterator[str]) -> Iterator[Row]:
        """The rows of ``lines`` one by one, numbered from 1; bad ones reported."""
        reader = self._reader
        bad = self._bad
        for number, line in enumerate(lines, 1):
            if (len(line) > MAX_RECORD or not line.isascii()) and self._refused(
                line, lines, number
            ):
                continue
            if not line.strip():
                continue
            reader.rows += 1
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
        for name in REQUIRED:
            if name not in row:
                raise InvalidAlertError(name, None, "is required")
        recipients = row.get("recipients")
        if recipients is None:
            recipients = ()
        alert = Alert(
            self._seconds(row["timestamp"]), row["device_id"], self._code(row["code"]), recipients
        )
        parts = []
        for name in DEVICE_FIELDS:
            value = row.get(name)
            if value is not None and type(value) is not str:
                raise InvalidAlertError(name, value, "must be a str or null")
            parts.append(value or "")
        return alert, self._device_info(tuple(parts))  # type: ignore[arg-type]
