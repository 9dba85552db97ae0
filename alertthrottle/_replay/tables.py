"""From a replay's counts to one policy's :class:`PolicyReport`.

The replay loop counts, per hour and (code, recipients), each policy's
verdicts, and per device what it sent and what each policy held back; the
per-code, per-recipient, per-day, per-hour, per-device and per-make tables
are all derived here, once, at the end.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable, Mapping
from itertools import repeat

from .._core.alert import DeviceInfo, format_code
from .._core.decision import Stats
from .._core.events import CapacityLevel, LevelChanged
from .._core.makes import UNKNOWN_MAKE
from .._core.timefmt import DAY, HOUR, day_text
from .._ops.incidents import UNROUTED, incident_counts
from .lane import Cell, Lane
from .report import (
    CapacityReport,
    DeviceRow,
    FlowRow,
    HourRow,
    IncidentCounts,
    MakeRow,
    Notifications,
    PolicyReport,
    Totals,
)

__all__ = ["Counts", "DeviceCounts", "HourRows", "policy_report"]

# An hour's counts, keyed by (code, recipients): per key one row holding, for each
# policy i, its DELIVER, THROTTLE and EXEMPT counts at 3 * i, 3 * i + 1 and 3 * i + 2.
HourRows = dict[tuple[int, tuple[str, ...]], list[int]]
# Per device: alerts offered, then alerts throttled by each policy.
DeviceCounts = dict[str, list[int]]
# A (name, day) table of offered, delivered, throttled, exempt, episodes.
_Flow = dict[tuple[str, int], list[int]]


class Counts:
    """What the replay loop counted, shared by every policy's report."""

    __slots__ = ("devices", "first", "hours", "last")

    def __init__(self) -> None:
        self.hours: dict[int, HourRows] = {}
        self.devices: DeviceCounts = {}
        self.first: float | None = None
        self.last: float | None = None


def policy_report(
    counts: Counts,
    index: int,
    lane: Lane,
    infos: Mapping[str, DeviceInfo],
    *,
    skipped: int,
    busiest: int,
) -> PolicyReport:
    """The report of the policy whose counts are at ``index`` in the rows."""
    stats = lane.policy.stats
    cells = _cells(counts.hours, index, lane.episodes)
    by_code, by_recipient, hourly = _flows(cells)
    return PolicyReport(
        policy=lane.spec,
        totals=_totals(stats, skipped),
        by_code=by_code,
        by_recipient=by_recipient,
        notifications=_notifications(stats, lane),
        busiest=_busiest(counts.devices, busiest, index, lane, infos),
        by_make=_makes(counts.devices, index, lane, infos),
        hourly=hourly,
        incidents=_incidents(lane, infos),
        capacity=_capacity(lane, counts.first, counts.last),
    )


def _totals(stats: Stats, skipped: int) -> Totals:
    return Totals(
        alerts=stats.total,
        delivered=stats.delivered,
        throttled=stats.throttled,
        exempt=stats.exempt,
        late=stats.late,
        skipped=skipped,
        episodes=stats.episodes,
        open_episodes=stats.open_episodes,
    )


def _cells(
    hours: dict[int, HourRows], index: int, episodes: Mapping[Cell, int]
) -> dict[Cell, tuple[int, ...]]:
    """Per cell: offered, delivered, throttled, exempt, episodes started.

    An episode's cell is that of its start, which a clamped late alert may put
    in an hour no alert has.
    """
    cells: dict[Cell, tuple[int, ...]] = {}
    first = 3 * index
    for hour, rows in hours.items():
        for (code, recipients), row in rows.items():
            delivered, throttled, exempt = row[first : first + 3]
            offered = delivered + throttled + exempt
            cells[hour, code, recipients] = (offered, delivered, throttled, exempt, 0)
    for cell, started in episodes.items():
        counts = cells.get(cell, (0, 0, 0, 0, 0))
        cells[cell] = (*counts[:4], started)
    return cells


