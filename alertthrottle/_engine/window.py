"""Per-key state: a ring buffer of the key's last ``limit + 1`` alert times, its episode, its rule.

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

from .._core.config import Threshold
from .._core.events import ThrottlingEnded, ThrottlingStarted

__all__ = ["Episode", "KeyWindow", "Rule"]

_NEVER = -math.inf


class KeyWindow:
    """The recent alert times of one ``(device_id, code)`` key, and its throttling state.

    Memory: ``limit + 1`` references plus a few slots, whatever the traffic.
    """

    __slots__ = ("episode", "last_delivered", "pending", "pending_sequence", "pos", "times")

    times: list[float]
    pos: int
    episode: Episode | None
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

    def held(self) -> list[float]:
        """The times held, oldest first (never-written slots left out)."""
        size = len(self.times)
        return [t for t in (self.recent(nth) for nth in range(size, 0, -1)) if t != _NEVER]

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


class Rule:
    """How one alert code is treated, and the windows of its keys (by device id)."""

    __slots__ = (
        "code",
        "exempt",
        "keys",
        "limit",
        "period",
        "resume_below",
        "sample_every",
        "sample_interval",
        "sampling",
        "size",
        "threshold",
    )

    def __init__(self, code: int, threshold: Threshold | None, exempt: bool) -> None:
        self.code = code
        self.exempt = exempt
        self.threshold = threshold
        self.keys: dict[str, KeyWindow] = {}
        if threshold is None:
            return
        self.limit = threshold.limit
        self.period = threshold.period
        self.resume_below = threshold.resume_below
        self.sample_every = threshold.sample_every or 0
        self.sample_interval = threshold.sample_interval
        self.sampling = threshold.sample_every is not None or threshold.sample_interval is not None
        self.size = threshold.limit + 1

    def empties(self, window: KeyWindow) -> float:
        """When ``window`` holds no alert any more (its newest time plus the period)."""
        return window.recent(1) + self.period


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
        # (EngineState.evict); the key is filed again when the episode ends.
        self.parked = False

    def ended(self, at: float) -> ThrottlingEnded:
        """The event that reports this episode, whole, as ended at ``at``."""
        started = self.started
        return ThrottlingEnded(
            device_id=started.device_id,
            code=started.code,
            at=at,
            sequence_id=started.sequence_id,
            started_at=started.at,
            throttled_count=self.throttled,
            sampled_count=self.sampled,
            recipients=started.recipients,
        )

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
