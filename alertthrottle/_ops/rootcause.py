"""Root-cause reports: which manufacturer / model / firmware combinations cause the storms.

Throttling treats the symptom; respondents asked for reporting that would
"pro-actively identify the manufacturer/model/firmware combinations" behind
alert storms so that they get fixed. A :class:`RootCauseTally` counts a
replay's decisions by make and alert code (``root_cause_report`` runs the
replay) and ranks, for each code, the makes by alerts throttled, then
episodes, then devices affected. :func:`root_cause_csv` and
:func:`root_cause_json` write the report.
"""

from __future__ import annotations

import io
import json
from typing import Any

import attrs

from .._core.alert import Alert, DeviceInfo, format_code
from .._core.config import PolicyConfig
from .._core.decision import Decision, Verdict
from .._core.errors import PolicyError
from .._core.events import ThrottlingStarted
from .._core.text import write_csv

__all__ = [
    "CSV_FIELDS",
    "RootCauseReport",
    "RootCauseRow",
    "RootCauseTally",
    "root_cause_csv",
    "root_cause_json",
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


def _order(value: str | None) -> tuple[bool, str]:
    # Unknown parts sort after every known one.
    return (value is None, value or "")


class RootCauseTally:
    """Counts decisions by device make and alert code, for a :class:`RootCauseReport`.

    The replay feeds the policy; this is told each alert, its device's make
    and the decision. An episode counts for the make of the alert that
    started it. Memory: one entry per make and code, and the device ids in it.
    """

    __slots__ = ("_devices", "_tallies", "alerts", "episodes", "throttled")

    def __init__(self) -> None:
        self._tallies: dict[tuple[_Make, int], _Tally] = {}
        self._devices: set[str] = set()
        self.alerts = self.throttled = self.episodes = 0

    def count(self, alert: Alert, make: DeviceInfo, decision: Decision) -> None:
        """Account for one decided alert of a device of ``make``."""
        device_id = alert.device_id
        key = ((make.manufacturer, make.model, make.firmware), alert.code)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally()
        tally.alerts += 1
        tally.devices.add(device_id)
        self._devices.add(device_id)
        self.alerts += 1
        if decision.verdict is Verdict.THROTTLE:
            tally.throttled += 1
            self.throttled += 1
            events = decision.events
            if events and type(events[-1]) is ThrottlingStarted:
                tally.episodes += 1
                tally.affected.add(device_id)
                self.episodes += 1

    def report(self, config: PolicyConfig) -> RootCauseReport:
        """The ranked report of everything counted, under ``config``."""
        return RootCauseReport(
            config=config,
            rows=_ranked(self._tallies),
            alerts=self.alerts,
            throttled=self.throttled,
            episodes=self.episodes,
            devices=len(self._devices),
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
    _check_report(report)
    out = io.StringIO()
    rows = (row.as_dict() for row in report.rows)
    write_csv(out, CSV_FIELDS, ([data[name] for name in CSV_FIELDS] for data in rows))
    return out.getvalue()


def root_cause_json(report: RootCauseReport, *, indent: int | None = 2) -> str:
    """The report as JSON (``RootCauseReport.as_dict``; unknown parts ``null``)."""
    _check_report(report)
    if indent is not None and (type(indent) is not int or not 0 <= indent <= 16):
        raise PolicyError("indent", indent, "must be None or an int in 0..16")
    return json.dumps(report.as_dict(), indent=indent)


def _check_report(report: object) -> None:
    if not isinstance(report, RootCauseReport):
        raise PolicyError("report", type(report).__name__, "must be a RootCauseReport")
