"""Per-key state: a ring buffer of the key's recent alert times, its episode, its rule.

The ring is all an exact sliding window needs. Times arrive in
non-decreasing order, so the alerts inside ``(t - period, t]`` are always the
most recent ones, and two questions cover every rule of the semantics:

* over the limit? -- the ring is full (``limit + 1`` times) and its oldest
  time is inside the window (``limit + 1`` alerts are), O(1);
* when does an episode end? -- the ``resume_below``-th most recent time plus
  the period, O(1).

The ring grows with the alerts actually seen, up to ``limit + 1`` slots, so a
large limit costs nothing for a quiet key. A key with a single alert in its
window holds no ring at all: the policy keeps its bare time (see state.py).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from heapq import heappush

from .._core.config import Threshold
from .._core.events import ThrottlingEnded, ThrottlingStarted, checked_ended

__all__ = ["Episode", "KeyWindow", "Rule", "ring_of"]

_NEVER = -math.inf


class KeyWindow:
    """The recent alert times of one ``(device_id, code)`` key, and its throttling state.

    Memory: one reference per alert held (at most ``size``) plus a few slots.
    """

    __slots__ = (
        "episode",
        "last_delivered",
        "pending",
        "pending_sequence",
        "pos",
        "size",
        "times",
    )

    times: list[float]
    pos: int
    size: int
    episode: Episode | None
    last_delivered: float
    pending: int
    pending_sequence: int | None

    def __init__(self, size: int, first: float | None = None) -> None:
        """A ring of up to ``size`` slots, holding the time of a ``first`` alert if given."""
        # While the ring grows (fewer than `size` times), pos stays 0: times[0] is the
        # oldest. Once full, pos is the index of the oldest time, the slot the next
        # push overwrites.
        self.times = [] if first is None else [first]
        self.pos = 0
        self.size = size
        self.episode = None
        self.last_delivered = _NEVER
        # Throttled alerts not yet reported on a delivered alert, and their episode.
        self.pending = 0
        self.pending_sequence = None

    @classmethod
    def returning(cls, size: int, t: float, left: tuple[int, int]) -> KeyWindow:
        """The window of a key back with ``(count, sequence_id)`` pending, its alert at ``t``."""
        window = cls(size, t)
        window.last_delivered = t
        window.pending, window.pending_sequence = left
        return window

    def push(self, t: float) -> None:
        """Record an alert at ``t`` (never earlier than the previous one), O(1)."""
        times = self.times
        if len(times) < self.size:
            times.append(t)
            return
        pos = self.pos
        times[pos] = t
        pos += 1
        self.pos = 0 if pos == self.size else pos

    def full(self) -> bool:
        """Whether the ring holds ``size`` times (so the oldest is at ``pos``)."""
        return len(self.times) == self.size

    def recent(self, nth: int) -> float:
        """The time of the ``nth`` most recent alert (1 = newest), or ``-inf``."""
        times = self.times
        if nth > len(times):
            return _NEVER
        return times[(self.pos - nth) % len(times)]

    def held(self) -> list[float]:
        """The times held, oldest first."""
        return self.times[self.pos :] + self.times[: self.pos]

    def count_after(self, since: float) -> int:
        """How many held times are ``> since``, O(size); exact while below the capacity."""
        held = self.held()
        # The times held are in order: those after `since` are the last ones.
        return len(held) - bisect_right(held, since)

    def resize(self, size: int) -> None:
        """Keep the newest ``size`` times in a ring of up to ``size`` slots (for a new limit)."""
        self.times = self.held()[-size:]
        self.pos = 0
        self.size = size

    def _check(self) -> None:
        """Assert the ring's invariants (used by tests after every step)."""
        size = self.size
        assert size >= 2, size
        assert len(self.times) <= size, (self.times, size)
        assert 0 <= self.pos < size and (self.pos == 0 or self.full()), (self.pos, size)
        ordered = self.held()
        assert ordered == sorted(ordered), ordered
        assert self.pending >= 0
        assert (self.pending == 0) is (self.pending_sequence is None), (
            self.pending,
            self.pending_sequence,
        )


_new_window = object.__new__


