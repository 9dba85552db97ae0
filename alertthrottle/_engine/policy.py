"""``ThrottlePolicy``: the normative semantics (docs/semantics.md), alert by alert.

Cost per alert is O(1) (plus O(log n) per episode start or end, n open
episodes or live keys); memory follows the keys with alerts in their window.
The core never reads the wall clock: time arrives with the alerts.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from .._core.alert import Alert, parse_timestamp
from .._core.columns import AlertColumns, gather, shapes_of
from .._core.config import PolicyConfig
from .._core.decision import (
    NO_METADATA,
    Decision,
    Stats,
    ThrottleMetadata,
    Verdict,
    made_decision,
    pending_metadata,
)
from .._core.errors import AlertThrottleError, InvalidAlertError, LateAlertError
from .._core.events import Event, ThrottlingStarted, checked_started
from .._core.shapes import ShapeTable
from .capacity import CapacityGuard
from .history import ConfigChange
from .reconfigure import apply_config
from .snapshot import dump_policy, restore_policy, write_atomically
from .state import EngageAt, EngineState, LateMode
from .window import Episode, KeyWindow, Rule, ring_of

__all__ = ["EngageAt", "LateMode", "ThrottlePolicy"]

_AT = attrgetter("at")

_DELIVER = Decision(Verdict.DELIVER)
_DELIVER_LATE = Decision(Verdict.DELIVER, late=True)
_THROTTLE = Decision(Verdict.THROTTLE)
_THROTTLE_LATE = Decision(Verdict.THROTTLE, late=True)
_EXEMPT = Decision(Verdict.EXEMPT)
_EXEMPT_LATE = Decision(Verdict.EXEMPT, late=True)


def _report(window: KeyWindow, sampled: bool) -> Decision:
    """A delivery with something to say: a count to report, or a sample."""
    sequence = window.pending_sequence
    metadata = NO_METADATA
    if sequence is not None:
        metadata = pending_metadata(window.pending, sequence)
        window.pending = 0
        window.pending_sequence = None
    elif not sampled:
        return _DELIVER
    return made_decision(Verdict.DELIVER, metadata, False, (), sampled)


def _first(window: KeyWindow | None) -> Decision:
    """The delivery of a key's first alert in its window; ``window`` if it had a count pending."""
    return _DELIVER if window is None else _report(window, False)


def _decorated(decision: Decision, late: bool, ended: Sequence[Event]) -> Decision:
    """``decision``, made for an alert as if in order with nothing due, for an alert that
    was ``late`` or found the events ``ended`` due before it (they come first)."""
    if not ended:
        # Late only: the shared decisions have late twins.
        if decision is _DELIVER:
            return _DELIVER_LATE
        if decision is _EXEMPT:
            return _EXEMPT_LATE
    return made_decision(
        decision.verdict, decision.metadata, late, (*ended, *decision.events), decision.sampled
    )


def _complete(decisions: list[Decision], marks: list[Any]) -> None:
    """Complete the decisions of the alerts off the common path: ``_decide``'s ``marks``,
    flat (index in ``decisions``, late, events due before it) for each alert."""
    # (Flat: a tuple each, all alive at once, would be kept on CPython's tuple free list.)
    for start in range(0, len(marks), 3):
        index, late, ended = marks[start : start + 3]
        if index < len(decisions):  # (not the alert that raised)
            decisions[index] = _decorated(decisions[index], late, ended)


class _Plan:
    """A policy's rules for the shapes of one table (``ThrottlePolicy._plan_of``)."""

    __slots__ = ("made", "missing", "rules", "size", "table")

    def __init__(self, table: ShapeTable, made: int) -> None:
        self.table = table
        #: Each planned shape's rule, by index; a shape whose code had no rule has none.
        self.rules: dict[int, Rule] = {}
        #: Those shapes, by code.
        self.missing: dict[int, list[int]] = {}
        #: How many shapes are planned, and how many rules the policy had then.
        self.size = 0
        self.made = made


