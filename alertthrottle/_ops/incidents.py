"""Incidents from throttling events, grouped so that a storm does not become 10k tickets.

The DCC design raised one incident per episode ("10k meters ... could
theoretically result in 10k incidents"). An :class:`IncidentBook` consumes a
policy's ``ThrottlingStarted`` / ``ThrottlingEnded`` events and keeps incidents
under one of three strategies chosen by the adapter:

* ``per-episode``: one incident per episode (the DCC design);
* ``per-device-day``: one per device and calendar day of the episode's start;
* ``per-problem``: one problem record per (manufacturer, model, firmware, alert
  code), collecting every affected device (ITIL problem management).

Every episode belongs to exactly one incident. An incident is resolved when all
its episodes have ended; a later episode with the same key reopens it (the
incident is updated, not duplicated).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, tzinfo
from itertools import repeat
from typing import ClassVar, Literal, TypeAlias, cast

import attrs

from .._core.alert import DeviceInfo, format_code
from .._core.errors import EventError, PolicyError
from .._core.events import Event, LevelChanged, ThrottlingEnded, ThrottlingStarted
from .._core.makes import UNKNOWN_MAKE, device_table
from .._core.timefmt import day_text

__all__ = [
    "INCIDENT_STRATEGIES",
    "UNROUTED",
    "Incident",
    "IncidentBook",
    "IncidentKey",
    "IncidentState",
    "IncidentStrategy",
    "IncidentUpdate",
    "Router",
    "incident_counts",
    "incidents_per_recipient",
    "route_recipients",
]

IncidentStrategy: TypeAlias = Literal["per-episode", "per-device-day", "per-problem"]
#: The strategies, in order of how many incidents they tend to raise (most first).
INCIDENT_STRATEGIES: tuple[IncidentStrategy, ...] = ("per-episode", "per-device-day", "per-problem")
#: What identifies an incident within its strategy (see :attr:`Incident.key`).
IncidentKey: TypeAlias = tuple[str | int | None, ...]
#: Chooses the recipients of an episode, given the event that started it.
Router: TypeAlias = Callable[[ThrottlingStarted], Iterable[str]]
#: The one name under which anything addressed to nobody is counted, in every table.
UNROUTED = "(unrouted)"


def route_recipients(event: ThrottlingStarted, route: Router | None) -> tuple[str, ...]:
    """Who hears of an episode: ``route(event)``, or by default the starting alert's recipients.

    A router returning anything but non-empty strings raises :class:`PolicyError`.
    """
    recipients = tuple(route(event)) if route is not None else event.recipients
    for recipient in recipients:
        if type(recipient) is not str or not recipient:
            raise PolicyError("route", recipients, "must return non-empty str recipients")
    return recipients


# An incident's key under each strategy (see Incident.key), from the event that started one
# of its episodes, the device registry and the time zone of days: the one definition of
# how episodes are grouped, for IncidentBook and for incident_counts.
def _episode_key(event: ThrottlingStarted, _: Mapping[str, DeviceInfo], __: tzinfo) -> IncidentKey:
    return (event.sequence_id,)


def _device_day_key(
    event: ThrottlingStarted, _: Mapping[str, DeviceInfo], tz: tzinfo
) -> IncidentKey:
    return (event.device_id, day_text(event.at, tz))


def _problem_key(
    event: ThrottlingStarted, devices: Mapping[str, DeviceInfo], _: tzinfo
) -> IncidentKey:
    info = devices.get(event.device_id, UNKNOWN_MAKE)
    return (info.manufacturer, info.model, info.firmware, format_code(event.code))


_KeyOf: TypeAlias = Callable[[ThrottlingStarted, Mapping[str, DeviceInfo], tzinfo], IncidentKey]
_KEY_OF: dict[IncidentStrategy, _KeyOf] = {
    "per-episode": _episode_key,
    "per-device-day": _device_day_key,
    "per-problem": _problem_key,
}


def _per_recipient(incidents: Iterable[Collection[str]]) -> dict[str, int]:
    """How many of ``incidents`` (given by their recipients) each recipient gets, by name;
    an incident with no recipient counts for ``UNROUTED``."""
    counts: dict[str, int] = {}
    for recipients in incidents:
        for recipient in recipients or (UNROUTED,):
            counts[recipient] = counts.get(recipient, 0) + 1
    return dict(sorted(counts.items()))


class IncidentState(enum.Enum):
    """Where an incident is in its life."""

    #: Just raised by its first episode.
    OPENED = "opened"
    #: Changed since: an episode joined or ended with others still open, or it reopened.
    UPDATED = "updated"
    #: Every episode of the incident has ended (it reopens if another one joins).
    RESOLVED = "resolved"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(slots=True, kw_only=True)
class Incident:
    """An incident as it stands: what it groups, who hears of it, and whether it is resolved.

    ``key`` identifies it within its strategy: ``(sequence_id,)`` for
    ``per-episode``, ``(device_id, "YYYY-MM-DD")`` for ``per-device-day`` and
    ``(manufacturer, model, firmware, "8014")`` for ``per-problem`` (``None``
    where the make is unknown). Devices, codes, recipients and episodes are in
    the order first seen. ``throttled_count`` and ``sampled_count`` add up the
    episodes that have ended (an open episode's count is known at its end).
    """

    id: int
    strategy: IncidentStrategy
    key: IncidentKey
    state: IncidentState
    recipients: tuple[str, ...]
    devices: tuple[str, ...]
    codes: tuple[int, ...]
    episodes: tuple[int, ...]
    open_episodes: int
    first_at: int | float
    last_at: int | float
    throttled_count: int
    sampled_count: int

    @property
    def title(self) -> str:
        """A one-line summary, e.g. for a ticket's subject."""
        codes = ", ".join(format_code(code) for code in self.codes)
        if self.strategy == "per-episode":
            what = f"episode {self.key[0]}"
        elif self.strategy == "per-device-day":
            what = f"device {self.key[0]} on {self.key[1]}"
        else:
            what = "problem " + " / ".join(str(k or "unknown") for k in self.key[:3])
        return (
            f"Alert throttling, {what}: {len(self.devices)} device(s), codes {codes}, "
            f"{len(self.episodes)} episode(s), {self.state}"
        )


@attrs.frozen(slots=True, kw_only=True)
class IncidentUpdate:
    """What one event did to an incident: the change an adapter acts on.

    ``state`` is the incident's state after the event; ``recipients`` are
    the incident's recipients at that moment. The whole incident is
    ``book.incident(incident_id)``.
    """

    at: int | float
    incident_id: int
    key: IncidentKey
    state: IncidentState
    recipients: tuple[str, ...]
    event: ThrottlingStarted | ThrottlingEnded


class _Record:
    """The mutable state behind one incident."""

    __slots__ = (
        "codes",
        "devices",
        "episodes",
        "first_at",
        "id",
        "key",
        "last_at",
        "open",
        "recipients",
        "sampled",
        "state",
        "throttled",
    )

    def __init__(self, number: int, key: IncidentKey, at: float) -> None:
        self.id = number
        self.key = key
        # Dicts used as ordered sets: first-seen order, O(1) membership.
        self.recipients: dict[str, None] = {}
        self.devices: dict[str, None] = {}
        self.codes: dict[int, None] = {}
        self.episodes: list[int] = []
        self.open = 0
        self.first_at = at
        self.last_at = at
        self.throttled = 0
        self.sampled = 0
        self.state = IncidentState.OPENED


class IncidentBook:
    """Turns a policy's episode events into incidents under one strategy.

    ``devices`` maps device ids to their make for ``per-problem`` (devices it
    does not know are grouped as unknown); ``route`` chooses an episode's
    recipients (default: the recipients the events carry); ``tz`` is the time
    zone of ``per-device-day`` days (default UTC). Feed it every event of one
    policy, in order, with :meth:`apply` or :meth:`apply_all`; ``LevelChanged``
    events are ignored. To attach a book to a running policy, apply
    ``policy.open_episodes()`` first.
    """

    #: The strategies, in order of how many incidents they tend to raise (most first).
    STRATEGIES: ClassVar[tuple[IncidentStrategy, ...]] = INCIDENT_STRATEGIES

    def __init__(
        self,
        strategy: IncidentStrategy,
        *,
        devices: Mapping[str, DeviceInfo] | None = None,
        route: Router | None = None,
        tz: tzinfo = UTC,
    ) -> None:
        if strategy not in INCIDENT_STRATEGIES:
            raise PolicyError("strategy", strategy, f"must be one of {list(INCIDENT_STRATEGIES)}")
        if route is not None and not callable(route):
            raise PolicyError("route", route, "must be a function of a ThrottlingStarted")
        if not isinstance(tz, tzinfo):
            raise PolicyError("tz", tz, "must be a datetime.tzinfo")
        self._strategy: IncidentStrategy = strategy
        self._key_of = _KEY_OF[strategy]
        self._devices = device_table(devices)
        self._route = route
        self._tz = tz
        self._records: list[_Record] = []
        self._by_key: dict[IncidentKey, _Record] = {}
        # Episode sequence id -> its record, and whether it is still open.
        self._episode_record: dict[int, _Record] = {}
        self._open_episodes: set[int] = set()

    @property
    def strategy(self) -> IncidentStrategy:
        """How episodes are grouped."""
        return self._strategy

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, event: Event) -> IncidentUpdate | None:
        """Account for one event; return what it did to its incident (``None`` for others)."""
        record = self._account(event)
        if record is None:
            return None
        return IncidentUpdate(
            at=event.at,
            incident_id=record.id,
            key=record.key,
            state=record.state,
            recipients=tuple(record.recipients),
            # A record comes back for a start or an end only.
            event=cast(ThrottlingStarted | ThrottlingEnded, event),
        )

    def apply_all(self, events: Iterable[Event]) -> list[IncidentUpdate]:
        """:meth:`apply` each event in order; return the updates."""
        updates = []
        for event in events:
            update = self.apply(event)
            if update is not None:
                updates.append(update)
        return updates

    def incident(self, incident_id: int) -> Incident:
        """The incident numbered ``incident_id`` (1, 2, ... in order of opening), as it stands."""
        if type(incident_id) is not int or not 1 <= incident_id <= len(self._records):
            raise PolicyError("incident_id", incident_id, f"must be in 1..{len(self._records)}")
        return self._snapshot(self._records[incident_id - 1])

    def incident_of(self, sequence_id: int) -> int:
        """The id of the incident that episode ``sequence_id`` belongs to."""
        record = self._episode_record.get(sequence_id)
        if record is None:
            raise EventError("sequence_id", sequence_id, "is not an episode this book has seen")
        return record.id

    def incidents(self) -> list[Incident]:
        """Every incident, in order of opening. O(total size): for reports, not per event."""
        return [self._snapshot(record) for record in self._records]

    def open_incidents(self) -> list[Incident]:
        """The incidents not resolved."""
        return [
            self._snapshot(record)
            for record in self._records
            if record.state is not IncidentState.RESOLVED
        ]

    def per_recipient(self) -> dict[str, int]:
        """How many incidents each recipient gets (``UNROUTED`` for those with none)."""
        return _per_recipient(record.recipients for record in self._records)

    # -- the events ---------------------------------------------------------------------

    def _account(self, event: Event) -> _Record | None:
        """Account for one event: the bookkeeping of :meth:`apply`, without the update.

        Returns the incident the event changed (``None`` for a ``LevelChanged``).
        """
        if type(event) is ThrottlingStarted:
            return self._started(event)
        if type(event) is ThrottlingEnded:
            return self._ended(event)
        if type(event) is LevelChanged:
            return None
        raise EventError(
            "event", event, "must be a ThrottlingStarted, ThrottlingEnded or LevelChanged"
        )

    def _started(self, event: ThrottlingStarted) -> _Record:
        sequence = event.sequence_id
        if sequence in self._episode_record:
            raise EventError(
                "sequence_id", sequence, "started twice (events of two policies in one book?)"
            )
        recipients = route_recipients(event, self._route)
        key = self._key_of(event, self._devices, self._tz)
        record = self._by_key.get(key)
        if record is None:
            record = _Record(len(self._records) + 1, key, event.at)
            self._records.append(record)
            self._by_key[key] = record
        else:
            record.state = IncidentState.UPDATED
        record.recipients.update(dict.fromkeys(recipients))
        record.devices[event.device_id] = None
        record.codes[event.code] = None
        record.episodes.append(sequence)
        record.open += 1
        record.last_at = max(record.last_at, event.at)
        self._episode_record[sequence] = record
        self._open_episodes.add(sequence)
        return record

    def _ended(self, event: ThrottlingEnded) -> _Record:
        sequence = event.sequence_id
        record = self._episode_record.get(sequence)
        if record is None:
            raise EventError(
                "sequence_id",
                sequence,
                "ended but never started here (apply policy.open_episodes() first)",
            )
        if sequence not in self._open_episodes:
            raise EventError("sequence_id", sequence, "ended twice")
        self._open_episodes.remove(sequence)
        record.open -= 1
        record.throttled += event.throttled_count
        record.sampled += event.sampled_count
        record.last_at = max(record.last_at, event.at)
        record.state = IncidentState.RESOLVED if record.open == 0 else IncidentState.UPDATED
        return record

    def _snapshot(self, record: _Record) -> Incident:
        return Incident(
            id=record.id,
            strategy=self._strategy,
            key=record.key,
            state=record.state,
            recipients=tuple(record.recipients),
            devices=tuple(record.devices),
            codes=tuple(record.codes),
            episodes=tuple(record.episodes),
            open_episodes=record.open,
            first_at=record.first_at,
            last_at=record.last_at,
            throttled_count=record.throttled,
            sampled_count=record.sampled,
        )

    def _check(self) -> None:
        """Assert the book's invariants: every episode in exactly one incident, counts agree."""
        seen: list[int] = [s for record in self._records for s in record.episodes]
        assert len(seen) == len(set(seen)) == len(self._episode_record)
        for record in self._records:
            assert self._by_key[record.key] is record
            assert record.open == sum(1 for s in record.episodes if s in self._open_episodes)
            assert (record.state is IncidentState.RESOLVED) is (record.open == 0)
            assert all(self._episode_record[s] is record for s in record.episodes)


