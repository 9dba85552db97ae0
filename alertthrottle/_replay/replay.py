"""What-if replay: feed alert traffic through one or more policies and account for everything.

:func:`simulate` reads the alerts once and feeds each to every policy, so
policies compared side by side see exactly the same traffic. The
:class:`Report` it returns holds plain, frozen values: totals that equal the
policies' own :class:`Stats`, offered vs delivered per code and per recipient
per day, what DCC-style notifications would cost, the busiest devices, the
device makes that storm, the hourly profile, how many incidents each recipient
would get under each incident strategy, and, for a policy with a capacity
guard, its level changes. Days and hours are UTC.

Given ``candidates``, the first policy runs as the live one inside a
:class:`ShadowPolicy` and the report carries its :class:`ShadowComparison`:
what each candidate configuration would have done to the same alerts.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from .._core.alert import Alert, DeviceInfo, format_code
from .._core.decision import Verdict
from .._core.errors import PolicyError
from .._core.events import CapacityLevel, Event, LevelChanged, ThrottlingStarted
from .._io.policyfile import PolicySpec
from .._io.traffic import SkippedRow
from .._ops.incidents import INCIDENT_STRATEGIES, IncidentBook, IncidentStrategy
from .._ops.shadow import ShadowComparison, ShadowPolicy

__all__ = [
    "CapacityReport",
    "DeviceRow",
    "FlowRow",
    "HourRow",
    "IncidentCounts",
    "MakeRow",
    "Notifications",
    "PolicyReport",
    "Replay",
    "Report",
    "Totals",
    "simulate",
]

_DAY = 86_400
_HOUR = 3600
#: Label of alerts addressed to nobody in the per-recipient table.
NO_RECIPIENT = "(none)"
#: How often (in alerts) a replay reports progress.
PROGRESS_EVERY = 1 << 16


def _day_text(day: int) -> str:
    return datetime.fromtimestamp(day * _DAY, UTC).date().isoformat()


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


@attrs.frozen(slots=True, kw_only=True)
class Totals:
    """A policy's totals over a replay: ``delivered + throttled + exempt == alerts``.

    ``late`` alerts are counted in the others too; ``skipped`` rows never
    reached the policy; ``episodes`` started, ``open_episodes`` of them were
    still open at the last alert.
    """

    alerts: int
    delivered: int
    throttled: int
    exempt: int
    late: int
    skipped: int
    episodes: int
    open_episodes: int

    @property
    def suppression(self) -> float:
        """Percent of the alerts held back."""
        return _percent(self.throttled, self.alerts)

    def as_dict(self) -> dict[str, int | float]:
        return {**attrs.asdict(self), "suppression_pct": self.suppression}


@attrs.frozen(slots=True, kw_only=True)
class FlowRow:
    """Offered vs delivered for one alert code (or one recipient) on one UTC day.

    ``delivered`` counts DELIVER verdicts (samples included) and ``exempt``
    the exempt alerts, which reach the recipients too; ``episodes`` counts
    the throttling episodes started that day.
    """

    key: str
    day: str
    offered: int
    delivered: int
    throttled: int
    exempt: int
    episodes: int

    @property
    def received(self) -> int:
        """What reached the recipients: delivered and exempt alerts."""
        return self.delivered + self.exempt

    @property
    def suppression(self) -> float:
        """Percent of the offered alerts held back."""
        return _percent(self.throttled, self.offered)

    def as_dict(self) -> dict[str, object]:
        return {**attrs.asdict(self), "suppression_pct": self.suppression}


@attrs.frozen(slots=True, kw_only=True)
class DeviceRow:
    """One of the busiest devices: what it sent, what was held back, and its make."""

    device_id: str
    offered: int
    throttled: int
    episodes: int
    info: DeviceInfo | None

    @property
    def suppression(self) -> float:
        return _percent(self.throttled, self.offered)

    def as_dict(self) -> dict[str, object]:
        info = self.info or DeviceInfo()
        return {
            "device_id": self.device_id,
            "offered": self.offered,
            "throttled": self.throttled,
            "suppression_pct": self.suppression,
            "episodes": self.episodes,
            "manufacturer": info.manufacturer,
            "model": info.model,
            "firmware": info.firmware,
        }


@attrs.frozen(slots=True, kw_only=True)
class MakeRow:
    """Alerts and episodes of one manufacturer/model/firmware: where storms come from."""

    manufacturer: str | None
    model: str | None
    firmware: str | None
    devices: int
    storming: int
    """Devices of this make that started at least one episode."""
    offered: int
    throttled: int
    episodes: int

    def as_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


@attrs.frozen(slots=True, kw_only=True)
class HourRow:
    """One UTC hour: alerts offered, and how many reached the recipients."""

    hour: int
    """Start of the hour, epoch seconds."""
    offered: int
    received: int

    @property
    def label(self) -> str:
        return datetime.fromtimestamp(self.hour, UTC).strftime("%Y-%m-%d %H:00")

    def as_dict(self) -> dict[str, object]:
        return {"hour": self.label, "offered": self.offered, "received": self.received}


@attrs.frozen(slots=True, kw_only=True)
class Notifications:
    """What telling people about episodes would cost, three ways.

    ``incidents`` and ``emails``: the DCC proposal, one incident and one
    e-mail per episode start. ``device_daily_emails``: one e-mail per device,
    recipient and day with an episode (the revised proposal).
    ``recipient_daily_emails``: one digest per recipient and day with an
    episode. ``per_recipient``: episodes (incidents) per recipient.
    """

    incidents: int
    emails: int
    device_daily_emails: int
    recipient_daily_emails: int
    per_recipient: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "incidents": self.incidents,
            "emails": self.emails,
            "device_daily_emails": self.device_daily_emails,
            "recipient_daily_emails": self.recipient_daily_emails,
            "per_recipient": dict(self.per_recipient),
        }


@attrs.frozen(slots=True, kw_only=True)
class IncidentCounts:
    """The incidents one strategy would raise from a policy's episodes, and who gets them.

    ``per_recipient`` counts an incident once for each of its recipients
    (``"(unrouted)"`` for none), so it can add up to more than ``incidents``.
    """

    strategy: IncidentStrategy
    incidents: int
    per_recipient: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, object]:
        return {"incidents": self.incidents, "per_recipient": dict(self.per_recipient)}


@attrs.frozen(slots=True, kw_only=True)
class CapacityReport:
    """What a policy's capacity guard did over the replay.

    Times are seconds from the first to the last alert replayed; a level still
    held at the last alert counts up to it.
    """

    engage_at: str
    level_changes: int
    red_entries: int
    """Times the level rose to RED."""
    seconds_amber: float
    """Time spent at AMBER (not counting RED)."""
    seconds_red: float
    final_level: CapacityLevel
    peak_window: int
    """The largest window count any level change reported (0 without changes)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "engage_at": self.engage_at,
            "level_changes": self.level_changes,
            "red_entries": self.red_entries,
            "seconds_amber": self.seconds_amber,
            "seconds_red": self.seconds_red,
            "final_level": self.final_level.name,
            "peak_window": self.peak_window,
        }


