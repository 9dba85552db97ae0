"""The values a replay report is made of: plain, frozen, ready for tables and JSON.

:class:`Report` holds the traffic replayed and one :class:`PolicyReport` per
policy; the rest are its rows. Days and hours are UTC. Alerts addressed to
nobody are counted under :data:`UNROUTED` wherever recipients are listed.
"""

from __future__ import annotations

import attrs

from .._core.alert import DeviceInfo
from .._core.events import CapacityLevel
from .._core.timefmt import hour_text, instant_text
from .._io.policyfile import PolicySpec
from .._io.trafficerrors import SkippedRow
from .._ops.incidents import UNROUTED, IncidentStrategy
from .._ops.shadow import ShadowComparison

__all__ = [
    "UNROUTED",
    "CapacityReport",
    "DeviceRow",
    "FlowRow",
    "HourRow",
    "IncidentCounts",
    "MakeRow",
    "Notifications",
    "PolicyReport",
    "Report",
    "Totals",
    "percent",
]


def percent(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, to two places (0 when ``whole`` is 0)."""
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
        return percent(self.throttled, self.alerts)

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
        return percent(self.throttled, self.offered)

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
        return percent(self.throttled, self.offered)

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
        """The hour as ``YYYY-MM-DD HH:00`` (UTC)."""
        return hour_text(self.hour)

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
    (:data:`UNROUTED` for none), so it can add up to more than ``incidents``.
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
        data: dict[str, object] = {
            "source": self.source,
            "alerts": self.alerts,
            "first": None if self.first is None else instant_text(self.first),
            "last": None if self.last is None else instant_text(self.last),
            "skipped": self.skipped,
            "skipped_rows": [str(row) for row in self.skipped_rows],
            "policies": [policy.as_dict() for policy in self.policies],
        }
        if self.shadow is not None:
            data["shadow"] = self.shadow.as_dict()
        return data
