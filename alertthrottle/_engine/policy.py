"""``ThrottlePolicy``: the normative semantics (docs/semantics.md), alert by alert.

Cost per alert is O(1) (plus O(log n) per episode start or end, n open
episodes or live keys); memory follows the keys with alerts in their window.
The core never reads the wall clock: time arrives with the alerts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from operator import attrgetter

from .._core.alert import Alert, parse_timestamp
from .._core.config import PolicyConfig
from .._core.decision import NO_METADATA, Decision, Stats, ThrottleMetadata, Verdict
from .._core.errors import AlertThrottleError, InvalidAlertError, LateAlertError
from .._core.events import Event, ThrottlingStarted
from .capacity import CapacityGuard
from .history import ConfigChange
from .reconfigure import apply_config
from .snapshot import dump_policy, restore_policy, write_atomically
from .state import EngageAt, EngineState, LateMode
from .window import Episode, KeyWindow, Rule

__all__ = ["EngageAt", "LateMode", "ThrottlePolicy"]

_AT = attrgetter("at")

_DELIVER = Decision(Verdict.DELIVER)
_DELIVER_LATE = Decision(Verdict.DELIVER, late=True)
_THROTTLE = Decision(Verdict.THROTTLE)
_THROTTLE_LATE = Decision(Verdict.THROTTLE, late=True)
_EXEMPT = Decision(Verdict.EXEMPT)
_EXEMPT_LATE = Decision(Verdict.EXEMPT, late=True)


class ThrottlePolicy(EngineState):
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
        super().__init__(config, late, max_keys, capacity, engage_at)

    # -- public state ---------------------------------------------------------------

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
        for rule, device_id, window in self.tracked_keys():
            if window.pending_sequence is not None:
                waiting[device_id, rule.code] = ThrottleMetadata(
                    True, window.pending, window.pending_sequence
                )
        return waiting

    def open_episodes(self) -> list[ThrottlingStarted]:
        """The episodes not yet ended, as the events that started them, oldest first."""
        started = [episode.started for _, episode in self.end_entries()]
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
        ended: Sequence[Event] | None = self.close_due(t) if ends and ends[0][0] <= t else None
        idle = self._idle_heap
        if idle and idle[0][0] <= t:
            self.drop_idle(t)

        # Capacity: the guard counts every alert, exempt ones too (docs/operations.md).
        guard = self._capacity
        if guard is not None:
            changes = guard._observe(t)
            if changes:
                ended = sorted([*(ended or ()), *changes], key=_AT)

        self._total += 1
        rule = self._rules.get(alert.code) or self.rule_for(alert.code)
        if rule.threshold is None:
            # Step 2 (exempt: neither throttled nor counted) and step 3 (no threshold).
            return self._pass(rule.exempt, late, ended)

        device_id = alert.device_id
        window = rule.keys.get(device_id)
        if window is None:
            # Step 4 for a key with nothing in its window: one alert never exceeds
            # a limit (limit >= 1), so it is delivered.
            window = self.track(rule, device_id, t)
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
        ended: list[Event] = [*self.advance_episodes(t)]
        if self._capacity is not None:
            changes = self._capacity.advance(t)
            if changes:
                ended = sorted((*ended, *changes), key=_AT)
        return ended

    def reconfigure(
        self, new_config: PolicyConfig, *, at: float | object, reason: str
    ) -> ConfigChange:
        """Put ``new_config`` in force at ``at`` (not before the clock), keeping all key history.

        Episodes due by ``at`` are closed first; the returned :class:`ConfigChange`
        (also appended to :attr:`config_history`) carries those events and the
        ones the change itself causes. docs/reconfiguration.md gives the rules.
        """
        return apply_config(self, new_config, at, reason)

    def snapshot(self, *, compress: bool = False, key: bytes | None = None) -> bytes:
        """The whole state as bytes (JSON, gzip when ``compress``): see docs/snapshots.md.

        With ``key`` (secret bytes) the snapshot is signed with HMAC-SHA256.
        """
        return dump_policy(self, compress=compress, key=key)

    @classmethod
    def restore(
        cls,
        data: bytes,
        *,
        expected_config: PolicyConfig | None = None,
        key: bytes | None = None,
    ) -> ThrottlePolicy:
        """A policy in exactly the state :meth:`snapshot` saw: it goes on as if never stopped.

        Raises :class:`SnapshotError` for a newer format, truncated or corrupted
        data, (when ``expected_config`` is given) a snapshot of another config,
        or (when ``key`` is given) a snapshot not signed with that key.
        """
        return restore_policy(cls, data, expected_config, key)

    def save(
        self, path: str | os.PathLike[str], *, compress: bool = False, key: bytes | None = None
    ) -> None:
        """Write :meth:`snapshot` to ``path`` atomically: a crash leaves the old file whole."""
        write_atomically(path, self.snapshot(compress=compress, key=key))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        expected_config: PolicyConfig | None = None,
        key: bytes | None = None,
    ) -> ThrottlePolicy:
        """Read a file written by :meth:`save` and :meth:`restore` it."""
        with open(path, "rb") as stream:
            data = stream.read()
        return cls.restore(data, expected_config=expected_config, key=key)

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
        rule: Rule,
        window: KeyWindow,
        alert: Alert,
        t: float,
        late: bool,
        ended: Sequence[Event] | None,
    ) -> Decision:
        self._sequence += 1
        self._throttled += 1
        started = ThrottlingStarted(
            device_id=alert.device_id,
            code=rule.code,
            at=t,
            sequence_id=self._sequence,
            window_count=window.count_after(t - rule.period),
            recipients=alert.recipients,
        )
        episode = Episode(rule, window, started)
        window.episode = episode
        window.pending += 1
        window.pending_sequence = self._sequence
        self.start_episode(episode, window.recent(rule.resume_below) + rule.period)
        return Decision(Verdict.THROTTLE, late=late, events=(*(ended or ()), started))

    def _check(self) -> None:
        """Assert the policy's invariants (tests run it after every step)."""
        EngineState._check(self)
