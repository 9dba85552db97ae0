"""Alert traffic files: CSV and JSON Lines, read as streams and written back.

A traffic file holds one alert per row: ``timestamp, device_id, code,
recipients`` and, optionally, ``manufacturer, model, firmware`` (which
become a :class:`DeviceInfo` per device). Files may be gzip-compressed and
``-`` is standard input. Reading is a stream: memory holds one row, the
caches of distinct codes and recipient lists, and one ``DeviceInfo`` per
device that has any.

A bad row either stops the read with a :class:`TrafficError` that says
``file:line: field: problem`` (``on_error="fail"``), or is counted and the
first few kept as :class:`SkippedRow` (``on_error="skip"``): nothing is
dropped without being counted.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import itertools
import json
import operator
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any, Literal, cast

import attrs

from .._core.alert import (
    Alert,
    DeviceInfo,
    format_code,
    parse_code,
    parse_device_id,
    parse_timestamp,
)
from .._core.errors import InvalidAlertError, TrafficError

__all__ = [
    "OnError",
    "SkippedRow",
    "TrafficFormat",
    "TrafficReader",
    "merge_traffic",
    "open_traffic_output",
    "read_traffic",
    "write_traffic",
]

TrafficFormat = Literal["csv", "jsonl"]
OnError = Literal["fail", "skip"]

#: How many skipped rows a reader keeps for the report (all are counted).
KEPT_SKIPS = 10

_REQUIRED = ("timestamp", "device_id", "code")
_DEVICE_FIELDS = ("manufacturer", "model", "firmware")
_GZIP_MAGIC = b"\x1f\x8b"


@attrs.frozen(slots=True)
class SkippedRow:
    """A row left out of a replay with ``on_error="skip"``, and why."""

    source: str
    line: int
    field: str
    problem: str
    value: str
    """The offending value, as ``repr`` shows it (truncated to 60 characters)."""

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.problem}, got {self.value}"


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format_for(name: str) -> TrafficFormat | None:
    lower = name.lower().removesuffix(".gz")
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def _parse_time_text(text: str) -> int | float | datetime:
    """Epoch seconds (int or float text) or ISO 8601; the Alert checks the range and offset."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidAlertError(
            "timestamp", text, "must be epoch seconds or ISO 8601 with a UTC offset"
        ) from None


def _time_from_text(text: str) -> int | float:
    """Epoch seconds from an ISO 8601 CSV cell, checked as an Alert would check them."""
    return parse_timestamp(_parse_time_text(text))


def _csv_record(text: str, rest: Iterable[str]) -> list[str]:
    """The cells of one CSV record starting with line ``text`` (quoting as csv reads it)."""
    return next(csv.reader(itertools.chain((text,), rest)), [])


_UNKNOWN: Any = object()
#: Distinct device-id spellings a reader remembers (one entry per device, not per row).
_DEVICE_CACHE = 1 << 20
#: Distinct rows (less their timestamp) a CSV reader remembers: about one per device,
#: code and recipient list; some 200 bytes each, so at most about 30 MB.
_ROW_CACHE = 1 << 17
#: A CSV row's cells other than the timestamp, parsed: device id, code, recipients, make.
_Cells = tuple[str, int, tuple[str, ...], DeviceInfo | None]


def _binary_input(source: str | os.PathLike[str] | IO[bytes]) -> IO[bytes]:
    """Open ``source`` for binary reading, un-gzipping it when it starts with gzip's magic."""
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
        return cast("IO[bytes]", gzip.GzipFile(fileobj=buffered, mode="rb"))
    return cast("IO[bytes]", buffered)