class ThrottlePolicy(EngineState):
    """Decides, alert by alert, which alerts reach their recipients (SECMP0062 throttling).

    Feed alerts in time order with :meth:`feed` or :meth:`feed_many`; each
    returns a :class:`Decision` with DUIS-style metadata and the episode events
    that fell due. :meth:`advance` moves the clock without an alert, to close
    episodes that ended in a quiet spell. ``late`` says what to do with an
    alert older than the clock: ``"clamp"`` (treat it as arriving now, flagged
    ``late``) or ``"reject"`` (raise :class:`LateAlertError`). ``max_keys``
    bounds the keys held in memory (docs/memory.md says which key is evicted).

    A policy is **not thread-safe**: calls from two threads at once can corrupt
    it for good. Give each thread its own policy, or share a :class:`LockedPolicy`.
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
        # The rule of each shape of the table last decided from (see _plan_of). One
        # attribute: a few more and CPython no longer specialises `self.` loads.
        self._plan: _Plan | None = None

    # -- public state ---------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """Running totals (a snapshot; later calls do not change it)."""
        self._settle()
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
            dropped_counts=self._dropped_counts,
            dropped_throttled=self._dropped_throttled,
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
        for rule, device_id, window in self._tracked_keys():
            if window.pending_sequence is not None:
                waiting[device_id, rule.code] = ThrottleMetadata(
                    True, window.pending, window.pending_sequence
                )
        return waiting

    def open_episodes(self) -> list[ThrottlingStarted]:
        """The episodes not yet ended, as the events that started them, oldest first."""
        started = [episode.started for _, episode in self._end_entries()]
        return sorted(started, key=lambda event: event.sequence_id)

    # -- feeding ----------------------------------------------------------------------

    def feed(self, alert: Alert) -> Decision:
        """Decide one alert (the rules of docs/semantics.md); O(1) amortised.

        The alerts whose decision is a shared constant are decided here, as
        ``_decide_columns`` decides its common rows (no capacity guard, in time
        order with nothing due, a known code, no count pending, no event, no
        sample, no ``max_keys`` bookkeeping): ``_decide``'s frame would cost
        more than deciding them. Any other alert goes through ``_decide`` alone.
        """
        if type(alert) is not Alert or self._capacity is not None:
            return self._decide_one(alert)
        t = alert.timestamp
        if not (self._clock <= t and t < self._due):
            return self._decide_one(alert)
        try:
            rule = self._rules[alert.code]
        except KeyError:
            return self._decide_one(alert)
        # Step 1 has nothing to do: _decide would move the clock to t as well.
        self._clock = t
        if not rule.throttles:
            self._total += 1
            if rule.exempt:
                self._exempt += 1
                return _EXEMPT
            return _DELIVER
        device_id = alert.device_id
        keys = rule.keys
        window = keys.get(device_id)
        if window is None:
            pending = self._pending
            if self._max_keys is None and not (pending and (device_id, rule.code) in pending):
                # A key's first alert: its bare time, queued.
                keys[device_id] = t
                queued = rule.fifo_times
                if not queued:
                    self._lower_idle_due(t + rule.period)
                queued.append(t)
                rule.fifo_devices.append(device_id)
                self._tracked += 1
                self._total += 1
                return _DELIVER
        else:
            period = rule.span
            if type(window) is not KeyWindow:
                if window + period <= t:  # type: ignore[operator]
                    keys[device_id] = t
                    self._total += 1
                    return _DELIVER
                window = keys[device_id] = ring_of(rule.size, window)  # type: ignore[arg-type]
            times = window.times
            episode = window.episode
            if episode is None:
                if window.pending_sequence is None:
                    # _decide's step 4: the idle test (on the newest time), then the
                    # limit's, taken before the push.
                    size = rule.size
                    held = len(times)
                    if held < size:
                        if times[held - 1] + period <= t:
                            self._renew(rule, device_id, window, t)
                            self._total += 1
                            return _DELIVER
                        if held + 1 < size or times[0] <= t - period:
                            times.append(t)
                            window.last_delivered = t
                            self._total += 1
                            return _DELIVER
                    else:
                        pos = window.pos
                        if times[pos - 1] + period <= t:
                            self._renew(rule, device_id, window, t)
                            self._total += 1
                            return _DELIVER
                        pos += 1
                        if pos == size:
                            pos = 0
                        if times[pos] <= t - period:
                            times[pos - 1] = t
                            window.pos = pos
                            window.last_delivered = t
                            self._total += 1
                            return _DELIVER
            elif not rule.sampling or not (
                (rule.sample_every and not (episode.alerts + 1) % rule.sample_every)
                or (
                    rule.sample_interval is not None
                    and t - window.last_delivered >= rule.sample_interval
                )
            ):
                # Step 5 for an alert that is not a sample: pushed, counted, throttled.
                size = rule.size
                if len(times) < size:
                    times.append(t)
                else:
                    pos = window.pos
                    times[pos] = t
                    pos += 1
                    if pos == size:
                        pos = 0
                    window.pos = pos
                episode.alerts += 1
                episode.throttled += 1
                window.pending += 1
                window.pending_sequence = episode.sequence_id
                self._throttled += 1
                self._total += 1
                return _THROTTLE
        return self._decide_one(alert)

    def _decide_one(self, alert: Alert) -> Decision:
        """``_decide`` for one alert."""
        decisions: list[Decision] = []
        self._decide((alert,), decisions)
        return decisions[0]

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """``feed`` each alert in order and return the decisions.

        If an alert raises, the ones before it stay applied: the exception's
        ``index`` says where the batch stopped and its ``decisions`` are those
        of the alerts before it, exactly as ``feed`` returned them.
        """
        decisions: list[Decision] = []
        try:
            self._decide(alerts, decisions)
        except AlertThrottleError as exc:
            exc.at_index(len(decisions), decisions)
            raise
        return decisions

    def feed_columns(self, columns: AlertColumns) -> list[Decision]:
        """``feed_many`` for a block of alerts held as :class:`AlertColumns`.

        The same decisions, in the same order, as ``feed_many`` of the block's
        rows, and the same partial result when an alert raises (``index``,
        ``decisions``). The columns were checked when made, so the common rows
        are decided straight from them, without an ``Alert`` object each (which
        costs about as much as deciding it); the rest go through ``feed``'s loop.
        """
        if type(columns) is not AlertColumns:
            raise InvalidAlertError("columns", columns, "must be an alertthrottle.AlertColumns")
        decisions: list[Decision] = []
        try:
            if self._capacity is None:
                self._decide_columns(columns, decisions)
            else:
                # The guard observes every alert: each row is an Alert through _decide.
                self._decide(columns, decisions)
        except AlertThrottleError as exc:
            exc.at_index(len(decisions), decisions)
            raise
        return decisions

    def _decide_columns(self, columns: AlertColumns, decisions: list[Decision]) -> None:
        """``_decide`` over columns (no capacity guard): common rows inline, others one by one.

        Only rows whose decision is a shared constant are decided here, exactly
        as ``_decide`` decides them: in time order with no episode ending, a
        known code, no count pending, no event, no sample, no ``max_keys``
        bookkeeping. Any other row (late, an episode ending or starting, a
        code's first alert, a count to report, a sample, a key bound) is made
        an ``Alert`` and handed to ``_decide`` alone, the loop's locals written
        back to the state first and read again after, so the rules that build
        events and metadata live in one place. ``decisions`` comes empty; the
        totals follow ``_decide``'s scheme.
        """
        rules = self._rules
        pending = self._pending
        bounded = self._max_keys is not None
        clock = self._clock
        due = self._due
        exempt = tracked = throttled = 0
        # Decisions already added to self._total (those made by _decide count themselves).
        counted = 0
        one: list[Decision] = []
        row = columns.alert
        # Each row's rule is rules[key]: by code, or a shaped block's by shape (its
        # device ids gathered from the shapes, its other columns not read).
        shaped = shapes_of(columns)
        row_keys: Sequence[int]
        ids: Sequence[str]
        if shaped is None:
            row_keys, ids = columns.codes, columns.device_ids
        else:
            row_keys, table = shaped
            rules = self._plan_of(table)
            ids = gather(table.device_ids, row_keys)
        # Bound once: a local is cheaper than a global per row. A key's state is the
        # engine's own, so its class is read as `__class__` (cheaper than type()).
        window_type = KeyWindow
        deliver, throttle, exempted = _DELIVER, _THROTTLE, _EXEMPT
        try:
            for t, device_id, key in zip(columns.timestamps, ids, row_keys, strict=True):
                if clock <= t < due or (clock <= t and not self._ends_by(t)):
                    if t >= due:
                        # Step 1 with no episode ending by t: stale episode-end
                        # entries are re-filed and idle keys dropped, which changes
                        # no decision; as in _decide.
                        self._clock = t
                        self._tracked += tracked
                        tracked = 0
                        self._housekeeping(t)
                        due = self._due
                    clock = t
                    try:
                        rule = rules[key]
                    except KeyError:
                        pass
                    else:
                        if not rule.throttles:
                            if rule.exempt:
                                decisions.append(exempted)
                                exempt += 1
                            else:
                                decisions.append(deliver)
                            continue
                        keys = rule.keys
                        window = keys.get(device_id)
                        if window is None:
                            if not (bounded or (pending and (device_id, rule.code) in pending)):
                                # A key's first alert: its bare time, queued.
                                keys[device_id] = t
                                queued = rule.fifo_times
                                if not queued:
                                    due = self._lower_idle_due(t + rule.period)
                                queued.append(t)
                                rule.fifo_devices.append(device_id)
                                tracked += 1
                                decisions.append(deliver)
                                continue
                        else:
                            period = rule.span
                            if window.__class__ is not window_type:
                                if window + period <= t:  # type: ignore[operator]
                                    keys[device_id] = t
                                    decisions.append(deliver)
                                    continue
                                window = keys[device_id] = ring_of(rule.size, window)  # type: ignore[arg-type]
                            times = window.times
                            episode = window.episode
                            if episode is None:
                                if window.pending_sequence is None:
                                    # Idle (its newest time out of the window): a new
                                    # key. Else a delivery if, after the push, the ring
                                    # is not full or its oldest time (the next slot) is
                                    # out of the window: _decide's step-4 tests, taken
                                    # before the push.
                                    size = rule.size
                                    held = len(times)
                                    if held < size:
                                        if times[held - 1] + period <= t:
                                            self._renew(rule, device_id, window, t)
                                            decisions.append(deliver)
                                            continue
                                        if held + 1 < size or times[0] <= t - period:
                                            times.append(t)
                                            window.last_delivered = t
                                            decisions.append(deliver)
                                            continue
                                    else:
                                        pos = window.pos
                                        if times[pos - 1] + period <= t:
                                            self._renew(rule, device_id, window, t)
                                            decisions.append(deliver)
                                            continue
                                        pos += 1
                                        if pos == size:
                                            pos = 0
                                        if times[pos] <= t - period:
                                            times[pos - 1] = t
                                            window.pos = pos
                                            window.last_delivered = t
                                            decisions.append(deliver)
                                            continue
                            elif not rule.sampling or not (
                                (rule.sample_every and not (episode.alerts + 1) % rule.sample_every)
                                or (
                                    rule.sample_interval is not None
                                    and t - window.last_delivered >= rule.sample_interval
                                )
                            ):
                                # Step 5 for an alert that is not a sample (_decide's
                                # test, taken before anything changes): pushed, counted,
                                # throttled.
                                size = rule.size
                                if len(times) < size:
                                    times.append(t)
                                else:
                                    pos = window.pos
                                    times[pos] = t
                                    pos += 1
                                    if pos == size:
                                        pos = 0
                                    window.pos = pos
                                episode.alerts += 1
                                episode.throttled += 1
                                window.pending += 1
                                window.pending_sequence = episode.sequence_id
                                decisions.append(throttle)
                                throttled += 1
                                continue
                # Any other row: _decide alone, on the state made whole.
                self._clock = clock
                self._total += len(decisions) - counted
                self._exempt += exempt
                self._tracked += tracked
                self._throttled += throttled
                exempt = tracked = throttled = 0
                counted = len(decisions)
                self._decide((row(counted),), one)
                decisions.append(one.pop())
                counted += 1
                clock = self._clock
                due = self._due
        finally:
            self._clock = clock
            self._total += len(decisions) - counted
            if exempt:
                self._exempt += exempt
            if tracked:
                self._tracked += tracked
            if throttled:
                self._throttled += throttled

    def _plan_of(self, table: ShapeTable) -> dict[int, Rule]:
        """Each shape of ``table``'s rule, by shape index; a shape whose code has no rule
        yet has none (its rows go to ``_decide``, which makes the rule).

        Kept from block to block and extended by the shapes added since (a table is
        append-only); started again for another table, and after ``reconfigure``
        (which makes every rule anew). Until then a rule, once made, stays its code's
        and rules are only added (``_rule_for``): a shape without one gets its code's
        at the first block after the rule was made.
        """
        plan, rules = self._plan, self._rules
        if plan is None or plan.table is not table:
            plan = self._plan = _Plan(table, len(rules))
        if plan.made != len(rules):
            # Rules made since: a dict keeps its order, so they are the last ones.
            for code in itertools.islice(reversed(rules), len(rules) - plan.made):
                rule = rules[code]
                for shape in plan.missing.pop(code, ()):
                    plan.rules[shape] = rule
            plan.made = len(rules)
        known, size = plan.size, len(table.codes)
        if known < size:
            found, missing = plan.rules, plan.missing
            # The table's own index objects: a block's indices are these.
            shapes = zip(table.positions[known:size], table.codes[known:size], strict=True)
            for shape, code in shapes:
                made = rules.get(code)
                if made is None:
                    missing.setdefault(code, []).append(shape)
                else:
                    found[shape] = made
            plan.size = size
        return plan.rules

    def _ends_by(self, t: float) -> bool:
        """Whether an episode ends by ``t``: ``_housekeeping(t)`` would return events.

        Read only. The end schedule is lazy: an entry filed at or before ``t``
        may belong to an episode that went on since (re-filed when it surfaces)
        or ended; only an open episode whose end is now ``<= t`` gives an event.
        """
        heap = self._end_heap
        # The entries filed at or before t are a subtree at the top of the heap.
        stack = [0] if heap and heap[0][0] <= t else []
        while stack:
            index = stack.pop()
            end = heap[index][2].end_time()
            if end is not None and end <= t:
                return True
            for child in (2 * index + 1, 2 * index + 2):
                if child < len(heap) and heap[child][0] <= t:
                    stack.append(child)
        return False

    def _decide(self, alerts: Iterable[Alert], decisions: list[Decision]) -> None:
        """The hot loop: decide each alert, in order, appending its decision to ``decisions``.

        ``decisions`` comes empty, so that its length counts the alerts decided.

        Lateness and the events that fall due before an alert (step 1, the capacity
        guard) belong to its decision alone: they change no state. So every alert is
        decided as if in order with nothing due, and the few others are noted in
        ``marks`` and have their decisions completed (``_decorated``) when the loop
        ends, however it ends: the common path carries neither.

        Everything that can refuse an alert (its type, lateness under ``"reject"``)
        is checked before anything changes. The running totals are kept in locals
        and added to the state when the loop ends, however it ends; the rare one
        (late) goes straight to the state, and the delivered count is what the
        other verdicts leave of the decisions made.
        """
        rules = self._rules
        guard = self._capacity
        clock = self._clock
        due = self._due
        pending = self._pending
        bounded = self._max_keys is not None
        exempt = tracked = throttled = 0
        # Bound once: a local is cheaper than a global per alert. A key's state is the
        # engine's own (a bare time or a KeyWindow), so its class is read as
        # `__class__`, cheaper than a call of type(); an alert's is the caller's, so not.
        alert_type, window_type = Alert, KeyWindow
        deliver, throttle, exempted = _DELIVER, _THROTTLE, _EXEMPT
        # (index in decisions, late, events due before it) of each alert off the common path.
        marks: list[Any] = []
        try:
            for alert in alerts:
                if type(alert) is not alert_type:
                    raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
                t = alert.timestamp
                if not (clock <= t and t < due):
                    # Off the common case (in order, nothing due): late, or something due.
                    late = t < clock
                    if late:
                        if self._reject_late:
                            raise LateAlertError(
                                "timestamp",
                                t,
                                f"is before the policy clock ({clock}) with late='reject'",
                            )
                        t = clock
                        self._late += 1
                    else:
                        clock = t
                    # Step 1: episodes (of any key) that ended by t are closed first, and
                    # keys idle by t dropped; `due` bounds both schedules from below.
                    ended: Sequence[Event] = ()
                    if t >= due:
                        self._clock = clock
                        self._tracked += tracked
                        tracked = 0
                        ended = self._housekeeping(t)
                        due = self._due
                    if late or ended:
                        marks += len(decisions), late, ended
                clock = t
                # Capacity: the guard counts every alert, exempt ones too.
                if guard is not None:
                    changes = guard._observe(t)
                    if changes:
                        late, ended = False, ()
                        if marks and marks[-3] == len(decisions):
                            ended = marks.pop()
                            late = marks.pop()
                            marks.pop()
                        marks += len(decisions), late, sorted([*ended, *changes], key=_AT)

                try:
                    rule = rules[alert.code]
                except KeyError:
                    rule = self._rule_for(alert.code)
                if not rule.throttles:
                    # Step 2 (exempt: neither throttled nor counted) and step 3 (no threshold).
                    if rule.exempt:
                        decisions.append(exempted)
                        exempt += 1
                    else:
                        decisions.append(deliver)
                    continue

                device_id = alert.device_id
                keys = rule.keys
                window = keys.get(device_id)
                if window is None:
                    # Step 4 for a key with nothing in its window: one alert never
                    # exceeds a limit (limit >= 1), so it is delivered. It is held
                    # as its bare time until a second alert comes, or a window if
                    # it has a count pending from before.
                    if bounded:
                        self._tracked += tracked
                        tracked = 0
                        window = self._track(rule, device_id, t)
                        due = self._due
                    else:
                        if pending and (left := pending.pop((device_id, rule.code), None)):
                            window = keys[device_id] = KeyWindow.returning(rule.size, t, left)
                        else:
                            keys[device_id] = t
                        queued = rule.fifo_times
                        if not queued:
                            # The queue's head bounds when its keys are next dropped.
                            due = self._lower_idle_due(t + rule.period)
                        queued.append(t)
                        rule.fifo_devices.append(device_id)
                        tracked += 1
                    decisions.append(deliver if window is None else _report(window, False))
                    continue
                period = rule.span
                if window.__class__ is not window_type:
                    if window + period <= t:  # type: ignore[operator]
                        # Idle, not dropped yet (_housekeeping drops in batches): a new key.
                        keys[device_id] = t
                        decisions.append(deliver)
                        continue
                    window = keys[device_id] = ring_of(rule.size, window)  # type: ignore[arg-type]
                times = window.times
                size = rule.size
                if window.episode is None:
                    # Step 4: more than `limit` alerts in (t - period, t] <=> after the
                    # push the ring is full and its oldest time (the slot the next push
                    # overwrites) is inside it. The push is KeyWindow.push, inlined (the
                    # hottest code of the library): while the ring grows, pos stays 0 and
                    # the newest time is the last; once full, the oldest is at pos and
                    # the newest before it. Each branch first sees if the key is idle
                    # (its newest time out of the window), not dropped yet: then it is a
                    # new key, which keeps its pending count. (Indices are kept >= 0
                    # where they can be: a negative one is not specialised.) Below
                    # `engage_at` no episode starts, but the alert stays in the window,
                    # so the key starts one on its first alert once the level has risen.
                    held = len(times)
                    if held < size:
                        if times[held - 1] + period <= t:
                            decisions.append(_first(self._renew(rule, device_id, window, t)))
                            continue
                        times.append(t)
                        if (
                            held + 1 == size
                            and times[0] > t - period
                            and (guard is None or guard.level >= self._engage_level)
                        ):
                            decisions.append(self._start_episode(rule, window, alert, t))
                            throttled += 1
                            due = self._due
                            continue
                    else:
                        pos = window.pos
                        if times[pos - 1] + period <= t:
                            decisions.append(_first(self._renew(rule, device_id, window, t)))
                            continue
                        times[pos] = t
                        pos += 1
                        if pos == size:
                            pos = 0
                        window.pos = pos
                        if times[pos] > t - period and (
                            guard is None or guard.level >= self._engage_level
                        ):
                            decisions.append(self._start_episode(rule, window, alert, t))
                            throttled += 1
                            due = self._due
                            continue
                    window.last_delivered = t
                    if window.pending_sequence is None:
                        decisions.append(deliver)
                    else:
                        decisions.append(_report(window, False))
                    continue

                # Step 5: in an episode, only samples get through; every alert is pushed.
                episode = window.episode
                if len(times) < size:
                    times.append(t)
                else:
                    pos = window.pos
                    times[pos] = t
                    pos += 1
                    if pos == size:
                        pos = 0
                    window.pos = pos
                number = episode.alerts = episode.alerts + 1
                if rule.sampling and (
                    (rule.sample_every and number % rule.sample_every == 0)
                    or (
                        rule.sample_interval is not None
                        and t - window.last_delivered >= rule.sample_interval
                    )
                ):
                    episode.sampled += 1
                    window.last_delivered = t
                    decisions.append(_report(window, True))
                    continue
                episode.throttled += 1
                window.pending += 1
                window.pending_sequence = episode.sequence_id
                decisions.append(throttle)
                throttled += 1
        finally:
            if marks:
                _complete(decisions, marks)
            self._clock = clock
            self._total += len(decisions)
            if exempt:
                self._exempt += exempt
            if tracked:
                self._tracked += tracked
            if throttled:
                self._throttled += throttled

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

    def reconfigure(
        self, new_config: PolicyConfig, *, at: float | object, reason: str
    ) -> ConfigChange:
        """Put ``new_config`` in force at ``at`` (not before the clock), keeping all key history.

        Episodes due by ``at`` are closed first; the returned :class:`ConfigChange`
        (also appended to :attr:`config_history`) carries those events and the
        ones the change itself causes. docs/reconfiguration.md gives the rules.
        """
        # Every rule is made anew: the shapes' rules are looked up again.
        self._plan = None
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

    def _start_episode(
        self,
        rule: Rule,
        window: KeyWindow,
        alert: Alert,
        t: float,
    ) -> Decision:
        self._sequence += 1
        # Checked values: the alert's fields, its time, the engine's counts.
        started = checked_started(
            alert.device_id,
            rule.code,
            t,
            self._sequence,
            window.count_after(t - rule.period),
            alert.recipients,
        )
        episode = Episode(rule, window, started)
        window.episode = episode
        window.pending += 1
        window.pending_sequence = self._sequence
        self._add_episode(episode, window.recent(rule.resume_below) + rule.period)
        return made_decision(Verdict.THROTTLE, NO_METADATA, False, (started,), False)

    def _check(self) -> None:
        """Assert the policy's invariants (tests run it after every step)."""
        EngineState._check(self)
        plan = self._plan
        if plan is not None:
            # A planned shape's rule is its code's rule in force; one without is missing.
            codes, missing = plan.table.codes, plan.missing
            assert plan.size <= len(codes)
            assert sum(map(len, missing.values())) + len(plan.rules) == plan.size
            for shape in range(plan.size):
                if shape in plan.rules:
                    assert plan.rules[shape] is self._rules[codes[shape]]
                else:
                    assert shape in missing[codes[shape]]
