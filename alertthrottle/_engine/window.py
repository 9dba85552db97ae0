"""Per-key state: a ring buffer of the key's last ``limit + 1`` alert times.

The ring is all an exact sliding window needs. Times arrive in
non-decreasing order, so the alerts inside ``(t - period, t]`` are always the
most recent ones, and two questions cover every rule of the semantics:

* over the limit? -- the oldest of the last ``limit + 1`` times is inside the
  window (``limit + 1`` alerts are), O(1);
* when does an episode end? -- the ``resume_below``-th most recent time plus
  the period, O(1).

Slots that were never written hold ``-inf``, which is outside every window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .policy import _Episode

__all__ = ["KeyWindow"]

_NEVER = -math.inf


class KeyWindow:
    """The recent alert times of one ``(device_id, code)`` key, and its throttling state.

    Memory: ``limit + 1`` references plus a few slots, whatever the traffic.
    """

    __slots__ = ("episode", "last_delivered", "pending", "pending_sequence", "pos", "times")

    times: list[float]
    pos: int
    episode: _Episode | None
    last_delivered: float
    pending: int
    pending_sequence: int | None

    def __init__(self, size: int, first: float | None = None) -> None:
        """A ring of ``size`` slots, holding the time of a ``first`` alert if given."""
        # pos: index of the oldest time, which is the slot the next push overwrites.
        if first is None:
            self.times = [_NEVER] * size
            self.pos = 0
        else:
            self.times = [first] + [_NEVER] * (size - 1)
            self.pos = 1
        self.episode = None
        self.last_delivered = _NEVER
        # Throttled alerts not yet reported on a delivered alert, and their episode.
        self.pending = 0
        self.pending_sequence = None

    def push(self, t: float) -> None:
        """Record an alert at ``t`` (never earlier than the previous one), O(1)."""
        times = self.times
        pos = self.pos
        times[pos] = t
        pos += 1
        self.pos = 0 if pos == len(times) else pos

    def recent(self, nth: int) -> float:
        """The time of the ``nth`` most recent alert (1 = newest), or ``-inf``."""
        return self.times[(self.pos - nth) % len(self.times)]

    def count_after(self, since: float) -> int:
        """How many held times are ``> since``, O(size); exact while below the capacity."""
        return sum(1 for t in self.times if t > since)

    def resize(self, size: int) -> None:
        """Keep the newest ``size`` times in a ring of ``size`` slots (for a new limit)."""
        ordered = [self.recent(nth) for nth in range(len(self.times), 0, -1)]
        kept = ([_NEVER] * size + ordered)[-size:]
        self.times = kept
        self.pos = 0

    def _check(self) -> None:
        """Assert the ring's invariants (used by tests after every step)."""
        size = len(self.times)
        assert size >= 2, size
        assert 0 <= self.pos < size, (self.pos, size)
        ordered = [self.recent(nth) for nth in range(size, 0, -1)]
        assert ordered == sorted(ordered), ordered
        assert self.pending >= 0
        assert (self.pending == 0) is (self.pending_sequence is None), (
            self.pending,
            self.pending_sequence,
        )
