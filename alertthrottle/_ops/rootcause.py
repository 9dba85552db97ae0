"""Root-cause reports: which manufacturer / model / firmware combinations cause the storms.

Throttling treats the symptom; respondents asked for reporting that would
"pro-actively identify the manufacturer/model/firmware combinations" behind
alert storms so that they get fixed. :func:`root_cause_report` replays traffic
through a policy and ranks, for each alert code, the device makes by alerts
throttled, then episodes, then devices affected. :func:`root_cause_csv` and
:func:`root_cause_json` write the report; :func:`load_device_registry` reads
a ``device_id,manufacturer,model,firmware`` file for traffic that does not
carry the make itself.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._core.alert import Alert, DeviceInfo, format_code, parse_device_id
from .._core.config import PolicyConfig
from .._core.decision import Verdict
from .._core.errors import AlertThrottleError, PolicyError, TrafficError
from .._core.events import ThrottlingStarted
from .._engine.policy import ThrottlePolicy

__all__ = [
    "CSV_FIELDS",
    "RootCauseReport",
    "RootCauseRow",
    "load_device_registry",
    "root_cause_csv",
    "root_cause_json",
    "root_cause_report",
]

#: The columns of :func:`root_cause_csv`, in order.
CSV_FIELDS = (
    "code",
    "rank",
    "manufacturer",
    "model",
    "firmware",
    "throttled",
    "throttled_share",
    "episodes",
    "devices_affected",
    "devices",
    "alerts",
)
_REGISTRY_COLUMNS = ("device_id", "manufacturer", "model", "firmware")
_UNKNOWN = DeviceInfo()
_Make = tuple[str | None, str | None, str | None]


@attrs.frozen(slots=True, kw_only=True)
class RootCauseRow:
    """One device make's share of one alert code's storms.

    ``devices`` sent the code at all, ``devices_affected`` had at least one
    episode of it; ``throttled_share`` is this make's part (0..1) of all the
    code's throttled alerts. ``None`` parts of the make are unknown.
    """

    code: int
    rank: int
    manufacturer: str | None
    model: str | None
    firmware: str | None
    throttled: int
    throttled_share: float
    episodes: int
    devices_affected: int
    devices: int
    alerts: int

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data, the code as four hex digits."""
        data = attrs.asdict(self)
        data["code"] = format_code(self.code)
        return data


@attrs.frozen(slots=True, kw_only=True)
class RootCauseReport:
    """The ranked rows of every alert code, codes with the most alerts throttled first."""

    config: PolicyConfig
    rows: tuple[RootCauseRow, ...]
    alerts: int
    throttled: int
    episodes: int
    devices: int

    def codes(self) -> list[int]:
        """The alert codes in report order."""
        return list(dict.fromkeys(row.code for row in self.rows))

    def for_code(self, code: int) -> list[RootCauseRow]:
        """The rows of one code, best-ranked (worst offender) first."""
        return [row for row in self.rows if row.code == code]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data: totals, then each code with its ranked makes."""
        codes = []
        for code in self.codes():
            rows = self.for_code(code)
            codes.append(
                {
                    "code": format_code(code),
                    "alerts": sum(row.alerts for row in rows),
                    "throttled": sum(row.throttled for row in rows),
                    "episodes": sum(row.episodes for row in rows),
                    "makes": [row.as_dict() for row in rows],
                }
            )
        return {
            "policy": self.config.as_dict(),
            "totals": {
                "alerts": self.alerts,
                "throttled": self.throttled,
                "episodes": self.episodes,
                "devices": self.devices,
            },
            "codes": codes,
        }


class _Tally:
    __slots__ = ("affected", "alerts", "devices", "episodes", "throttled")

    def __init__(self) -> None:
        self.alerts = 0
        self.throttled = 0
        self.episodes = 0
        self.devices: set[str] = set()
        self.affected: set[str] = set()


def _merge(given: DeviceInfo, known: DeviceInfo | None) -> DeviceInfo:
    """The alert's own make, field by field, with the registry filling what it leaves out."""
    if known is None or None not in (given.manufacturer, given.model, given.firmware):
        return given
    return DeviceInfo(
        given.manufacturer if given.manufacturer is not None else known.manufacturer,
        given.model if given.model is not None else known.model,
        given.firmware if given.firmware is not None else known.firmware,
    )


def _order(value: str | None) -> tuple[bool, str]:
    # Unknown parts sort after every known one.
    return (value is None, value or "")


