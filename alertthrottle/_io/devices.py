"""Device registry files: ``device_id,manufacturer,model,firmware`` CSV read into makes.

For traffic that does not carry the make itself; :mod:`alertthrottle._core.makes`
says how a registry's make and the traffic's are combined.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from .._core.alert import DeviceInfo, parse_device_id
from .._core.errors import AlertThrottleError, TrafficError
from .encoding import BadByte
from .trafficerrors import row_error

__all__ = ["REGISTRY_COLUMNS", "load_device_registry"]

#: The columns a registry file may have; ``device_id`` is required.
REGISTRY_COLUMNS = ("device_id", "manufacturer", "model", "firmware")


def _columns(name: str, header: list[str] | None) -> list[str]:
    """The header's column names, checked."""
    if header is None:
        raise TrafficError(name, 1, "header", None, "is missing: the file is empty")
    columns = [cell.strip() for cell in header]
    for column in columns:
        if column not in REGISTRY_COLUMNS:
            raise TrafficError(
                name, 1, "header", column, f"unknown column; use {list(REGISTRY_COLUMNS)}"
            )
    if "device_id" not in columns or len(set(columns)) != len(columns):
        raise TrafficError(
            name, 1, "header", header, "must name device_id once, and each column once"
        )
    return columns


def load_device_registry(path: str | os.PathLike[str]) -> dict[str, DeviceInfo]:
    """Read a devices CSV (``device_id,manufacturer,model,firmware``) into a registry.

    The header names the columns; all but ``device_id`` may be left out, and
    empty cells are unknown. Device ids are normalised to the canonical
    EUI-64. A bad row, an unknown column or a device listed twice with two
    makes raises :class:`TrafficError` saying ``file:line``.
    """
    name = os.fspath(path)
    with open(name, "rb") as raw:
        data = raw.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = BadByte(data, exc)
        raise row_error(
            name, bad.line, "row", bad.row.decode("utf-8", "surrogateescape"),
            f"has a byte that is not UTF-8 (0x{bad.byte:02X} at character {bad.column}); "
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None  # fmt: skip
    return _registry(name, csv.reader(io.StringIO(text, newline="")))


def _registry(name: str, reader: Any) -> dict[str, DeviceInfo]:
    """The makes of a registry file ``name`` read by the csv ``reader``."""
    registry: dict[str, DeviceInfo] = {}
    columns = _columns(name, next(reader, None))
    for cells in reader:
        line = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            raise TrafficError(
                name, line, "row", cells, f"must have {len(columns)} cells like the header"
            )
        row = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
        try:
            device_id = parse_device_id(row["device_id"])
            info = DeviceInfo(
                row.get("manufacturer") or None,
                row.get("model") or None,
                row.get("firmware") or None,
            )
        except AlertThrottleError as exc:
            raise TrafficError(name, line, exc.field, exc.value, exc.problem) from None
        if registry.get(device_id, info) != info:
            raise TrafficError(
                name, line, "device_id", device_id, "is listed twice with different makes"
            )
        registry[device_id] = info
    return registry