def _flows(
    cells: Mapping[Cell, tuple[int, ...]],
) -> tuple[tuple[FlowRow, ...], tuple[FlowRow, ...], tuple[HourRow, ...]]:
    """The per-code and per-recipient day tables, and the hourly profile."""
    by_code: _Flow = {}
    by_recipient: _Flow = {}
    hours: dict[int, list[int]] = {}
    # Summed per (day, code, recipients) first (a day's hours in one), then shared out.
    days: dict[tuple[int, int, tuple[str, ...]], list[int]] = {}
    for (hour, code, recipients), counts in cells.items():
        key = (hour // 24, code, recipients)
        total = days.get(key)
        days[key] = list(counts) if total is None else list(map(operator.add, total, counts))
        per_hour = hours.get(hour)
        if per_hour is None:
            hours[hour] = [counts[0], counts[2]]
        else:
            per_hour[0] += counts[0]
            per_hour[1] += counts[2]
    codes: dict[int, str] = {}
    for (day, code, recipients), summed in days.items():
        name = codes.get(code)
        if name is None:
            name = codes[code] = format_code(code)
        _add(by_code, (name, day), summed)
        for r in recipients or (UNROUTED,):
            _add(by_recipient, (r, day), summed)
    hourly = tuple(
        HourRow(hour=hour * HOUR, offered=n, received=n - throttled)
        for hour, (n, throttled) in sorted(hours.items())
    )
    return _flow_rows(by_code), _flow_rows(by_recipient), hourly


def _add(table: _Flow, key: tuple[str, int], counts: list[int]) -> None:
    """Add ``counts`` to the row of ``key`` in ``table``."""
    row = table.get(key)
    table[key] = counts if row is None else list(map(operator.add, row, counts))


def _flow_rows(table: _Flow) -> tuple[FlowRow, ...]:
    """The table's rows, by day then name."""
    return tuple(
        FlowRow(
            key=name,
            day=day_text(day * DAY),
            offered=c[0],
            delivered=c[1],
            throttled=c[2],
            exempt=c[3],
            episodes=c[4],
        )
        for (name, day), c in sorted(table.items(), key=lambda item: (item[0][1], item[0][0]))
    )


def _ranked(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """Most first, then by name."""
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _notifications(stats: Stats, lane: Lane) -> Notifications:
    per_recipient: dict[str, int] = {}
    recipient_days: set[tuple[str, int]] = set()
    for (hour, _, recipients), episodes in lane.episodes.items():
        for r in recipients or (UNROUTED,):
            per_recipient[r] = per_recipient.get(r, 0) + episodes
            recipient_days.add((r, hour // 24))
    return Notifications(
        incidents=stats.episodes,
        emails=stats.episodes,
        device_daily_emails=sum(len(r) or 1 for _, _, r in lane.device_days),
        recipient_daily_emails=len(recipient_days),
        per_recipient=_ranked(per_recipient),
    )


def _busiest(
    devices: DeviceCounts, n: int, index: int, lane: Lane, infos: Mapping[str, DeviceInfo]
) -> tuple[DeviceRow, ...]:
    top = heapq.nlargest(n, devices.items(), key=lambda kv: kv[1][0])
    return tuple(
        DeviceRow(
            device_id=device,
            offered=sent[0],
            throttled=sent[1 + index],
            episodes=lane.device_episodes.get(device, 0),
            info=infos.get(device),
        )
        for device, sent in top
    )


def _makes(
    devices: DeviceCounts, index: int, lane: Lane, infos: Mapping[str, DeviceInfo]
) -> tuple[MakeRow, ...]:
    """Devices, storming devices, alerts and episodes per make (empty without makes)."""
    makes: dict[DeviceInfo, list[int]] = {}
    if infos:
        for info, row in _per_make_object(devices, index, lane, infos):
            total = makes.get(info)
            makes[info] = row if total is None else list(map(operator.add, total, row))
    rows = (
        MakeRow(
            manufacturer=info.manufacturer,
            model=info.model,
            firmware=info.firmware,
            devices=c[0],
            storming=c[1],
            offered=c[2],
            throttled=c[3],
            episodes=c[4],
        )
        for info, c in makes.items()
    )
    return tuple(sorted(rows, key=lambda row: (-row.episodes, -row.offered)))


def _per_make_object(
    devices: DeviceCounts, index: int, lane: Lane, infos: Mapping[str, DeviceInfo]
) -> Iterable[tuple[DeviceInfo, list[int]]]:
    """Per make object, in the order of its first device: devices, storming devices,
    alerts offered and throttled, episodes.

    Keyed by identity (a reader shares its make objects; a DeviceInfo hashes in
    Python): equal makes from a registry are added up by the caller. Each
    device's counts are only put in their make's list; the sums are taken in C.
    """
    groups: dict[int, tuple[DeviceInfo, list[list[int]]]] = {}
    makes = map(infos.get, devices, repeat(UNKNOWN_MAKE))
    for info, sent in zip(makes, devices.values(), strict=True):
        group = groups.get(id(info))
        if group is None:
            groups[id(info)] = (info, [sent])
        else:
            group[1].append(sent)
    offered, throttled = operator.itemgetter(0), operator.itemgetter(1 + index)
    counted = {
        key: (info, [len(rows), 0, sum(map(offered, rows)), sum(map(throttled, rows)), 0])
        for key, (info, rows) in groups.items()
    }
    # Only devices that started an episode add to storming devices and episodes.
    for device, episodes in lane.device_episodes.items():
        if device in devices:
            row = counted[id(infos.get(device, UNKNOWN_MAKE))][1]
            row[1] += 1
            row[4] += episodes
    return counted.values()


def _incidents(lane: Lane, infos: Mapping[str, DeviceInfo]) -> tuple[IncidentCounts, ...]:
    """Each strategy's incidents from the lane's episode starts.

    Only starts are needed to count incidents (ends resolve them, they never
    make new ones); the registry is cut down to the devices that stormed.
    """
    stormed = {d: infos[d] for d in lane.device_episodes if d in infos}
    return tuple(
        IncidentCounts(strategy=strategy, incidents=n, per_recipient=_ranked(per_recipient))
        for strategy, (n, per_recipient) in incident_counts(
            lane.started_events, devices=stormed
        ).items()
    )


def _capacity(lane: Lane, first: float | None, last: float | None) -> CapacityReport | None:
    """What the lane's capacity guard did between the first and the last alert."""
    if lane.policy.capacity is None:
        return None
    seconds, level = _time_at_levels(lane.levels, first, last)
    return CapacityReport(
        engage_at=lane.policy.engage_at,
        level_changes=len(lane.levels),
        red_entries=sum(1 for c in lane.levels if c.new is CapacityLevel.RED),
        seconds_amber=round(seconds[CapacityLevel.AMBER], 3),
        seconds_red=round(seconds[CapacityLevel.RED], 3),
        final_level=level,
        peak_window=max((c.window_count for c in lane.levels), default=0),
    )


def _time_at_levels(
    changes: Iterable[LevelChanged], first: float | None, last: float | None
) -> tuple[dict[CapacityLevel, float], CapacityLevel]:
    """Seconds spent at each level, a level still held at ``last`` counting up to it."""
    seconds = dict.fromkeys(CapacityLevel, 0.0)
    level = CapacityLevel.GREEN
    since = first
    for change in changes:
        if since is not None:
            seconds[level] += max(0.0, change.at - since)
        level, since = change.new, change.at
    if since is not None and last is not None:
        seconds[level] += max(0.0, last - since)
    return seconds, level
