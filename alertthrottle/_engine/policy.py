"""``ThrottlePolicy``: the normative semantics (docs/semantics.md), alert by alert.

Cost per alert is O(1) (plus O(log n) per episode start or end, n open
episodes or live keys); memory follows the keys with alerts in their window.
The core never reads the wall clock: time arrives with the alerts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from heapq import heappop, heappush, heapreplace
from operator import attrgetter
from typing import Literal

from .._core.alert import Alert, parse_timestamp
from .._core.config import PolicyConfig, Threshold
from .._core.decision import NO_METADATA, Decision, Stats, ThrottleMetadata, Verdict
from .._core.errors import AlertThrottleError, InvalidAlertError, LateAlertError, PolicyError
from .._core.events import CapacityLevel, Event, ThrottlingEnded, ThrottlingStarted
from .capacity import CapacityGuard
from .reconfigure import ConfigChange, apply_config, initial_entry
from .schedule import LazySchedule
from .window import KeyWindow

__all__ = ["EngageAt", "LateMode", "ThrottlePolicy"]

LateMode = Literal["clamp", "reject"]
#: The capacity level from which per-device throttling starts episodes.
EngageAt = Literal["always", "amber", "red"]
_ENGAGE_LEVELS = {
    "always": CapacityLevel.GREEN,
    "amber": CapacityLevel.AMBER,
    "red": CapacityLevel.RED,
}
_AT = attrgetter("at")

_DELIVER = Decision(Verdict.DELIVER)
_DELIVER_LATE = Decision(Verdict.DELIVER, late=True)
_THROTTLE = Decision(Verdict.THROTTLE)
_THROTTLE_LATE = Decision(Verdict.THROTTLE, late=True)
_EXEMPT = Decision(Verdict.EXEMPT)
_EXEMPT_LATE = Decision(Verdict.EXEMPT, late=True)


class _Rule:
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


class _Episode:
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

    def __init__(self, rule: _Rule, window: KeyWindow, started: ThrottlingStarted) -> None:
        self.rule = rule
        self.window = window
        self.started = started
        self.sequence_id = started.sequence_id
        # Alerts of the episode so far (the starting one is number 1).
        self.alerts = 1
        self.throttled = 1
        self.sampled = 0
        # Its key was taken out of the idle schedule by an eviction that met it
        # (ThrottlePolicy._evict); the key is filed again when the episode ends.
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


class ThrottlePolicy:
    """Decides, alert by alert, which alerts reach their recipients (SECMP0062 throttling).

    Feed alerts in time order with :meth:`feed` or :meth:`feed_many`; each
    returns a :class:`Decision` with DUIS-style metadata and the episode events
    that fell due. :meth:`advance` moves the clock without an alert, to close
    episodes that ended in a quiet spell. ``late`` says what to do with an
    alert older than the clock: ``"clamp"`` (treat it as arriving now, flagged
    ``late``) or ``"reject"`` (raise :class:`LateAlertError`). ``max_keys``
    bounds the keys held in memory (docs/memory.md says which key is evicted).
    """

    def __init__(
        self,
        config: PolicyConfig,
        *,
        late: LateMode = "clamp",
        max_keys: int | None = None,
        capacity: CapacityGuard | None = None,
        engage_at: EngageAt = "always",
    ) -> None:
        if not isinstance(config, PolicyConfig):
            raise PolicyError("config", config, "must be a PolicyConfig")
        if late not in ("clamp", "reject"):
            raise PolicyError("late", late, "must be 'clamp' or 'reject'")
        self._init_capacity(capacity, engage_at)
        self._config = config
        self._late_mode: LateMode = late
        self._reject_late = late == "reject"
        self._rules: dict[int, _Rule] = {}
        self._clock: float = -math.inf
        self._sequence = 0
        self._ends: LazySchedule[_Episode] = LazySchedule(_Episode.end_time)
        self._end_heap = self._ends.heap
        # Keys that may be idle: (time its window empties, device_id, code), one entry
        # per tracked key, except keys parked in an open episode (_evict). An entry is
        # a lower bound: a key that got alerts since is put back when it surfaces (the
        # same lazy scheme as LazySchedule, inlined here because every short-lived key
        # passes through it twice).
        self._idle_heap: list[tuple[float, str, int]] = []
        # Throttled counts of keys dropped for idleness: (device_id, code) -> (count, episode).
        self._pending: dict[tuple[str, int], tuple[int, int]] = {}
        self._tracked = 0
        self._open = 0
        self._total = 0
        self._delivered = 0
        self._throttled = 0
        self._exempt = 0
        self._late = 0
        if max_keys is not None and (type(max_keys) is not int or max_keys < 1):
            raise PolicyError("max_keys", max_keys, "must be an integer >= 1 or None")
        self._max_keys = max_keys
        self._evicted = 0
        self._history: list[ConfigChange] = [initial_entry(config)]

    # -- public state ---------------------------------------------------------------

    @property
    def config(self) -> PolicyConfig:
        """The configuration in force."""
        return self._config

    @property
    def capacity(self) -> CapacityGuard | None:
        """The capacity guard that sees every alert fed, if any (docs/operations.md)."""
        return self._capacity

    @property
    def engage_at(self) -> EngageAt:
        """The capacity level from which episodes start: ``"always"``, ``"amber"`` or ``"red"``."""
        return self._engage_at

    @property
    def late(self) -> LateMode:
        """What happens to alerts older than the clock: ``"clamp"`` or ``"reject"``."""
        return self._late_mode

    @property
    def clock(self) -> float | None:
        """The largest time seen through ``feed`` or ``advance``; ``None`` before any."""
        return None if self._clock == -math.inf else self._clock

    @property
    def stats(self) -> Stats:
        """Running totals (a snapshot; later calls do not change it)."""
        return Stats(
            total=self._total,
            delivered=self._delivered,
            throttled=self._throttled,
            exempt=self._exempt,
            late=self._late,
            episodes=self._sequence,
            open_episodes=self._open,
            tracked_keys=self._tracked,
            evicted=self._evicted,
        )

    def pending_counts(self) -> dict[tuple[str, int], ThrottleMetadata]:
        """Throttled counts still waiting for their key's next delivered alert.

        Keyed by ``(device_id, code)``; together with the counts already
        delivered they add up to ``stats.throttled``.
        """
        waiting = {
            key: ThrottleMetadata(True, count, sequence)
            for key, (count, sequence) in self._pending.items()
        }
        for rule in self._rules.values():
            for device_id, window in rule.keys.items():
                if window.pending_sequence is not None:
                    waiting[device_id, rule.code] = ThrottleMetadata(
                        True, window.pending, window.pending_sequence
                    )
        return waiting

    def open_episodes(self) -> list[ThrottlingStarted]:
        """The episodes not yet ended, as the events that started them, oldest first."""
        started = [
            episode.started for episode in self._ends.items() if episode.end_time() is not None
        ]
        return sorted(started, key=lambda event: event.sequence_id)

    # -- feeding ----------------------------------------------------------------------

    def feed(self, alert: Alert) -> Decision:
        """Decide one alert (SEMANTICS steps 1-5) and return the decision, O(1) amortised."""
        if type(alert) is not Alert:
            raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
        t = alert.timestamp
        if t < self._clock:
            if self._reject_late:
                raise LateAlertError(
                    "timestamp", t, f"is before the policy clock ({self._clock}) with late='reject'"
                )
            t = self._clock
            late = True
            self._late += 1
        else:
            self._clock = t
            late = False

        # Step 1: episodes (of any key) that ended by t are closed first. The heaps'
        # first entries are lower bounds, so a quiet check costs two comparisons.
        ends = self._end_heap
        ended: Sequence[Event] | None = self._close_due(t) if ends and ends[0][0] <= t else None
        idle = self._idle_heap
        if idle and idle[0][0] <= t:
            self._drop_idle(t)

        # Capacity: the guard counts every alert, exempt ones too (docs/operations.md).
        guard = self._capacity
        if guard is not None:
            changes = guard._observe(t)
            if changes:
                ended = sorted([*(ended or ()), *changes], key=_AT)

        self._total += 1
        rule = self._rules.get(alert.code) or self._rule_for(alert.code)
        if rule.threshold is None:
            # Step 2 (exempt: neither throttled nor counted) and step 3 (no threshold).
            return self._pass(rule.exempt, late, ended)

        device_id = alert.device_id
        window = rule.keys.get(device_id)
        if window is None:
            # Step 4 for a key with nothing in its window: one alert never exceeds
            # a limit (limit >= 1), so it is delivered.
            window = self._track(rule, device_id, t)
            self._delivered += 1
            if window.pending or ended or late:
                return self._report(window, late, ended, sampled=False)
            return _DELIVER

        # KeyWindow.push, inlined: this is the hottest code of the library.
        times = window.times
        pos = window.pos
        times[pos] = t
        pos += 1
        window.pos = pos = 0 if pos == rule.size else pos
        episode = window.episode

        if episode is None:
            # Step 4: more than `limit` alerts in (t - period, t] <=> the oldest of
            # the last limit + 1 (the slot the next push overwrites) is inside it.
            # Below `engage_at` no episode starts, but the alert stays in the window,
            # so the key starts one on its first alert once the level has risen.
            if times[pos] > t - rule.period and (
                guard is None or guard.level >= self._engage_level
            ):
                return self._start_episode(rule, window, alert, t, late, ended)
            self._delivered += 1
            window.last_delivered = t
            if window.pending or ended or late:
                return self._report(window, late, ended, sampled=False)
            return _DELIVER

        # Step 5: in an episode, only samples get through.
        number = episode.alerts = episode.alerts + 1
        if rule.sampling and (
            (rule.sample_every and number % rule.sample_every == 0)
            or (
                rule.sample_interval is not None
                and t - window.last_delivered >= rule.sample_interval
            )
        ):
            episode.sampled += 1
            self._delivered += 1
            window.last_delivered = t
            return self._report(window, late, ended, sampled=True)
        episode.throttled += 1
        self._throttled += 1
        window.pending += 1
        window.pending_sequence = episode.sequence_id
        if ended or late:
            return Decision(Verdict.THROTTLE, late=late, events=tuple(ended or ()))
        return _THROTTLE

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """``feed`` each alert in order and return the decisions.

        If an alert raises, the ones before it stay applied and the exception's
        ``index`` says where the batch stopped.
        """
        # Every successful feed counts exactly one alert, so the count since the
        # start of the batch is the index of the alert that raised.
        start = self._total
        try:
            return list(map(self.feed, alerts))
        except AlertThrottleError as exc:
            exc.at_index(self._total - start)
            raise

    def advance(self, now: float | object) -> list[Event]:
        """Move the clock to ``now`` and return the episode ends due by then.

        With a capacity guard, its level falls due by then come too, all in
        order of ``at``. A ``now`` below the clock moves nothing and returns nothing.
        """
        t = parse_timestamp(now, "now")
        if t < self._clock:
            return []
        ended: list[Event] = [*self._advance_episodes(t)]
        if self._capacity is not None:
            changes = self._capacity.advance(t)
            if changes:
                ended = sorted((*ended, *changes), key=_AT)
        return ended

    def _advance_episodes(self, t: float) -> list[ThrottlingEnded]:
        """``advance`` to ``t`` (not below the clock) without the capacity guard."""
        self._clock = t
        ended = self._close_due(t)
        self._drop_idle(t)
        return ended

    # -- state that survives ------------------------------------------------------------

    @property
    def max_keys(self) -> int | None:
        """The bound on keys held in memory, or ``None`` for no bound."""
        return self._max_keys

    @property
    def config_history(self) -> tuple[ConfigChange, ...]:
        """Every configuration this policy has had, oldest first (version 1 is the initial one)."""
        return tuple(self._history)

    def reconfigure(
        self, new_config: PolicyConfig, *, at: float | object, reason: str
    ) -> ConfigChange:
        """Put ``new_config`` in force at ``at`` (not before the clock), keeping all key history.

        Episodes due by ``at`` are closed first; the returned :class:`ConfigChange`
        (also appended to :attr:`config_history`) carries those events and the
        ones the change itself causes. docs/reconfiguration.md gives the rules.
        """
        return apply_config(self, new_config, at, reason)

    def snapshot(self, *, compress: bool = False) -> bytes:
        """The whole state as bytes (JSON, gzip when ``compress``): see docs/snapshots.md."""
        from .snapshot import dump_policy

        return dump_policy(self, compress=compress)

    @classmethod
    def restore(cls, data: bytes, *, expected_config: PolicyConfig | None = None) -> ThrottlePolicy:
        """A policy in exactly the state :meth:`snapshot` saw: it goes on as if never stopped.

        Raises :class:`SnapshotError` for a newer format, truncated or corrupted
        data, or (when ``expected_config`` is given) a snapshot of another config.
        """
        from .snapshot import load_policy

        return load_policy(cls, data, expected_config)

    def save(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        """Write :meth:`snapshot` to ``path`` atomically: a crash leaves the old file whole."""
        from .snapshot import write_atomically

        write_atomically(path, self.snapshot(compress=compress))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, expected_config: PolicyConfig | None = None
    ) -> ThrottlePolicy:
        """Read a file written by :meth:`save` and :meth:`restore` it."""
        with open(path, "rb") as stream:
            data = stream.read()
        return cls.restore(data, expected_config=expected_config)

    # -- the verdicts -------------------------------------------------------------------

    def _pass(self, exempt: bool, late: bool, ended: Sequence[Event] | None) -> Decision:
        """Decide an alert whose key is not throttled (steps 2 and 3)."""
        if exempt:
            self._exempt += 1
            verdict = Verdict.EXEMPT
        else:
            self._delivered += 1
            verdict = Verdict.DELIVER
        if ended:
            return Decision(verdict, late=late, events=tuple(ended))
        if exempt:
            return _EXEMPT_LATE if late else _EXEMPT
        return _DELIVER_LATE if late else _DELIVER

    def _report(
        self, window: KeyWindow, late: bool, ended: Sequence[Event] | None, *, sampled: bool
    ) -> Decision:
        """A delivery with something to say: a count to report, events, lateness or a sample."""
        sequence = window.pending_sequence
        metadata = NO_METADATA
        if sequence is not None:
            metadata = ThrottleMetadata(True, window.pending, sequence)
            window.pending = 0
            window.pending_sequence = None
        elif not (ended or sampled):
            return _DELIVER_LATE if late else _DELIVER
        return Decision(Verdict.DELIVER, metadata, late, tuple(ended or ()), sampled)

    def _start_episode(
        self,
        rule: _Rule,
        window: KeyWindow,
        alert: Alert,
        t: float,
        late: bool,
        ended: Sequence[Event] | None,
    ) -> Decision:
        self._sequence += 1
        self._open += 1
        self._throttled += 1
        started = ThrottlingStarted(
            device_id=alert.device_id,
            code=rule.code,
            at=t,
            sequence_id=self._sequence,
            window_count=window.count_after(t - rule.period),
            recipients=alert.recipients,
        )
        episode = _Episode(rule, window, started)
        window.episode = episode
        window.pending += 1
        window.pending_sequence = self._sequence
        self._ends.add(episode, window.recent(rule.resume_below) + rule.period)
        return Decision(Verdict.THROTTLE, late=late, events=(*(ended or ()), started))

    # -- housekeeping ---------------------------------------------------------------------

    def _close_due(self, t: float) -> list[ThrottlingEnded]:
        """Close every episode whose end is ``<= t``, in order of end time."""
        ended: list[ThrottlingEnded] = []
        for end, episode in self._ends.pop_due(t):
            episode.window.episode = None
            self._open -= 1
            if episode.parked:
                self._unpark(episode)
            ended.append(episode.ended(end))
        return ended

    def _unpark(self, episode: _Episode) -> None:
        """File the key of ``episode``, which has just ended, in the idle schedule again."""
        window = episode.window
        rule = episode.rule
        when = window.times[window.pos - 1] + rule.period
        heappush(self._idle_heap, (when, episode.started.device_id, rule.code))

    def _drop_idle(self, t: float) -> None:
        """Forget keys whose window is empty at ``t``, keeping any pending count."""
        heap = self._idle_heap
        rules = self._rules
        while heap and heap[0][0] <= t:
            _, device_id, code = heap[0]
            rule = rules[code]
            window = rule.keys[device_id]
            empties = window.times[window.pos - 1] + rule.period
            if empties > t:
                # The key had alerts since it was filed: file it again, in one sift.
                heapreplace(heap, (empties, device_id, code))
                continue
            heappop(heap)
            del rule.keys[device_id]
            self._tracked -= 1
            # An episode ends no later than its window empties, and was closed first.
            assert window.episode is None
            if window.pending_sequence is not None:
                self._pending[device_id, code] = (window.pending, window.pending_sequence)

    def _track(self, rule: _Rule, device_id: str, t: float) -> KeyWindow:
        """Start holding state for a key whose only alert in its window, at ``t``, is delivered."""
        if self._max_keys is not None and self._tracked >= self._max_keys:
            self._evict(self._tracked - self._max_keys + 1)
        window = KeyWindow(rule.size, t)
        window.last_delivered = t
        if self._pending:
            left = self._pending.pop((device_id, rule.code), None)
            if left is not None:
                window.pending, window.pending_sequence = left
        rule.keys[device_id] = window
        self._tracked += 1
        heappush(self._idle_heap, (t + rule.period, device_id, rule.code))
        return window

    def _evict(self, count: int) -> None:
        """Forget ``count`` keys, those whose windows empty soonest outside open episodes.

        Their pending counts are kept, as for idle keys. Keys in open episodes
        are never evicted: one met here is parked (taken out of the idle
        schedule until its episode ends), so later evictions do not meet it
        again. With too few other keys, the bound is exceeded until a later new
        key finds episodes ended. O((k + p) log n) for k keys evicted or
        re-filed and p keys parked.
        """
        heap = self._idle_heap
        rules = self._rules
        while count and heap:
            entry = heap[0]
            _, device_id, code = entry
            rule = rules[code]
            window = rule.keys[device_id]
            episode = window.episode
            if episode is not None:
                # Whatever its filed time, the key cannot go before its episode ends;
                # the order of the other keys does not depend on its entry.
                heappop(heap)
                episode.parked = True
                continue
            empties = window.times[window.pos - 1] + rule.period
            if empties > entry[0]:
                heapreplace(heap, (empties, device_id, code))
                continue
            heappop(heap)
            del rule.keys[device_id]
            self._tracked -= 1
            self._evicted += 1
            count -= 1
            if window.pending_sequence is not None:
                self._pending[device_id, code] = (window.pending, window.pending_sequence)

    def _init_capacity(self, capacity: CapacityGuard | None, engage_at: EngageAt) -> None:
        if capacity is not None and not isinstance(capacity, CapacityGuard):
            raise PolicyError("capacity", capacity, "must be a CapacityGuard or None")
        if engage_at not in _ENGAGE_LEVELS:
            raise PolicyError("engage_at", engage_at, "must be 'always', 'amber' or 'red'")
        if capacity is None and engage_at != "always":
            raise PolicyError("engage_at", engage_at, "needs a capacity guard (capacity=...)")
        self._capacity = capacity
        self._engage_at: EngageAt = engage_at
        self._engage_level = _ENGAGE_LEVELS[engage_at]

    def _rule_for(self, code: int) -> _Rule:
        config = self._config
        exempt = code in config.exempt_codes
        threshold = None if exempt else config.per_code.get(code, config.default)
        rule = _Rule(code, threshold, exempt)
        self._rules[code] = rule
        return rule

    def _check(self) -> None:
        """Assert the policy's invariants (tests run it after every step)."""
        assert self._delivered + self._throttled + self._exempt == self._total
        if self._capacity is not None:
            self._capacity._check()
        assert self._tracked == sum(len(rule.keys) for rule in self._rules.values())
        self._ends._check()
        idle = self._idle_heap
        for index in range(1, len(idle)):
            assert idle[(index - 1) // 2] <= idle[index], index
        live = [e for e in self._ends.items() if e.end_time() is not None]
        assert len(live) == len({id(e) for e in live}) == self._open
        # Every tracked key is filed exactly once, unless it is parked: in an open
        # episode flagged parked, and then not filed at all.
        filed: dict[tuple[int, str], float] = {}
        for when, device_id, code in idle:
            assert (code, device_id) not in filed, (code, device_id)
            filed[code, device_id] = when
        parked = 0
        pending = 0
        for rule in self._rules.values():
            for device_id, window in rule.keys.items():
                window._check()
                episode = window.episode
                if episode is not None and episode.parked:
                    parked += 1
                    assert (rule.code, device_id) not in filed
                else:
                    assert (rule.code, device_id) in filed
                    assert window.recent(1) + rule.period >= filed[rule.code, device_id]
                assert (device_id, rule.code) not in self._pending
                pending += window.pending
                if episode is not None:
                    assert episode.window is window and episode in live
                    assert episode.rule is rule
                    end = episode.end_time()
                    assert end is not None and end > self._clock
                else:
                    assert window.recent(1) + rule.period > self._clock
        assert len(filed) + parked == self._tracked
        pending += sum(count for count, _ in self._pending.values())
        assert pending <= self._throttled
