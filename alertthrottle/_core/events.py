"""What the policy tells the world: episodes starting and ending, capacity levels changing."""

from __future__ import annotations

import enum
from typing import TypeAlias

import attrs

__all__ = [
    "CapacityLevel",
    "Event",
    "LevelChanged",
    "ThrottlingEnded",
    "ThrottlingStarted",
]


@attrs.frozen(slots=True)
class ThrottlingStarted:
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


@attrs.frozen(slots=True)
class ThrottlingEnded:
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


#: Any event a policy emits (``LevelChanged`` only when it has a capacity guard).
Event: TypeAlias = ThrottlingStarted | ThrottlingEnded | LevelChanged