def incidents_per_recipient(
    events: Iterable[Event],
    *,
    devices: Mapping[str, DeviceInfo] | None = None,
    route: Router | None = None,
    tz: tzinfo = UTC,
) -> dict[IncidentStrategy, dict[str, int]]:
    """How many incidents each recipient would get under each strategy, for one event stream.

    This is what the simulate report shows: the same storm as 10k incidents,
    as a few hundred, or as a handful of problems.
    """
    books = [IncidentBook(s, devices=devices, route=route, tz=tz) for s in INCIDENT_STRATEGIES]
    # Each event to every book before the next, as apply would; no IncidentUpdate is built.
    accounts = [book._account for book in books]
    for event in events:
        for account in accounts:
            account(event)
    return {book.strategy: book.per_recipient() for book in books}


def incident_counts(
    started: Iterable[ThrottlingStarted],
    *,
    devices: Mapping[str, DeviceInfo] | None = None,
    tz: tzinfo = UTC,
) -> dict[IncidentStrategy, tuple[int, dict[str, int]]]:
    """Per strategy, how many incidents the episodes ``started`` make and who gets them.

    The ``len(book)`` and ``book.per_recipient()`` of a book per strategy that took
    these starts, counted without keeping the incidents: for a replay's report,
    whose events come from one policy (a start given twice is not refused, as a
    book refuses it).
    """
    table = device_table(devices)
    events = list(started)
    routed = [route_recipients(event, None) for event in events]
    counts: dict[IncidentStrategy, tuple[int, dict[str, int]]] = {}
    for strategy in INCIDENT_STRATEGIES:
        # Per incident key, its recipients (a dict as an ordered set).
        incidents: dict[IncidentKey, dict[str, None]] = {}
        keys = map(_KEY_OF[strategy], events, repeat(table), repeat(tz))
        for key, recipients in zip(keys, routed, strict=True):
            known = incidents.get(key)
            if known is None:
                incidents[key] = dict.fromkeys(recipients)
            else:
                for recipient in recipients:
                    known[recipient] = None
        counts[strategy] = (len(incidents), _per_recipient(incidents.values()))
    return counts