class TrafficReader:
    """Stream the alerts of one traffic file (CSV or JSON Lines, optionally gzipped).

    Iterate it once to get :class:`Alert` objects in file order. Afterwards
    (or during) ``rows`` counts the rows read, ``skipped`` the rows left out
    (``on_error="skip"``), ``skipped_rows`` keeps the first
    :data:`KEPT_SKIPS` of them, and ``devices`` maps device ids to the
    :class:`DeviceInfo` last given for them. ``format=None`` picks the format
    from the file name (``.csv``, ``.jsonl``, ``.ndjson``; ``.gz`` after it
    is allowed) or else from the first character of the data (``{`` for
    JSON Lines).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        format: TrafficFormat | None = None,
        on_error: OnError = "fail",
        name: str | None = None,
    ) -> None:
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error: must be 'fail' or 'skip', got {on_error!r}")
        if format not in (None, "csv", "jsonl"):
            raise ValueError(f"format: must be 'csv', 'jsonl' or None, got {format!r}")
        if name is None:
            if isinstance(source, str | os.PathLike):
                name = "<stdin>" if os.fspath(source) == "-" else os.fspath(source)
            else:
                name = getattr(source, "name", "<stream>")
                name = name if isinstance(name, str) else "<stream>"
        self.name: str = name
        self.format: TrafficFormat | None = format if format else _format_for(name)
        self.on_error: OnError = on_error
        self.rows = 0
        self.skipped = 0
        self.skipped_rows: list[SkippedRow] = []
        self.devices: dict[str, DeviceInfo] = {}
        self._source = source
        self._codes: dict[str, int] = {}
        self._device_ids: dict[str, str] = {}
        self._recipients: dict[str, tuple[str, ...]] = {"": ()}
        self._infos: dict[tuple[str, str, str], DeviceInfo | None] = {}
        self._started = False

    def __iter__(self) -> Iterator[Alert]:
        if self._started:
            raise RuntimeError(f"{self.name}: a TrafficReader can be iterated only once")
        self._started = True
        binary = _binary_input(self._source)
        owned = isinstance(self._source, str | os.PathLike) and os.fspath(self._source) != "-"
        try:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            first = text.readline()
            fmt = self.format
            if fmt is None:
                fmt = "jsonl" if first.lstrip().startswith("{") else "csv"
                self.format = fmt
            lines = itertools.chain((first,), text)
            if fmt == "csv":
                yield from self._read_csv(lines)
            else:
                yield from self._read_jsonl(lines)
        finally:
            if owned:
                binary.close()

    # -- errors -----------------------------------------------------------------------

    def _bad(self, line: int, field: str, value: object, problem: str) -> None:
        """Fail with ``file:line: field: problem`` or count the row as skipped."""
        if self.on_error == "fail":
            raise TrafficError(self.name, line, field, value, problem)
        self.skipped += 1
        if len(self.skipped_rows) < KEPT_SKIPS:
            self.skipped_rows.append(SkippedRow(self.name, line, field, problem, _shorten(value)))

    # -- field caches -----------------------------------------------------------------

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
            cached = tuple(part.strip() for part in text.split(";"))
            if not all(cached):
                raise InvalidAlertError("recipients", text, "must be ';'-separated non-empty names")
            if len(self._recipients) < 4096:
                self._recipients[text] = cached
        return cached

    def _device_info(self, cells: tuple[str, str, str]) -> DeviceInfo | None:
        """The make in ``cells`` (manufacturer, model, firmware), None when all are empty."""
        info = self._infos.get(cells, _UNKNOWN)
        if info is _UNKNOWN:
            parts = [cell.strip() or None for cell in cells]
            info = None if parts == [None, None, None] else DeviceInfo(*parts)
            if len(self._infos) < 4096:
                self._infos[cells] = info
        return cast("DeviceInfo | None", info)

    # -- CSV ----------------------------------------------------------------------------

    def _read_csv(self, lines: Iterable[str]) -> Iterator[Alert]:
        source = iter(lines)
        header_line = next(source, "")
        if not header_line:
            return
        header = _csv_record(header_line, source)
        columns = [name.strip().lower() for name in header]
        missing = [name for name in _REQUIRED if name not in columns]
        if missing:
            # A header without the required columns makes every row meaningless.
            raise TrafficError(
                self.name,
                1,
                "header",
                ",".join(header),
                f"must name the columns {', '.join(_REQUIRED)} (missing {', '.join(missing)})",
            )
        i_time, i_device, i_code = (columns.index(name) for name in _REQUIRED)
        i_recipients = columns.index("recipients") if "recipients" in columns else -1
        width = len(columns)
        # Absent make columns read as the empty cell appended to every row.
        pad = any(name not in columns for name in _DEVICE_FIELDS)
        device_cells = operator.itemgetter(
            *(columns.index(n) if n in columns else width for n in _DEVICE_FIELDS)
        )
        has_info = any(name in columns for name in _DEVICE_FIELDS)
        recipients_get = self._recipients.get
        codes_get = self._codes.get
        infos_get = self._infos.get
        devices = self.devices
        bad = self._bad
        # The cells are parsed above; from_parsed checks them without converting again.
        new_alert = Alert.from_parsed
        device_ids = self._device_ids
        device_ids_get = device_ids.get
        # Rows repeat: a device sends the same code to the same recipients again and
        # again, and only the timestamp differs. With the timestamp first, the rest of an
        # unquoted line (line ending included) is a key to its cells, parsed and checked
        # the first time. Only rows that read cleanly are remembered, so a hit is a row
        # that has the header's width and good cells; just its timestamp is left to read.
        remember = i_time == 0
        remembered: dict[str, _Cells] = {}
        remembered_get = remembered.get
        rows = self.rows
        number = 1
        try:
            for line in source:
                number += 1
                line_number = number
                cells: _Cells | None = None
                unquoted = '"' not in line
                if remember and unquoted:
                    stamp, _, rest = line.partition(",")
                    cells = remembered_get(rest)
                if cells is None:
                    if not unquoted:
                        # Quoted cells may hold commas and even line breaks: let csv read them.
                        while line.count('"') % 2:
                            more = next(source, None)
                            if more is None:
                                break
                            line += more
                            number += 1
                        row = _csv_record(line, ())
                    else:
                        row = line.rstrip("\r\n").split(",")
                    if len(row) != width:
                        if len(row) <= 1 and not "".join(row).strip():
                            continue  # a blank line is not a row
                        rows += 1
                        problem = f"has {len(row)} fields, the header {width}"
                        bad(line_number, "row", line.rstrip("\r\n"), problem)
                        continue
                    try:
                        text = row[i_code]
                        code = codes_get(text, -1)
                        if code < 0:
                            code = self._code(text)
                        if i_recipients >= 0:
                            text = row[i_recipients]
                            recipients = recipients_get(text)
                            if recipients is None:
                                recipients = self._recipient_list(text)
                        else:
                            recipients = ()
                        text = row[i_device]
                        device_id = device_ids_get(text)
                        if device_id is None:
                            device_id = parse_device_id(text)
                            if len(device_ids) < _DEVICE_CACHE:
                                device_ids[text] = device_id
                        info = None
                        if has_info:
                            if pad:
                                row.append("")
                            key = device_cells(row)
                            info = infos_get(key, _UNKNOWN)
                            if info is _UNKNOWN:
                                info = self._device_info(key)
                    except InvalidAlertError as exc:
                        rows += 1
                        bad(line_number, exc.field, exc.value, exc.problem)
                        continue
                    cells = (device_id, code, recipients, info)
                    stamp = row[i_time]
                    if remember and unquoted and len(remembered) < _ROW_CACHE:
                        remembered[rest] = cells
                else:
                    device_id, code, recipients, info = cells
                rows += 1
                if stamp.isdecimal():
                    timestamp: int | float = int(stamp)
                else:
                    try:
                        try:
                            timestamp = float(stamp)
                        except ValueError:
                            timestamp = _time_from_text(stamp)
                    except InvalidAlertError as exc:
                        bad(line_number, exc.field, exc.value, exc.problem)
                        continue
                try:
                    # Checks the time's bounds (NaN, negative, milliseconds...) too.
                    alert = new_alert(timestamp, device_id, code, recipients)
                except InvalidAlertError as exc:
                    bad(line_number, exc.field, stamp, exc.problem)  # the cell as written
                    continue
                if info is not None:
                    devices[device_id] = info
                yield alert
        finally:
            self.rows = rows

    # -- JSON Lines ---------------------------------------------------------------------

    def _read_jsonl(self, lines: Iterable[str]) -> Iterator[Alert]:
        bad = self._bad
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            self.rows += 1
            try:
                row = json.loads(line)
            except ValueError as exc:
                bad(number, "row", line.strip(), f"is not JSON ({exc.args[0]})")
                continue
            if not isinstance(row, dict):
                bad(number, "row", row, "must be a JSON object")
                continue
            try:
                alert = self._json_alert(row)
            except InvalidAlertError as exc:
                bad(number, exc.field, exc.value, exc.problem)
                continue
            yield alert

    def _json_alert(self, row: Mapping[str, Any]) -> Alert:
        for name in _REQUIRED:
            if name not in row:
                raise InvalidAlertError(name, None, "is required")
        stamp = row["timestamp"]
        if type(stamp) is str:
            stamp = _parse_time_text(stamp)
        recipients = row.get("recipients")
        if recipients is None:
            recipients = ()
        alert = Alert(stamp, row["device_id"], self._code(row["code"]), recipients)
        parts = []
        for name in _DEVICE_FIELDS:
            value = row.get(name)
            if value is not None and type(value) is not str:
                raise InvalidAlertError(name, value, "must be a str or null")
            parts.append(value or "")
        info = self._device_info(tuple(parts))  # type: ignore[arg-type]
        if info is not None:
            self.devices[alert.device_id] = info
        return alert


def read_traffic(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    format: TrafficFormat | None = None,
    on_error: OnError = "fail",
) -> TrafficReader:
    """A :class:`TrafficReader` over ``source``: iterate it for the alerts."""
    return TrafficReader(source, format=format, on_error=on_error)


def open_traffic_output(path: str | os.PathLike[str]) -> IO[str]:
    """Open ``path`` for writing text, gzip-compressed when it ends in ``.gz``; ``-`` is stdout."""
    name = os.fspath(path)
    if name == "-":
        return sys.stdout
    if name.endswith(".gz"):
        # mtime=0 keeps the compressed bytes of a seeded scenario reproducible.
        raw = gzip.GzipFile(name, mode="wb", mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(name, "w", encoding="utf-8", newline="")


def _time_text(timestamp: int | float) -> str:
    return str(timestamp) if type(timestamp) is int else repr(timestamp)


def write_traffic(
    alerts: Iterable[Alert],
    out: IO[str],
    *,
    format: TrafficFormat = "csv",
    devices: Mapping[str, DeviceInfo] | None = None,
) -> int:
    """Write ``alerts`` to ``out`` as CSV or JSON Lines, one row each; return the row count.

    With ``devices``, the ``manufacturer, model, firmware`` columns are written
    too (empty, or ``null``, for devices it does not know).
    """
    if format not in ("csv", "jsonl"):
        raise ValueError(f"format: must be 'csv' or 'jsonl', got {format!r}")
    count = 0
    write = out.write
    empty = DeviceInfo()
    if format == "csv":
        quote = _csv_field
        write("timestamp,device_id,code,recipients")
        write(",manufacturer,model,firmware\n" if devices is not None else "\n")
        for alert in alerts:
            line = (
                f"{_time_text(alert.timestamp)},{alert.device_id},"
                f"{format_code(alert.code)},{quote(';'.join(alert.recipients))}"
            )
            if devices is not None:
                info = devices.get(alert.device_id, empty)
                line += (
                    f",{quote(info.manufacturer or '')},{quote(info.model or '')},"
                    f"{quote(info.firmware or '')}"
                )
            write(line + "\n")
            count += 1
        return count
    for alert in alerts:
        row: dict[str, object] = {
            "timestamp": alert.timestamp,
            "device_id": alert.device_id,
            "code": format_code(alert.code),
            "recipients": list(alert.recipients),
        }
        if devices is not None:
            info = devices.get(alert.device_id, empty)
            row["manufacturer"] = info.manufacturer
            row["model"] = info.model
            row["firmware"] = info.firmware
        write(json.dumps(row, separators=(",", ":")) + "\n")
        count += 1
    return count


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def merge_traffic(*streams: Iterable[Alert]) -> Iterator[Alert]:
    """Merge time-ordered alert streams (several files) into one, lazily, by timestamp."""
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=lambda alert: alert.timestamp)