@attrs.frozen(slots=True, kw_only=True)
class PolicyReport:
    """Everything one policy did to the replayed traffic."""

    policy: PolicySpec
    totals: Totals
    by_code: tuple[FlowRow, ...]
    by_recipient: tuple[FlowRow, ...]
    notifications: Notifications
    busiest: tuple[DeviceRow, ...]
    by_make: tuple[MakeRow, ...]
    hourly: tuple[HourRow, ...]
    incidents: tuple[IncidentCounts, ...] = ()
    """One entry per strategy of :data:`INCIDENT_STRATEGIES`, in that order."""
    capacity: CapacityReport | None = None
    """Present when the policy has a capacity guard."""

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def peak_offered(self) -> HourRow | None:
        """The hour with most alerts offered."""
        return max(self.hourly, key=lambda row: row.offered, default=None)

    @property
    def peak_received(self) -> HourRow | None:
        """The hour with most alerts reaching recipients."""
        return max(self.hourly, key=lambda row: row.received, default=None)

    def as_dict(self) -> dict[str, object]:
        peak_offered, peak_received = self.peak_offered, self.peak_received
        return {
            "name": self.name,
            "policy": self.policy.as_dict(),
            "totals": self.totals.as_dict(),
            "notifications": self.notifications.as_dict(),
            "peak_hour": {
                "offered": peak_offered.as_dict() if peak_offered else None,
                "received": peak_received.as_dict() if peak_received else None,
            },
            "by_code": [row.as_dict() for row in self.by_code],
            "by_recipient": [row.as_dict() for row in self.by_recipient],
            "busiest_devices": [row.as_dict() for row in self.busiest],
            "by_make": [row.as_dict() for row in self.by_make],
            "hourly": [row.as_dict() for row in self.hourly],
            "incidents": {row.strategy: row.as_dict() for row in self.incidents},
            "capacity": self.capacity.as_dict() if self.capacity is not None else None,
        }


