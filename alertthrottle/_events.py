"""What the policy tells the world about episodes: their starts and their ends."""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = ["Event", "ThrottlingEnded", "ThrottlingStarted"]


@attrs.frozen(slots=True, kw_only=True)
class ThrottlingStarted:
    """A key's window went over its limit at ``at``: episode ``sequence_id`` begins.

    ``window_count`` is the number of the key's alerts in the window at that
    moment, the starting alert included; ``recipients`` are the starting alert's.
    """

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    window_count: int
    recipients: tuple[str, ...] = ()


@attrs.frozen(slots=True, kw_only=True)
class ThrottlingEnded:
    """Episode ``sequence_id`` of a key ended at ``at`` (its window fell below ``resume_below``).

    ``throttled_count`` counts the episode's THROTTLE verdicts and
    ``sampled_count`` its sample deliveries; the pair is the whole episode.
    """

    device_id: str
    code: int
    at: int | float
    sequence_id: int
    started_at: int | float
    throttled_count: int
    sampled_count: int
    recipients: tuple[str, ...] = ()


#: Any event a policy emits.
Event: TypeAlias = ThrottlingStarted | ThrottlingEnded
