"""What the policy tells the world: episodes starting and ending, capacity levels changing."""

from __future__ import annotations

import enum
from typing import TypeAlias

import attrs

from .alert import parse_code, parse_device_id
from .errors import EventError, InvalidAlertError
from .validation import MAX_TIMESTAMP, check_timestamp

__all__ = [
    "CapacityLevel",
    "Event",
    "LevelChanged",
    "ThrottlingEnded",
    "ThrottlingStarted",
    "checked_ended",
    "checked_started",
]


def _check_key(device_id: object, code: object, recipients: object) -> None:
    try:
        canonical = type(device_id) is str and parse_device_id(device_id) == device_id
    except InvalidAlertError:
        canonical = False
    if not canonical:
        raise EventError("device_id", device_id, "must be a canonical EUI-64 str")
    if type(code) is not int:
        raise EventError("code", code, "must be an int (as parse_code gives)")
    if not 0 <= code <= 0xFFFF:
        try:
            parse_code(code)  # a DCC alert code
        except InvalidAlertError as exc:
            raise EventError("code", code, exc.problem) from None
    if type(recipients) is not tuple or not all(type(r) is str and r for r in recipients):
        raise EventError("recipients", recipients, "must be a tuple of non-empty str")


def _check_time(value: object, field: str) -> None:
    if not ((type(value) is int or type(value) is float) and 0 <= value < MAX_TIMESTAMP):
        check_timestamp(value, field, error=EventError)


def _check_count(value: object, field: str, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise EventError(field, value, f"must be an integer >= {minimum}")


class _StartedSlots:
    """The storage of a :class:`ThrottlingStarted`, as plain writable slots (see below)."""

    __slots__ = (
        "__weakref__",
        "at",
        "code",
        "device_id",
        "recipients",
        "sequence_id",
        "window_count",
    )

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    window_count: int
    recipients: tuple[str, ...]


class _EndedSlots:
    """The storage of a :class:`ThrottlingEnded`, as plain writable slots (see below)."""

    __slots__ = (
        "__weakref__",
        "at",
        "code",
        "device_id",
        "recipients",
        "sampled_count",
        "sequence_id",
        "started_at",
        "throttled_count",
    )

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    started_at: int | float
    throttled_count: int
    sampled_count: int
    recipients: tuple[str, ...]


@attrs.frozen(slots=True)
class ThrottlingStarted(_StartedSlots):
    """A key's window went over its limit at ``at``: episode ``sequence_id`` begins.

    ``window_count`` is the number of the key's alerts in the window at that
    moment, the starting alert included. ``recipients`` are the starting
    alert's: routing information, left out of equality.
    """

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    window_count: int
    recipients: tuple[str, ...] = attrs.field(default=(), eq=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        # Checked by hand in one call: the engine builds one per episode.
        _check_key(self.device_id, self.code, self.recipients)
        _check_time(self.at, "at")
        _check_count(self.sequence_id, "sequence_id", 1)
        _check_count(self.window_count, "window_count", 1)


@attrs.frozen(slots=True)
class ThrottlingEnded(_EndedSlots):
    """Episode ``sequence_id`` of a key ended at ``at`` (its window fell below ``resume_below``).

    ``throttled_count`` counts the episode's THROTTLE verdicts and
    ``sampled_count`` its sample deliveries; the pair is the whole episode.
    ``recipients`` (left out of equality) are those of the starting alert.
    """

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    started_at: int | float
    throttled_count: int
    sampled_count: int
    recipients: tuple[str, ...] = attrs.field(default=(), eq=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _check_key(self.device_id, self.code, self.recipients)
        _check_time(self.at, "at")
        _check_count(self.sequence_id, "sequence_id", 1)
        _check_time(self.started_at, "started_at")
        if self.started_at > self.at:
            raise EventError("started_at", self.started_at, "must be <= at")
        _check_count(self.throttled_count, "throttled_count", 0)
        _check_count(self.sampled_count, "sampled_count", 0)


# The engine's events: every field comes from a checked Alert (device id, code,
# recipients), the policy clock or a time it was fed (``at``, ``started_at``, never
# above the clock), or its own counters, so the checks above could not fail and
# are not run again. Each is built as an instance of its plain slotted base, which
# the event class adds no slot to (the same layout): plain stores, then one
# ``__class__`` store (the classes are frozen, and a slot's setter is a call
# through a wrapper per field). The stores and the switch neither fail nor
# allocate, so nothing sees an event half built; no base instance is returned.


def checked_started(
    device_id: str,
    code: int,
    at: int | float,
    sequence_id: int,
    window_count: int,
    recipients: tuple[str, ...],
) -> ThrottlingStarted:
    """The ThrottlingStarted of fields already known good, not checked again (the engine's).

    The constructor's checks cost far more than the policy's work on the alert
    that starts an episode; the engine's values pass them by construction.
    """
    event = _StartedSlots()
    event.device_id = device_id
    event.code = code
    event.at = at
    event.sequence_id = sequence_id
    event.window_count = window_count
    event.recipients = recipients
    event.__class__ = ThrottlingStarted
    return event  # type: ignore[return-value]  # the event class now


def checked_ended(
    started: ThrottlingStarted, at: int | float, throttled_count: int, sampled_count: int
) -> ThrottlingEnded:
    """The ThrottlingEnded of the engine's episode begun by ``started``, not checked again.

    ``at`` is no earlier than ``started.at`` and the counts are the episode's, so
    the constructor's checks would pass (see :func:`checked_started`).
    """
    event = _EndedSlots()
    event.device_id = started.device_id
    event.code = started.code
    event.at = at
    event.sequence_id = started.sequence_id
    event.started_at = started.at
    event.throttled_count = throttled_count
    event.sampled_count = sampled_count
    event.recipients = started.recipients
    event.__class__ = ThrottlingEnded
    return event  # type: ignore[return-value]  # the event class now


class CapacityLevel(enum.IntEnum):
    """How loaded the whole system is, by all alerts in a sliding window (a ``CapacityGuard``).

    An ``IntEnum`` so levels compare in order: ``GREEN < AMBER < RED``.
    """

    GREEN = 0
    AMBER = 1
    RED = 2

    def __str__(self) -> str:
        return self.name


@attrs.frozen(slots=True, kw_only=True)
class LevelChanged:
    """The capacity level went from ``old`` to ``new`` at ``at``.

    ``window_count`` is the number of alerts (exempt ones included) in the
    guard's window ``(at - period, at]`` once the change happened.
    """

    at: int | float
    old: CapacityLevel
    new: CapacityLevel
    window_count: int

    def __attrs_post_init__(self) -> None:
        _check_time(self.at, "at")
        for field, level in (("old", self.old), ("new", self.new)):
            if not isinstance(level, CapacityLevel):
                raise EventError(field, level, "must be a CapacityLevel")
        _check_count(self.window_count, "window_count", 0)


#: Any event a policy emits (``LevelChanged`` only when it has a capacity guard).
Event: TypeAlias = ThrottlingStarted | ThrottlingEnded | LevelChanged