@attrs.frozen(slots=True, kw_only=True)
class Report:
    """A replay's outcome: the traffic replayed and one :class:`PolicyReport` per policy.

    ``shadow`` is the comparison of the first policy (live) with the shadow
    candidates, or ``None`` when the replay had none.
    """

    source: str
    alerts: int
    first: float | None
    last: float | None
    skipped: int
    skipped_rows: tuple[SkippedRow, ...]
    policies: tuple[PolicyReport, ...]
    shadow: ShadowComparison | None = None

    def as_dict(self) -> dict[str, object]:
        def when(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

        data: dict[str, object] = {
            "source": self.source,
            "alerts": self.alerts,
            "first": when(self.first),
            "last": when(self.last),
            "skipped": self.skipped,
            "skipped_rows": [str(row) for row in self.skipped_rows],
            "policies": [policy.as_dict() for policy in self.policies],
        }
        if self.shadow is not None:
            data["shadow"] = self.shadow.as_dict()
        return data


# An hour's counts are keyed by (code, recipients); per key one row holding, for each
# policy i, its DELIVER, THROTTLE and EXEMPT counts at 3 * i, 3 * i + 1 and 3 * i + 2.
# Per alert that is one small tuple and one lookup, whatever the number of policies;
# the per-code, per-recipient, per-day and per-hour tables are all derived at the end.
_Key = tuple[int, tuple[str, ...]]
#: An episode's or a table cell's place: (hour, code, recipients).
_Cell = tuple[int, int, tuple[str, ...]]


class _Lane:
    """One policy being replayed, and what it says about episodes."""

    __slots__ = (
        "device_days",
        "device_episodes",
        "episodes",
        "feed",
        "levels",
        "policy",
        "spec",
        "started_events",
    )

    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec
        self.policy = spec.build()
        self.feed = self.policy.feed
        self.episodes: dict[_Cell, int] = {}
        self.device_episodes: dict[str, int] = {}
        self.device_days: set[tuple[str, int, tuple[str, ...]]] = set()
        # Kept for the incident books, built once the device makes are known.
        self.started_events: list[ThrottlingStarted] = []
        self.levels: list[LevelChanged] = []

    def note(self, events: Iterable[Event]) -> None:
        """Count a decision's episode starts and keep the capacity guard's level changes."""
        for event in events:
            if type(event) is ThrottlingStarted:
                self.started(event)
            elif type(event) is LevelChanged:
                self.levels.append(event)

    def started(self, event: ThrottlingStarted) -> None:
        self.started_events.append(event)
        hour = int(event.at) // _HOUR
        cell = (hour, event.code, event.recipients)
        self.episodes[cell] = self.episodes.get(cell, 0) + 1
        device = event.device_id
        self.device_episodes[device] = self.device_episodes.get(device, 0) + 1
        self.device_days.add((device, hour // 24, event.recipients))


class Replay:
    """Feeds alerts through several policies at once and builds the :class:`Report`.

    Use :meth:`run` (any number of times, in time order) then :meth:`report`;
    or :func:`simulate`, which does both.

    ``candidates`` are shadow configurations for the first policy: it is fed
    through a :class:`ShadowPolicy` holding them, so its own figures are
    unchanged and :attr:`Report.shadow` says what each candidate would have
    done. Candidate names must be distinct and not ``"live"``; a candidate
    runs with the live late mode, so one asking for another is refused.
    """

    def __init__(
        self,
        policies: Sequence[PolicySpec],
        *,
        busiest: int = 10,
        candidates: Sequence[PolicySpec] = (),
    ) -> None:
        if not policies:
            raise ValueError("policies: at least one policy is needed")
        self._lanes = [_Lane(spec) for spec in policies]
        self._shadow: ShadowPolicy | None = None
        if candidates:
            live = self._lanes[0]
            for candidate in candidates:
                if candidate.late != live.spec.late:
                    raise PolicyError(
                        f"candidates.{candidate.name}.late",
                        candidate.late,
                        f"must be the live policy's late mode, {live.spec.late!r} (a shadow "
                        "candidate sees the alerts as the live policy takes them)",
                    )
            names = [candidate.name for candidate in candidates]
            if len(set(names)) != len(names):
                raise PolicyError("candidates", names, "names must be distinct")
            self._shadow = ShadowPolicy(
                live.policy, {candidate.name: candidate.config for candidate in candidates}
            )
            # The live lane counts the decisions ShadowPolicy returns, which are the live ones.
            live.feed = self._shadow.feed
        self._busiest = busiest
        self._hours: dict[int, dict[_Key, list[int]]] = {}
        # Per device: alerts offered, then alerts throttled by each policy.
        self._devices: dict[str, list[int]] = {}
        self._count = 0
        self._first: float | None = None
        self._last: float | None = None

    @property
    def alerts(self) -> int:
        """Alerts replayed so far."""
        return self._count

    def run(self, alerts: Iterable[Alert], progress: Callable[[int], None] | None = None) -> None:
        """Feed ``alerts`` to every policy, counting as it goes.

        ``progress`` is called with the running alert count every
        :data:`PROGRESS_EVERY` alerts. If an alert raises (a late one under
        ``late = "reject"``, a bad row from a reader), the alerts before it
        stay fed and counted.
        """
        iterator = iter(alerts)
        if self._first is None:
            head = next(iterator, None)
            if head is None:
                return
            self._first = head.timestamp
            iterator = itertools.chain((head,), iterator)
        feed = self._feed_one if len(self._lanes) == 1 else self._feed_many
        every = PROGRESS_EVERY
        while True:
            before = self._count
            # Up to the next multiple of PROGRESS_EVERY, where progress is reported.
            size = every - before % every
            try:
                feed(itertools.islice(iterator, size))
            finally:
                # Each policy is the replay's own and counts one alert per successful
                # feed, so the least total is the alerts every policy has decided.
                self._count = min(lane.policy.stats.total for lane in self._lanes)
                # A policy's clock is the latest timestamp fed to it: late alerts are
                # clamped to it and never move it back.
                self._last = self._lanes[0].policy.clock
            if self._count - before < size:
                break
            if progress is not None:
                progress(self._count)

    def _feed_many(self, alerts: Iterable[Alert]) -> None:
        """Feed ``alerts`` to every policy and count them."""
        # The hot loop. Alerts come in time order, so the hour's table is looked up
        # again only when an alert leaves the current hour (late ones do).
        devices, devices_get = self._devices, self._devices.get
        hours = self._hours
        lanes = self._lanes
        feeds = [lane.feed for lane in lanes]
        width = len(lanes)
        deliver = Verdict.DELIVER
        throttle = Verdict.THROTTLE
        start = end = 0
        rows: dict[_Key, list[int]] = {}
        for alert in alerts:
            t = alert.timestamp
            if not start <= t < end:
                hour = int(t) // _HOUR
                start, end = hour * _HOUR, (hour + 1) * _HOUR
                rows = hours.setdefault(hour, {})
            # Every policy decides before anything is counted: an alert that raises
            # is not counted at all.
            decisions = [feed(alert) for feed in feeds]
            key = (alert.code, alert.recipients)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [0] * (3 * width)
            device = alert.device_id
            sent = devices_get(device)
            if sent is None:
                sent = devices[device] = [0] * (1 + width)
            sent[0] += 1
            for i, decision in enumerate(decisions):
                verdict = decision.verdict
                if verdict is deliver:
                    row[3 * i] += 1
                elif verdict is throttle:
                    row[3 * i + 1] += 1
                    sent[1 + i] += 1
                else:
                    row[3 * i + 2] += 1
                if decision.events:
                    lanes[i].note(decision.events)

    def _feed_one(self, alerts: Iterable[Alert]) -> None:
        """:meth:`_feed_many` for a single policy, its row indexes constants."""
        devices, devices_get = self._devices, self._devices.get
        hours = self._hours
        lane = self._lanes[0]
        feed = lane.feed
        deliver = Verdict.DELIVER
        throttle = Verdict.THROTTLE
        start = end = 0
        rows: dict[_Key, list[int]] = {}
        rows_get = rows.get
        for alert in alerts:
            t = alert.timestamp
            if not start <= t < end:
                hour = int(t) // _HOUR
                start, end = hour * _HOUR, (hour + 1) * _HOUR
                rows = hours.setdefault(hour, {})
                rows_get = rows.get
            key = (alert.code, alert.recipients)
            row = rows_get(key)
            if row is None:
                row = rows[key] = [0, 0, 0]
            decision = feed(alert)
            # Counted only once decided: an alert that raises is not counted at all.
            device = alert.device_id
            sent = devices_get(device)
            if sent is None:
                sent = devices[device] = [0, 0]
            sent[0] += 1
            verdict = decision.verdict
            if verdict is deliver:
                row[0] += 1
            elif verdict is throttle:
                row[1] += 1
                sent[1] += 1
            else:
                row[2] += 1
            if decision.events:
                lane.note(decision.events)

    def report(
        self,
        *,
        source: str = "",
        devices: Mapping[str, DeviceInfo] | None = None,
        skipped: int = 0,
        skipped_rows: Sequence[SkippedRow] = (),
    ) -> Report:
        """The report so far; ``devices`` (makes) and skipped rows come from the reader."""
        infos = devices or {}
        policies = tuple(
            self._policy_report(i, lane, infos, skipped) for i, lane in enumerate(self._lanes)
        )
        return Report(
            source=source,
            alerts=self._count,
            first=self._first,
            last=self._last,
            skipped=skipped,
            skipped_rows=tuple(skipped_rows),
            policies=policies,
            shadow=None if self._shadow is None else self._shadow.comparison,
        )

    # -- building the tables ------------------------------------------------------------

    def _policy_report(
        self, index: int, lane: _Lane, infos: Mapping[str, DeviceInfo], skipped: int
    ) -> PolicyReport:
        """The report of the policy whose counts are at ``index`` in the rows."""
        stats = lane.policy.stats
        totals = Totals(
            alerts=stats.total,
            delivered=stats.delivered,
            throttled=stats.throttled,
            exempt=stats.exempt,
            late=stats.late,
            skipped=skipped,
            episodes=stats.episodes,
            open_episodes=stats.open_episodes,
        )
        by_code: dict[tuple[str, int], list[int]] = {}
        by_recipient: dict[tuple[str, int], list[int]] = {}
        hours: dict[int, list[int]] = {}
        # Per cell: offered, delivered, throttled, exempt, episodes. An episode's cell is
        # that of its start, which a clamped late alert may put in an hour no alert has.
        cells: dict[_Cell, tuple[int, ...]] = {}
        first = 3 * index
        for hour, hour_rows in self._hours.items():
            for (code, recipients), row in hour_rows.items():
                delivered, throttled, exempt = row[first : first + 3]
                offered = delivered + throttled + exempt
                cells[hour, code, recipients] = (offered, delivered, throttled, exempt, 0)
        for cell, episodes in lane.episodes.items():
            counts = cells.get(cell, (0, 0, 0, 0, 0))
            cells[cell] = (*counts[:4], episodes)
        for (hour, code, recipients), counts in cells.items():
            day = hour // 24
            for table, name in [(by_code, format_code(code))] + [
                (by_recipient, r) for r in recipients or (NO_RECIPIENT,)
            ]:
                row = table.setdefault((name, day), [0, 0, 0, 0, 0])
                for i, value in enumerate(counts):
                    row[i] += value
            per_hour = hours.setdefault(hour, [0, 0])
            per_hour[0] += counts[0]
            per_hour[1] += counts[2]

        def rows(table: dict[tuple[str, int], list[int]]) -> tuple[FlowRow, ...]:
            return tuple(
                FlowRow(
                    key=name,
                    day=_day_text(day),
                    offered=c[0],
                    delivered=c[1],
                    throttled=c[2],
                    exempt=c[3],
                    episodes=c[4],
                )
                for (name, day), c in sorted(
                    table.items(), key=lambda item: (item[0][1], item[0][0])
                )
            )

        per_recipient: dict[str, int] = {}
        recipient_days: set[tuple[str, int]] = set()
        for (hour, _, recipients), episodes in lane.episodes.items():
            for r in recipients or (NO_RECIPIENT,):
                per_recipient[r] = per_recipient.get(r, 0) + episodes
                recipient_days.add((r, hour // 24))
        notifications = Notifications(
            incidents=stats.episodes,
            emails=stats.episodes,
            device_daily_emails=sum(len(r) or 1 for _, _, r in lane.device_days),
            recipient_daily_emails=len(recipient_days),
            per_recipient=tuple(sorted(per_recipient.items(), key=lambda kv: (-kv[1], kv[0]))),
        )

        busiest = heapq.nlargest(self._busiest, self._devices.items(), key=lambda kv: kv[1][0])
        device_rows = tuple(
            DeviceRow(
                device_id=device,
                offered=sent[0],
                throttled=sent[1 + index],
                episodes=lane.device_episodes.get(device, 0),
                info=infos.get(device),
            )
            for device, sent in busiest
        )

        makes: dict[DeviceInfo, list[int]] = {}
        if infos:
            for device, sent in self._devices.items():
                info = infos.get(device, DeviceInfo())
                row = makes.setdefault(info, [0, 0, 0, 0, 0])
                episodes = lane.device_episodes.get(device, 0)
                row[0] += 1
                row[1] += episodes > 0
                row[2] += sent[0]
                row[3] += sent[1 + index]
                row[4] += episodes
        make_rows = tuple(
            sorted(
                (
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
                ),
                key=lambda row: (-row.episodes, -row.offered),
            )
        )

        hourly = tuple(
            HourRow(hour=hour * _HOUR, offered=n, received=n - throttled)
            for hour, (n, throttled) in sorted(hours.items())
        )
        return PolicyReport(
            policy=lane.spec,
            totals=totals,
            by_code=rows(by_code),
            by_recipient=rows(by_recipient),
            notifications=notifications,
            busiest=device_rows,
            by_make=make_rows,
            hourly=hourly,
            incidents=self._incidents(lane, infos),
            capacity=self._capacity(lane),
        )

    @staticmethod
    def _incidents(lane: _Lane, infos: Mapping[str, DeviceInfo]) -> tuple[IncidentCounts, ...]:
        """Each strategy's incidents from the lane's episode starts.

        Only starts are needed to count incidents (ends resolve them, they never
        make new ones); the registry is cut down to the devices that stormed.
        """
        stormed = {d: infos[d] for d in lane.device_episodes if d in infos}
        counts = []
        for strategy in INCIDENT_STRATEGIES:
            book = IncidentBook(strategy, devices=stormed)
            book.apply_all(lane.started_events)
            per_recipient = book.per_recipient()
            counts.append(
                IncidentCounts(
                    strategy=strategy,
                    incidents=len(book),
                    per_recipient=tuple(
                        sorted(per_recipient.items(), key=lambda kv: (-kv[1], kv[0]))
                    ),
                )
            )
        return tuple(counts)

    def _capacity(self, lane: _Lane) -> CapacityReport | None:
        guard = lane.policy.capacity
        if guard is None:
            return None
        seconds = {level: 0.0 for level in CapacityLevel}
        level = CapacityLevel.GREEN
        since = self._first
        for change in lane.levels:
            if since is not None:
                seconds[level] += max(0.0, change.at - since)
            level, since = change.new, change.at
        if since is not None and self._last is not None:
            seconds[level] += max(0.0, self._last - since)
        return CapacityReport(
            engage_at=lane.policy.engage_at,
            level_changes=len(lane.levels),
            red_entries=sum(1 for c in lane.levels if c.new is CapacityLevel.RED),
            seconds_amber=round(seconds[CapacityLevel.AMBER], 3),
            seconds_red=round(seconds[CapacityLevel.RED], 3),
            final_level=level,
            peak_window=max((c.window_count for c in lane.levels), default=0),
        )


def simulate(
    alerts: Iterable[Alert],
    policies: Sequence[PolicySpec],
    *,
    source: str = "",
    devices: Mapping[str, DeviceInfo] | None = None,
    busiest: int = 10,
    progress: Callable[[int], None] | None = None,
    candidates: Sequence[PolicySpec] = (),
) -> Report:
    """Replay ``alerts`` (in time order) through ``policies`` and return the :class:`Report`.

    ``devices`` maps device ids to makes for the root-cause table. Skipped
    rows are counted by the reader; pass them through :meth:`Replay.report`
    when reading files (the CLI does). ``candidates`` shadow the first
    policy (see :class:`Replay`).
    """
    replay = Replay(policies, busiest=busiest, candidates=candidates)
    replay.run(alerts, progress)
    return replay.report(source=source, devices=devices)
