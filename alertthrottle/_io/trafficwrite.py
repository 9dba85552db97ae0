"""Traffic written back: CSV or JSON Lines files, gzipped or not, all or nothing.

The writing side of a traffic file, apart from the reader: :func:`write_traffic` writes
alerts as a file a :class:`~.traffic.TrafficReader` reads back exactly (CSV cells guarded
against spreadsheet formulas), :func:`atomic_traffic_output` replaces a file only once it
is whole, and :func:`merge_traffic` merges time-ordered streams into one.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import io
import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, cast

from .._core.alert import Alert, DeviceInfo, format_code
from .._core.errors import InvalidAlertError, PolicyError
from .._core.text import write_csv
from .cells import DEVICE_FIELDS, guard_cell
from .traffic import TrafficFormat
from .trafficerrors import row_error

__all__ = [
    "atomic_traffic_output",
    "merge_traffic",
    "open_traffic_output",
    "write_traffic",
]


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


@contextlib.contextmanager
def atomic_traffic_output(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Write a traffic file all or nothing: to a temporary file beside it, renamed over it.

    Gzip-compressed when ``path`` ends in ``.gz``. If the body raises (or the
    process is interrupted), ``path`` is untouched and the temporary file removed.
    """
    name = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(name))
    temporary = _temporary_beside(folder, base)
    try:
        with open(temporary, "wb") as raw:
            binary: IO[bytes] = raw
            if name.endswith(".gz"):
                # The final name in the gzip header; mtime=0 keeps seeded output reproducible.
                zipped = gzip.GzipFile(filename=base, mode="wb", fileobj=raw, mtime=0)
                binary = cast("IO[bytes]", zipped)
            with io.TextIOWrapper(binary, encoding="utf-8", newline="") as stream:
                yield stream
        os.replace(temporary, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _temporary_beside(folder: str, base: str) -> str:
    """A new empty file in ``folder``, made as ``open`` makes one (mode 0o666 less the umask)."""
    while True:
        # mkstemp would make it 0o600, and the rename would keep that mode.
        temporary = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temporary


def _time_text(timestamp: int | float) -> str:
    return str(timestamp) if type(timestamp) is int else repr(timestamp)


def _csv_rows(
    alerts: Iterable[Alert], devices: Mapping[str, DeviceInfo] | None, counter: list[int]
) -> Iterator[tuple[str, ...]]:
    empty = DeviceInfo()
    for alert in alerts:
        counter[0] += 1
        cells: tuple[str, ...] = (
            _time_text(alert.timestamp), alert.device_id, format_code(alert.code),
            guard_cell(";".join(alert.recipients)),
        )  # fmt: skip
        if devices is not None:
            info = devices.get(alert.device_id, empty)
            cells += tuple(
                guard_cell(part or "") for part in (info.manufacturer, info.model, info.firmware)
            )
        yield cells


def write_traffic(
    alerts: Iterable[Alert],
    out: IO[str],
    *,
    format: TrafficFormat = "csv",
    devices: Mapping[str, DeviceInfo] | None = None,
) -> int:
    """Write ``alerts`` to ``out`` as CSV or JSON Lines, one row each; return the row count.

    With ``devices``, the ``manufacturer, model, firmware`` columns are written
    too (empty, or ``null``, for devices it does not know). CSV cells are made
    spreadsheet-safe: one starting with ``= + - @`` gets a leading ``'``.
    """
    if format not in ("csv", "jsonl"):
        name = getattr(out, "name", "<output>")
        raise row_error(str(name), 0, "format", format, "must be 'csv' or 'jsonl'")
    if not callable(getattr(out, "write", None)):
        raise PolicyError("out", out, "must be a text stream (with a write method)")
    if format == "csv":
        header = ["timestamp", "device_id", "code", "recipients"]
        if devices is not None:
            header += DEVICE_FIELDS
        counter = [0]
        write_csv(out, header, _csv_rows(alerts, devices, counter))
        return counter[0]
    count = 0
    write = out.write
    empty = DeviceInfo()
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


def merge_traffic(*streams: Iterable[Alert]) -> Iterator[Alert]:
    """Merge time-ordered alert streams (several files) into one, lazily, by timestamp."""
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=_time_of)


def _time_of(alert: Alert) -> int | float:
    if type(alert) is not Alert:
        raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
    return alert.timestamp