def root_cause_report(
    records: Iterable[tuple[Alert, DeviceInfo | None] | Alert],
    policy: PolicyConfig | ThrottlePolicy,
    devices: Mapping[str, DeviceInfo] | None = None,
) -> RootCauseReport:
    """Replay ``records`` through ``policy`` and rank device makes per alert code.

    ``records`` are alerts, or ``(alert, make)`` pairs with the make the
    traffic gave (``None`` if none). ``policy`` is a configuration (a fresh
    :class:`ThrottlePolicy` is made with ``late="clamp"``) or a policy to feed
    as it is, e.g. one with a capacity guard. A make comes from the record,
    field by field, then from ``devices`` (keyed by canonical device id,
    looked up as the replay goes), else it is unknown. An episode counts for
    the make of the alert that started it. Memory: one entry per make and
    code, and the device ids in it.
    """
    if isinstance(policy, PolicyConfig):
        policy = ThrottlePolicy(policy)
    elif not isinstance(policy, ThrottlePolicy):
        raise PolicyError("policy", policy, "must be a PolicyConfig or a ThrottlePolicy")
    if devices is not None and not isinstance(devices, Mapping):
        raise PolicyError("devices", devices, "must map device ids to DeviceInfo")
    registry: Mapping[str, DeviceInfo] = devices if devices is not None else {}
    tallies: dict[tuple[_Make, int], _Tally] = {}
    all_devices: set[str] = set()
    alerts = throttled = episodes = 0
    feed = policy.feed
    for record in records:
        if type(record) is Alert:
            alert, given = record, None
        else:
            alert, given = record  # type: ignore[misc]
        device_id = alert.device_id
        known = registry.get(device_id)
        info = known if given is None else _merge(given, known)
        if info is None:
            info = _UNKNOWN
        decision = feed(alert)
        key = ((info.manufacturer, info.model, info.firmware), alert.code)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        tally.alerts += 1
        tally.devices.add(device_id)
        all_devices.add(device_id)
        alerts += 1
        if decision.verdict is Verdict.THROTTLE:
            tally.throttled += 1
            throttled += 1
            events = decision.events
            if events and type(events[-1]) is ThrottlingStarted:
                tally.episodes += 1
                tally.affected.add(device_id)
                episodes += 1
    return RootCauseReport(
        config=policy.config,
        rows=_ranked(tallies),
        alerts=alerts,
        throttled=throttled,
        episodes=episodes,
        devices=len(all_devices),
    )


def _ranked(tallies: dict[tuple[_Make, int], _Tally]) -> tuple[RootCauseRow, ...]:
    by_code: dict[int, list[tuple[_Make, _Tally]]] = {}
    for (make, code), tally in tallies.items():
        by_code.setdefault(code, []).append((make, tally))

    def code_order(code: int) -> tuple[int, int, int]:
        group = by_code[code]
        return (-sum(t.throttled for _, t in group), -sum(t.alerts for _, t in group), code)

    rows: list[RootCauseRow] = []
    for code in sorted(by_code, key=code_order):
        group = by_code[code]
        total = sum(t.throttled for _, t in group)
        group.sort(
            key=lambda item: (
                -item[1].throttled,
                -item[1].episodes,
                -len(item[1].affected),
                -item[1].alerts,
                *(_order(part) for part in item[0]),
            )
        )
        for rank, (make, tally) in enumerate(group, 1):
            rows.append(
                RootCauseRow(
                    code=code,
                    rank=rank,
                    manufacturer=make[0],
                    model=make[1],
                    firmware=make[2],
                    throttled=tally.throttled,
                    throttled_share=round(tally.throttled / total, 4) if total else 0.0,
                    episodes=tally.episodes,
                    devices_affected=len(tally.affected),
                    devices=len(tally.devices),
                    alerts=tally.alerts,
                )
            )
    return tuple(rows)


def root_cause_csv(report: RootCauseReport) -> str:
    """The report as CSV, one row per code and make (unknown parts empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in report.rows:
        data = row.as_dict()
        writer.writerow(["" if data[name] is None else data[name] for name in CSV_FIELDS])
    return out.getvalue()


def root_cause_json(report: RootCauseReport, *, indent: int | None = 2) -> str:
    """The report as JSON (``RootCauseReport.as_dict``; unknown parts ``null``)."""
    return json.dumps(report.as_dict(), indent=indent)


def load_device_registry(path: str | os.PathLike[str]) -> dict[str, DeviceInfo]:
    """Read a devices CSV (``device_id,manufacturer,model,firmware``) into a registry.

    The header names the columns; all but ``device_id`` may be left out, and
    empty cells are unknown. Device ids are normalised to the canonical
    EUI-64. A bad row, an unknown column or a device listed twice with two
    makes raises :class:`TrafficError` saying ``file:line``.
    """
    name = os.fspath(path)
    registry: dict[str, DeviceInfo] = {}
    with open(name, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            raise TrafficError(name, 1, "header", None, "is missing: the file is empty")
        columns = [cell.strip() for cell in header]
        for column in columns:
            if column not in _REGISTRY_COLUMNS:
                raise TrafficError(
                    name, 1, "header", column, f"unknown column; use {list(_REGISTRY_COLUMNS)}"
                )
        if "device_id" not in columns or len(set(columns)) != len(columns):
            raise TrafficError(
                name, 1, "header", header, "must name device_id once, and each column once"
            )
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
