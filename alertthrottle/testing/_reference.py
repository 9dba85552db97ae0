"""A deliberately naive model of the throttling semantics, for differential tests.

It keeps every alert time of every key forever and recounts windows from that
full history, so each rule of docs/semantics.md reads as one obvious computation.
It shares no mechanism with ``ThrottlePolicy`` (no ring buffers, no schedules,
no eviction): where the two disagree, one of them misreads the spec.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._core.alert import Alert, parse_timestamp
from .._core.config import PolicyConfig, Threshold
from .._core.decision import NO_METADATA, Decision, Stats, ThrottleMetadata, Verdict
from .._core.errors import AlertThrottleError, InvalidAlertError, LateAlertError, PolicyError
from .._core.events import Event, ThrottlingEnded, ThrottlingStarted

__all__ = ["ReferencePolicy"]

Key = tuple[str, int]


class _OpenEpisode:
    def __init__(self, started: ThrottlingStarted, threshold: Threshold) -> None:
        self.started = started
        self.threshold = threshold
        self.alerts = 1
        self.throttled = 1
        self.sampled = 0


class ReferencePolicy:
    """The obviously-correct (and slow: O(history) per alert) twin of ``ThrottlePolicy``.

    Same constructor, ``feed``, ``feed_many``, ``advance``, ``stats`` and
    ``pending_counts()``; use it as the oracle in property tests.
    """

    def __init__(self, config: PolicyConfig, *, late: str = "clamp") -> None:
        if late not in ("clamp", "reject"):
            raise PolicyError("late", late, "must be 'clamp' or 'reject'")
        self.config = config
        self.late = late
        self.clock = -math.inf
        self.history: dict[Key, list[float]] = {}
        self.open: dict[Key, _OpenEpisode] = {}
        self.pending: dict[Key, tuple[int, int]] = {}
        self.last_delivered: dict[Key, float] = {}
        self.episodes = 0
        self.counts = {"total": 0, "delivered": 0, "throttled": 0, "exempt": 0, "late": 0}

    @property
    def stats(self) -> Stats:
        """The same totals ``ThrottlePolicy.stats`` reports (tracked keys: every key seen)."""
        return Stats(
            **self.counts,
            episodes=self.episodes,
            open_episodes=len(self.open),
            tracked_keys=len(self.history),
        )

    def pending_counts(self) -> dict[Key, ThrottleMetadata]:
        """Throttled counts not yet reported on a delivered alert, by key."""
        return {
            key: ThrottleMetadata(True, count, sequence)
            for key, (count, sequence) in self.pending.items()
        }

    def _in_window(self, key: Key, t: float, period: float) -> int:
        return sum(1 for seen in self.history[key] if t - period < seen <= t)

    def _end_of(self, key: Key, episode: _OpenEpisode) -> float:
        """The first instant, with no further alerts, at which fewer than resume_below remain."""
        period = episode.threshold.period
        times = self.history[key]
        last = times[-1]
        resume_below = episode.threshold.resume_below
        for candidate in sorted({seen + period for seen in times if seen + period >= last}):
            if sum(1 for seen in times if seen > candidate - period) < resume_below:
                return candidate
        raise AssertionError("a window always empties")  # pragma: no cover

    def _close_until(self, t: float) -> list[ThrottlingEnded]:
        due = sorted(
            (end, episode.started.sequence_id, key)
            for key, episode in self.open.items()
            if (end := self._end_of(key, episode)) <= t
        )
        ended = []
        for end, _, key in due:
            episode = self.open.pop(key)
            started = episode.started
            ended.append(
                ThrottlingEnded(
                    device_id=started.device_id,
                    code=started.code,
                    at=end,
                    sequence_id=started.sequence_id,
                    started_at=started.at,
                    throttled_count=episode.throttled,
                    sampled_count=episode.sampled,
                    recipients=started.recipients,
                )
            )
        return ended

    def feed(self, alert: Alert) -> Decision:
        """Decide one alert by recounting from the full history."""
        if not isinstance(alert, Alert):
            raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
        t = alert.timestamp
        late = t < self.clock
        if late and self.late == "reject":
            raise LateAlertError("timestamp", t, f"is before the policy clock ({self.clock})")
        t = max(t, self.clock)
        self.clock = t
        events: list[Event] = list(self._close_until(t))
        self.counts["total"] += 1
        self.counts["late"] += late

        if alert.code in self.config.exempt_codes:
            self.counts["exempt"] += 1
            return Decision(Verdict.EXEMPT, late=late, events=tuple(events))
        threshold = self.config.per_code.get(alert.code, self.config.default)
        if threshold is None:
            self.counts["delivered"] += 1
            return Decision(Verdict.DELIVER, late=late, events=tuple(events))

        key = (alert.device_id, alert.code)
        self.history.setdefault(key, []).append(t)
        episode = self.open.get(key)
        sampled = False
        if episode is None:
            count = self._in_window(key, t, threshold.period)
            if count > threshold.limit:
                self.episodes += 1
                started = ThrottlingStarted(
                    device_id=alert.device_id,
                    code=alert.code,
                    at=t,
                    sequence_id=self.episodes,
                    window_count=count,
                    recipients=alert.recipients,
                )
                self.open[key] = _OpenEpisode(started, threshold)
                events.append(started)
                return self._throttle(key, self.episodes, late, events)
        else:
            episode.alerts += 1
            every, interval = threshold.sample_every, threshold.sample_interval
            due_by_count = every is not None and episode.alerts % every == 0
            due_by_time = interval is not None and (
                t - self.last_delivered.get(key, -math.inf) >= interval
            )
            if not (due_by_count or due_by_time):
                episode.throttled += 1
                return self._throttle(key, episode.started.sequence_id, late, events)
            episode.sampled += 1
            sampled = True

        self.counts["delivered"] += 1
        self.last_delivered[key] = t
        metadata = NO_METADATA
        if key in self.pending:
            count, sequence = self.pending.pop(key)
            metadata = ThrottleMetadata(True, count, sequence)
        return Decision(Verdict.DELIVER, metadata, late, tuple(events), sampled)

    def _throttle(self, key: Key, sequence: int, late: bool, events: list[Event]) -> Decision:
        self.counts["throttled"] += 1
        count, _ = self.pending.get(key, (0, sequence))
        self.pending[key] = (count + 1, sequence)
        return Decision(Verdict.THROTTLE, late=late, events=tuple(events))

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """``feed`` in order; an error carries the index at which the batch stopped."""
        decisions: list[Decision] = []
        for index, alert in enumerate(alerts):
            try:
                decisions.append(self.feed(alert))
            except AlertThrottleError as exc:
                exc.at_index(index)
                raise
        return decisions

    def advance(self, now: object) -> list[ThrottlingEnded]:
        """Move the clock to ``now`` (never back) and close the episodes due by then."""
        t = parse_timestamp(now, "now")
        if t < self.clock:
            return []
        self.clock = t
        return self._close_until(t)