def ring_of(size: int, first: float) -> KeyWindow:
    """The window of a key at its second alert: its first (delivered) alert at ``first``.

    ``KeyWindow(size, first)`` with ``last_delivered = first``, built without a
    call of ``__init__`` (a class call with a Python ``__init__`` is not
    specialised): the hot loops make one for every key that gets a second alert.
    """
    window: KeyWindow = _new_window(KeyWindow)
    window.times = [first]
    window.pos = 0
    window.size = size
    window.episode = None
    window.last_delivered = first
    window.pending = 0
    window.pending_sequence = None
    return window


class Rule:
    """How one alert code is treated, and the windows of its keys (by device id)."""

    __slots__ = (
        "code",
        "exempt",
        "fifo_devices",
        "fifo_times",
        "keys",
        "limit",
        "period",
        "resume_below",
        "sample_every",
        "sample_interval",
        "sampling",
        "size",
        "slots",
        "span",
        "threshold",
        "throttles",
        "wheel",
        "width",
    )

    def __init__(self, code: int, threshold: Threshold | None, exempt: bool) -> None:
        self.code = code
        self.exempt = exempt
        self.threshold = threshold
        self.throttles = threshold is not None
        # A key's state: the bare time of its only alert in the window, or its ring.
        self.keys: dict[str, float | KeyWindow] = {}
        # The idle queue of keys made since (EngineState): the first alert time of
        # each, and its device id; the key's window empties no earlier than the time
        # plus the period. Times arrive in order, so the queue is sorted.
        self.fifo_times: deque[float] = deque()
        self.fifo_devices: deque[str] = deque()
        # Keys re-filed (they had alerts since they were queued), by slot of `width`
        # seconds: slot k holds keys whose window empties in [k * width, (k + 1) * width).
        self.wheel: dict[int, list[str]] = {}
        # The wheel's slot numbers, as a heap: its first slot without a scan.
        self.slots: list[int] = []
        self.width = 1.0
        if threshold is None:
            return
        self.width = threshold.period / 32
        self.limit = threshold.limit
        self.period = threshold.period
        # The period as a float, for the hot path's tests against float times:
        # CPython specialises float-float arithmetic, not float-int, and every
        # time and period is exact as a float (both far below 2**53), so the
        # tests give the same answers. Stored times use `period` as given.
        self.span = float(threshold.period)
        self.resume_below = threshold.resume_below
        self.sample_every = threshold.sample_every or 0
        # A float for the same reason as `span` (a sample's test compares it with a
        # difference of float times); None when the threshold samples by count or not.
        interval = threshold.sample_interval
        self.sample_interval = None if interval is None else float(interval)
        self.sampling = threshold.sample_every is not None or threshold.sample_interval is not None
        self.size = threshold.limit + 1

    def empties(self, state: float | KeyWindow) -> float:
        """When a key's window holds no alert any more (its newest time plus the period)."""
        if type(state) is KeyWindow:
            return state.recent(1) + self.period
        return state + self.period  # type: ignore[operator]

    def file(self, device_id: str, slot: int) -> None:
        """File a key in the wheel's ``slot``."""
        devices = self.wheel.get(slot)
        if devices is None:
            self.wheel[slot] = [device_id]
            heappush(self.slots, slot)
        else:
            devices.append(device_id)


class Episode:
    """An open throttling episode of one key, and its running counts."""

    __slots__ = (
        "alerts",
        "parked",
        "rule",
        "sampled",
        "sequence_id",
        "started",
        "throttled",
        "window",
    )

    def __init__(self, rule: Rule, window: KeyWindow, started: ThrottlingStarted) -> None:
        self.rule = rule
        self.window = window
        self.started = started
        self.sequence_id = started.sequence_id
        # Alerts of the episode so far (the starting one is number 1).
        self.alerts = 1
        self.throttled = 1
        self.sampled = 0
        # Its key was taken out of the idle schedule by an eviction that met it
        # (EngineState._evict); the key is filed again when the episode ends.
        self.parked = False

    def ended(self, at: float) -> ThrottlingEnded:
        """The event that reports this episode, whole, as ended at ``at``."""
        return checked_ended(self.started, at, self.throttled, self.sampled)

    def end_time(self) -> float | None:
        """When the key's window falls below ``resume_below`` with no more alerts.

        ``None`` once the episode is closed.
        """
        if self.window.episode is not self:
            return None
        rule = self.rule
        return self.window.recent(rule.resume_below) + rule.period

    def _check(self) -> None:
        """Assert the episode's invariants."""
        assert self.alerts == self.throttled + self.sampled >= 1
        assert self.sequence_id == self.started.sequence_id >= 1
        assert self.started.code == self.rule.code
