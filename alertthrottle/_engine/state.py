"""The engine's data, in one place, and the operations on it.

Key windows (by rule), open episodes and their end schedule, the idle-key
schedule, the pending counts of forgotten keys, the clock and the counters all
live in :class:`EngineState`. :class:`~alertthrottle._engine.policy.ThrottlePolicy`
extends it with the hot path; reconfiguration and snapshots go through the
operations here (close due episodes, drop idle keys, forget a key keeping its
pending count, end an episode, evict), never around them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from heapq import heapify, heappop, heappush, heapreplace
from typing import Literal

from .._core.config import PolicyConfig
from .._core.errors import PolicyError
from .._core.events import CapacityLevel, ThrottlingEnded
from .capacity import CapacityGuard
from .history import ConfigChange, initial_entry
from .schedule import LazySchedule
from .window import Episode, KeyWindow, Rule

__all__ = ["COUNTERS", "EngageAt", "EngineState", "LateMode"]

#: Counters a snapshot may lack (older ones): they read as 0.
OPTIONAL_COUNTERS = ("dropped_counts", "dropped_throttled")

LateMode = Literal["clamp", "reject"]
#: The capacity level from which per-device throttling starts episodes.
EngageAt = Literal["always", "amber", "red"]
_ENGAGE_LEVELS = {
    "always": CapacityLevel.GREEN,
    "amber": CapacityLevel.AMBER,
    "red": CapacityLevel.RED,
}

#: The counters of :class:`EngineState`, by their names in ``Stats`` and in snapshots.
COUNTERS = (
    "total",
    "delivered",
    "throttled",
    "exempt",
    "late",
    "evicted",
    "dropped_counts",
    "dropped_throttled",
)

#: ``(time the key's window empties, device_id, code)``: an idle-schedule entry.
IdleEntry = tuple[float, str, int]


def _open_episode(episode: Episode) -> Episode | None:
    return episode if episode.window.episode is episode else None


class EngineState:
    """Everything a policy knows: key windows, episodes, schedules, pending counts, counters."""

    def __init__(
        self,
        config: PolicyConfig,
        late: LateMode,
        max_keys: int | None,
        capacity: CapacityGuard | None,
        engage_at: EngageAt,
    ) -> None:
        if not isinstance(config, PolicyConfig):
            raise PolicyError("config", config, "must be a PolicyConfig")
        if late not in ("clamp", "reject"):
            raise PolicyError("late", late, "must be 'clamp' or 'reject'")
        if capacity is not None and not isinstance(capacity, CapacityGuard):
            raise PolicyError("capacity", capacity, "must be a CapacityGuard or None")
        if engage_at not in _ENGAGE_LEVELS:
            raise PolicyError("engage_at", engage_at, "must be 'always', 'amber' or 'red'")
        if capacity is None and engage_at != "always":
            raise PolicyError("engage_at", engage_at, "needs a capacity guard (capacity=...)")
        if max_keys is not None and (type(max_keys) is not int or max_keys < 1):
            raise PolicyError("max_keys", max_keys, "must be an integer >= 1 or None")
        self._config = config
        self._late_mode: LateMode = late
        self._reject_late = late == "reject"
        self._capacity = capacity
        self._engage_at: EngageAt = engage_at
        self._engage_level = _ENGAGE_LEVELS[engage_at]
        self._max_keys = max_keys
        self._history: list[ConfigChange] = [initial_entry(config)]
        self._rules: dict[int, Rule] = {}
        self._clock: float = -math.inf
        self._sequence = 0
        self._ends: LazySchedule[Episode] = LazySchedule(Episode.end_time)
        self._end_heap = self._ends.heap
        # Keys that may be idle: (time its window empties, device_id, code), one entry
        # per tracked key, except keys parked in an open episode (_evict). An entry is
        # a lower bound: a key that got alerts since is put back when it surfaces (the
        # same lazy scheme as LazySchedule, inlined because every short-lived key
        # passes through it twice).
        self._idle_heap: list[IdleEntry] = []
        # Throttled counts of keys forgotten: (device_id, code) -> (count, episode).
        self._pending: dict[tuple[str, int], tuple[int, int]] = {}
        # With max_keys, the table above holds at most max_keys counts: the one of the
        # oldest episode goes first (its ThrottlingEnded reported it in full). This
        # heap of (sequence_id, device_id, code) finds it; entries of keys since
        # returned are skipped when they surface.
        self._pending_order: list[tuple[int, str, int]] = []
        self._dropped_counts = 0
        self._dropped_throttled = 0
        self._tracked = 0
        self._open = 0
        # Alerts decided; delivered ones are what the other verdicts leave (_delivered).
        self._total = 0
        self._throttled = 0
        self._exempt = 0
        self._late = 0
        self._evicted = 0
        # When the hot path next calls _housekeeping: no later than the first episode
        # end, nor than the first idle entry plus `_slack`. Idle keys are invisible
        # until someone looks (_settle), so without a key bound they are dropped in
        # batches; with one, eviction needs them gone on time (slack 0).
        self._due = math.inf
        self._due_idle = math.inf
        self._slack = math.inf if max_keys is None else 0.0

    # -- reading the state ----------------------------------------------------------

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
    def max_keys(self) -> int | None:
        """The bound on keys held in memory, or ``None`` for no bound."""
        return self._max_keys

    @property
    def config_history(self) -> tuple[ConfigChange, ...]:
        """Every configuration this policy has had, oldest first (version 1 is the initial one)."""
        return tuple(self._history)

    @property
    def _delivered(self) -> int:
        """Alerts delivered: every alert decided is delivered, throttled or exempt."""
        return self._total - self._throttled - self._exempt

    def _counters(self) -> dict[str, int]:
        """The running counters, by the names in :data:`COUNTERS`."""
        return {name: getattr(self, f"_{name}") for name in COUNTERS}

    def _tracked_keys(self) -> Iterator[tuple[Rule, str, KeyWindow]]:
        """Every tracked key: its rule, device id and window.

        A key held as a bare time comes as a fresh window holding that one time.
        """
        self._settle()
        for rule in self._rules.values():
            for device_id, state in rule.keys.items():
                if type(state) is KeyWindow:
                    yield rule, device_id, state
                else:
                    window = KeyWindow(rule.size, state)  # type: ignore[arg-type]
                    window.last_delivered = state  # type: ignore[assignment]
                    yield rule, device_id, window

    def _pending_table(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Counts of forgotten keys: ``(device_id, code) -> (count, sequence_id)``."""
        return dict(self._pending)

    def _end_entries(self) -> list[tuple[float, Episode]]:
        """The end schedule of open episodes, in the order its entries surface."""
        return [(when, ep) for when, ep in self._ends.entries() if ep.window.episode is ep]

    def _filed(self) -> list[IdleEntry]:
        """The idle schedule's entries, sorted: one per tracked key, parked keys aside."""
        self._settle()
        filed = list(self._idle_heap)
        for rule in self._rules.values():
            period = rule.period if rule.fifo_times else 0
            code = rule.code
            filed.extend(
                (t + period, device_id, code)
                for t, device_id in zip(rule.fifo_times, rule.fifo_devices, strict=True)
            )
            for slot, devices in rule.wheel.items():
                for device_id in devices:
                    # Filed in the slot of when its window empties (or earlier).
                    empties = rule.empties(rule.keys[device_id])
                    assert slot <= empties / rule.width, (slot, empties)
                    filed.append((slot * rule.width, device_id, code))
        return sorted(filed)

    def _idle_entries(self) -> list[IdleEntry]:
        """Every tracked key under the time its window empties, sorted (snapshots)."""
        self._settle()
        return sorted(
            (rule.empties(state), device_id, rule.code)
            for rule in self._rules.values()
            for device_id, state in rule.keys.items()
        )

    # -- operations -----------------------------------------------------------------

    def _rule_for(self, code: int) -> Rule:
        """The rule of ``code`` under the configuration in force, made on first use."""
        rule = self._rules.get(code)
        if rule is None:
            config = self._config
            exempt = code in config.exempt_codes
            threshold = None if exempt else config.per_code.get(code, config.default)
            rule = self._rules[code] = Rule(code, threshold, exempt)
            if threshold is not None:
                self._slack = min(self._slack, threshold.period / 32)
        return rule

    def _advance_episodes(self, t: float) -> list[ThrottlingEnded]:
        """Move the clock to ``t`` (not below it): close due episodes, drop idle keys."""
        self._clock = t
        return self._housekeeping(t)

    def _housekeeping(self, t: float, exact: bool = False) -> list[ThrottlingEnded]:
        """Close the episodes due by ``t``, drop keys idle by ``t``, and find the next due time.

        ``_due`` is a lower bound of the earliest episode end and of ``_due_idle``,
        when idle keys are next dropped: while the clock is below it, there is
        nothing to do (one comparison per alert). Each part runs only when due.
        """
        ends = self._end_heap
        ended = self._close_due(t) if ends and ends[0][0] <= t else []
        if exact or t >= self._due_idle:
            self._drop_idle(t, exact)
            self._due_idle = self._next_idle_due()
        first_end = ends[0][0] if ends else math.inf
        self._due = min(first_end, self._due_idle)
        return ended

    def _next_idle_due(self) -> float:
        """When idle keys are next dropped: the first idle entry plus the slack, or the
        end of the first wheel slot."""
        idle = self._idle_heap
        first = idle[0][0] if idle else math.inf
        due = math.inf
        for rule in self._rules.values():
            times = rule.fifo_times
            if times and times[0] + rule.period < first:
                first = times[0] + rule.period
            if rule.slots:
                # A slot is dropped once wholly past.
                due = min(due, (rule.slots[0] + 1) * rule.width)
        return min(due, first + self._slack)

    def _settle(self) -> None:
        """Drop the keys idle at the clock, which the hot path leaves for a batch.

        Invisible to decisions (an idle key's next alert is treated as a new key's),
        so everything that shows the keys (stats, snapshots, checks) settles first.
        """
        if self._clock != -math.inf:
            ended = self._housekeeping(self._clock, exact=True)
            # Episode ends are never left for later: the hot path's `_due` covers them.
            assert not ended, ended

    def _lower_due(self, when: float) -> None:
        """Something (an episode end) may be due at ``when``."""
        if when < self._due:
            self._due = when

    def _lower_idle_due(self, when: float) -> float:
        """An idle entry was filed at ``when``: housekeeping looks then. Returns ``_due``."""
        if when < self._due_idle:
            self._due_idle = when
        if when < self._due:
            self._due = when
        return self._due

    def _close_due(self, t: float) -> list[ThrottlingEnded]:
        """Close every episode whose end is ``<= t``, in order of end time."""
        ended: list[ThrottlingEnded] = []
        for end, episode in self._ends.pop_due(t):
            ended.append(self._end_episode(episode, end))
        return ended

    def _end_episode(self, episode: Episode, at: float) -> ThrottlingEnded:
        """End ``episode`` at ``at`` (its key keeps its window and pending count)."""
        episode.window.episode = None
        self._open -= 1
        if episode.parked:
            # File the key in the idle schedule again.
            rule = episode.rule
            when = rule.empties(episode.window)
            heappush(self._idle_heap, (when, episode.started.device_id, rule.code))
            self._lower_idle_due(when)
        return episode.ended(at)

    def _drop_idle(self, t: float, exact: bool = False) -> None:
        """Forget keys whose window is empty at ``t``, keeping any pending count.

        Keys made since the last drop wait in their rule's queue, in order of time.
        A key that had alerts since it was filed is filed again: in the heap with
        a key bound (eviction needs the exact order), else in its rule's wheel,
        whose slots are dropped whole once past (``exact`` also sweeps the slot
        that ``t`` is in).
        """
        for rule in self._rules.values():
            if rule.fifo_times:
                self._drop_queued(rule, t)
            if rule.wheel:
                self._drop_wheel(rule, t, exact)
        heap = self._idle_heap
        rules = self._rules
        while heap and heap[0][0] <= t:
            _, device_id, code = heap[0]
            rule = rules[code]
            state = rule.keys[device_id]
            empties = rule.empties(state)
            if empties > t:
                if self._max_keys is None:
                    heappop(heap)
                    rule.file(device_id, int(empties / rule.width))
                else:
                    # File it again, in one sift.
                    heapreplace(heap, (empties, device_id, code))
                continue
            heappop(heap)
            self._forget(rule, device_id, state)

    def _drop_queued(self, rule: Rule, t: float) -> None:
        times = rule.fifo_times
        period = rule.period
        devices = rule.fifo_devices
        keys = rule.keys
        wheel = None if self._max_keys is not None else rule.wheel
        dropped = 0
        # Tests take the float period: float + float is specialised (see Rule.span).
        span = rule.span
        while times:
            first = times.popleft()
            if first + span > t:
                # Queued in time order: the keys after it are not idle either.
                times.appendleft(first)
                break
            device_id = devices.popleft()
            state = keys[device_id]
            if state is first:
                # Most keys go this way: one alert, its time the one queued, a period
                # ago. A bare time holds no pending count, so forgetting it is only
                # this (_forget).
                del keys[device_id]
                dropped += 1
            elif type(state) is KeyWindow:
                empties = state.times[state.pos - 1] + period
                if empties > t:
                    if wheel is None:
                        heappush(self._idle_heap, (empties, device_id, rule.code))
                    else:
                        rule.file(device_id, int(empties / rule.width))
                    continue
                self._forget(rule, device_id, state)
            elif state + span > t:  # type: ignore[operator]
                # Renewed while idle (the hot path's bare time): filed again.
                if wheel is None:
                    heappush(self._idle_heap, (state + period, device_id, rule.code))  # type: ignore[operator]
                else:
                    rule.file(device_id, int((state + period) / rule.width))  # type: ignore[operator]
            else:
                # A bare time renewed since it was queued, idle too.
                del keys[device_id]
                dropped += 1
        self._tracked -= dropped

    def _drop_wheel(self, rule: Rule, t: float, exact: bool) -> None:
        wheel = rule.wheel
        slots = rule.slots
        width = rule.width
        # The float period: float + float is specialised, and the sums are the same
        # (see Rule.span).
        period = rule.span
        keys = rule.keys
        now = int(t / width)
        while slots:
            slot = slots[0]
            if slot > now or (slot == now and not exact):
                return
            heappop(slots)
            kept: list[str] = []
            dropped = 0
            for device_id in wheel.pop(slot):
                state = keys[device_id]
                if type(state) is KeyWindow:
                    empties = state.times[state.pos - 1] + period
                    if empties <= t:
                        self._forget(rule, device_id, state)
                        continue
                else:
                    empties = state + period  # type: ignore[operator]
                    if empties <= t:
                        # A bare time holds no pending count (_forget).
                        del keys[device_id]
                        dropped += 1
                        continue
                # Alerts since it was filed: filed again in the slot it empties in.
                due = int(empties / width)
                if due == slot:
                    kept.append(device_id)
                else:
                    # Rule.file, inlined: most keys of a busy code come this way.
                    filed = wheel.get(due)
                    if filed is None:
                        wheel[due] = [device_id]
                        heappush(slots, due)
                    else:
                        filed.append(device_id)
            self._tracked -= dropped
            if kept:
                wheel[slot] = kept
                heappush(slots, slot)
                return

    def _forget(self, rule: Rule, device_id: str, state: float | KeyWindow) -> None:
        """Stop tracking a key (not in an episode), keeping its pending count."""
        del rule.keys[device_id]
        self._tracked -= 1
        if type(state) is KeyWindow:
            # An episode ends no later than its window empties, and is closed first.
            assert state.episode is None
            if state.pending_sequence is not None:
                self._add_pending(device_id, rule.code, state.pending, state.pending_sequence)

    def _track(self, rule: Rule, device_id: str, t: float) -> KeyWindow | None:
        """Start holding state for a key whose only alert in its window, at ``t``, is delivered.

        Returns its window if it has a pending count from before (it is held as a
        bare time otherwise).
        """
        # The key's own count comes back first: making room must not drop it.
        left = self._pending.pop((device_id, rule.code), None) if self._pending else None
        if self._max_keys is not None and self._tracked >= self._max_keys:
            self._evict(self._tracked - self._max_keys + 1)
        window = None
        if left is None:
            rule.keys[device_id] = t
        else:
            window = rule.keys[device_id] = KeyWindow.returning(rule.size, t, left)
        self._tracked += 1
        if self._max_keys is None:
            rule.fifo_times.append(t)
            rule.fifo_devices.append(device_id)
        else:
            # Eviction goes by (time, device_id, code) across every key: the heap.
            heappush(self._idle_heap, (t + rule.period, device_id, rule.code))
        self._lower_idle_due(t + rule.period)
        return window

    def _renew(self, rule: Rule, device_id: str, window: KeyWindow, t: float) -> KeyWindow | None:
        """A key idle by ``t`` but not dropped yet gets an alert: make it a new key.

        As if dropped and tracked again: its pending count stays, nothing else does;
        its idle entry, due already, re-files it when it surfaces. Returns its window
        if it has a pending count (it is held as a bare time otherwise).
        """
        if window.pending_sequence is None:
            rule.keys[device_id] = t
            return None
        window.times = [t]
        window.pos = 0
        window.last_delivered = t
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
        # With max_keys every key is filed in the heap (_track, _drop_idle), never queued.
        while count and heap:
            entry = heap[0]
            _, device_id, code = entry
            rule = rules[code]
            state = rule.keys[device_id]
            episode = state.episode if type(state) is KeyWindow else None
            if episode is not None:
                # Whatever its filed time, the key cannot go before its episode ends;
                # the order of the other keys does not depend on its entry.
                heappop(heap)
                episode.parked = True
                continue
            empties = rule.empties(state)
            if empties > entry[0]:
                heapreplace(heap, (empties, device_id, code))
                continue
            heappop(heap)
            self._forget(rule, device_id, state)
            self._evicted += 1
            count -= 1

    def _record(self, change: ConfigChange) -> None:
        """Append ``change`` to the configuration history."""
        self._history.append(change)

    def _add_episode(self, episode: Episode, end: float) -> None:
        """Count a new open episode (already numbered) and file its end."""
        self._open += 1
        self._ends.add(episode, end)
        self._lower_due(end)

    def _new_config(self, config: PolicyConfig, t: float) -> list[ThrottlingEnded]:
        """Put ``config`` in force at ``t`` (the clock, due episodes already closed).

        A code that loses its threshold forgets its keys (pending counts kept)
        and ends their episodes at ``t``; a code whose threshold changes keeps
        its windows (rings resized) and its episodes, ending at ``t`` those the
        new threshold says are over. Returns those ends, by sequence id.
        """
        self._config = config
        # Every idle entry goes to the heap: the queues belong to the old rules.
        self._idle_heap[:] = self._filed()
        old_rules = dict(self._rules)
        # Mutated in place: the hot path may hold a reference to the dict.
        self._rules.clear()
        closed: list[ThrottlingEnded] = []
        for code, old_rule in old_rules.items():
            rule = self._rule_for(code)
            keys = old_rule.keys
            if rule.threshold is None:
                for device_id, state in list(keys.items()):
                    if type(state) is KeyWindow and state.episode is not None:
                        closed.append(self._end_unfiled(state.episode, t))
                    self._forget(old_rule, device_id, state)
                continue
            rule.keys = keys
            for window in keys.values():
                if type(window) is not KeyWindow:
                    continue
                if rule.size != old_rule.size:
                    window.resize(rule.size)
                episode = window.episode
                if episode is None:
                    continue
                episode.rule = rule
                end = episode.end_time()
                # Under the new threshold the window is already below resume_below.
                if end is not None and end <= t:
                    closed.append(self._end_episode(episode, t))
        closed.sort(key=lambda event: event.sequence_id)
        self._ends.retarget(_open_episode)
        self._refile_idle()
        # A shorter period may have emptied windows already.
        self._housekeeping(t, exact=True)
        return closed

    def _end_unfiled(self, episode: Episode, at: float) -> ThrottlingEnded:
        """End an episode whose key is being forgotten (never filed again)."""
        episode.parked = False
        return self._end_episode(episode, at)

    def _refile_idle(self) -> None:
        """Re-file idle entries that a new period moves earlier; drop those of forgotten keys."""
        # Rebuilt in place: the hot path holds the list.
        idle = self._idle_heap
        kept: list[IdleEntry] = []
        for when, device_id, code in idle:
            rule = self._rules[code]
            held = rule.keys.get(device_id)
            if held is not None:
                kept.append((min(when, rule.empties(held)), device_id, code))
        idle[:] = kept
        heapify(idle)

    # -- rebuilding (snapshots) -------------------------------------------------------

    def _set_counts(self, clock: float, sequence: int, counters: dict[str, int]) -> None:
        """Set the clock, the episode count and the counters of a fresh state."""
        self._clock = clock
        self._sequence = sequence
        for name in COUNTERS:
            if name != "delivered":
                setattr(self, f"_{name}", counters[name])
        # Restoring checks that the verdicts add up to the total.
        assert self._delivered == counters["delivered"]

    def _set_history(self, history: list[ConfigChange]) -> None:
        """Replace the configuration history (it ends with the configuration in force)."""
        assert history[-1].config == self._config
        self._history[:] = history

    def _add_key(self, rule: Rule, device_id: str, window: KeyWindow) -> None:
        """Track a key rebuilt elsewhere; its episode (if any) is open but not yet filed."""
        times = window.times
        if (
            window.episode is None
            and window.pending_sequence is None
            and len(times) == 1
            and type(times[0]) is type(window.last_delivered)
            and times[0] == window.last_delivered
        ):
            # As the hot path holds a key with one alert, delivered: its bare time.
            rule.keys[device_id] = times[0]
        else:
            rule.keys[device_id] = window
        self._tracked += 1
        if window.episode is not None:
            self._open += 1

    def _add_pending(self, device_id: str, code: int, count: int, sequence_id: int) -> None:
        """Record the pending count of a key not tracked (within ``max_keys`` such counts)."""
        pending = self._pending
        pending[device_id, code] = (count, sequence_id)
        if self._max_keys is None:
            return
        order = self._pending_order
        heappush(order, (sequence_id, device_id, code))
        while len(pending) > self._max_keys:
            oldest, device, code_ = heappop(order)
            entry = pending.get((device, code_))
            if entry is not None and entry[1] == oldest:
                del pending[device, code_]
                self._dropped_counts += 1
                self._dropped_throttled += entry[0]
        if len(order) > 2 * len(pending) + 64:
            # Entries of keys that came back: rebuilt now and then, O(1) amortised.
            order[:] = sorted((seq, device, c) for (device, c), (_, seq) in pending.items())

    def _file_end(self, episode: Episode, when: float) -> None:
        """File an open episode's end under ``when`` (entries added in the order they surface)."""
        self._ends.add(episode, when)
        self._lower_due(when)

    def _file_idle(self, entries: list[IdleEntry]) -> None:
        """Set the idle schedule; entries of parked keys are left out."""
        kept = []
        for entry in entries:
            state = self._rules[entry[2]].keys[entry[1]]
            if type(state) is not KeyWindow or state.episode is None or not state.episode.parked:
                kept.append(entry)
                self._lower_idle_due(entry[0])
        self._idle_heap[:] = kept
        heapify(self._idle_heap)

    def _check(self) -> None:
        """Assert the state's invariants (tests run it after every step)."""
        self._settle()
        assert self._delivered >= 0 and self._throttled >= 0 and self._exempt >= 0
        if self._capacity is not None:
            self._capacity._check()
        assert self._history[-1].config == self._config
        assert self._tracked == sum(len(rule.keys) for rule in self._rules.values())
        self._ends._check()
        idle = self._idle_heap
        for index in range(1, len(idle)):
            assert idle[(index - 1) // 2] <= idle[index], index
        live = [e for e in self._ends.items() if e.end_time() is not None]
        assert len(live) == len({id(e) for e in live}) == self._open
        for rule in self._rules.values():
            queued = list(rule.fifo_times)
            assert self._max_keys is None or not (queued or rule.wheel)
            slots = rule.slots
            assert sorted(slots) == sorted(rule.wheel)
            assert all(slots[(i - 1) // 2] <= slots[i] for i in range(1, len(slots)))
            assert queued == sorted(queued) and len(queued) == len(rule.fifo_devices)
            assert rule.throttles or not (queued or rule.keys)
        # Every tracked key is filed exactly once, unless it is parked: in an open
        # episode flagged parked, and then not filed at all.
        filed: dict[tuple[int, str], float] = {}
        for when, device_id, code in self._filed():
            assert (code, device_id) not in filed, (code, device_id)
            filed[code, device_id] = when
        assert self._due_idle <= self._next_idle_due()
        assert self._due <= self._due_idle
        if self._end_heap:
            assert self._due <= self._end_heap[0][0]
        parked = 0
        pending = 0
        for rule, device_id, window in self._tracked_keys():
            window._check()
            assert rule.threshold is not None and window.size == rule.size and window.times
            episode = window.episode
            if episode is not None and episode.parked:
                parked += 1
                assert (rule.code, device_id) not in filed
            else:
                assert (rule.code, device_id) in filed
                assert rule.empties(window) >= filed[rule.code, device_id]
            assert (device_id, rule.code) not in self._pending
            pending += window.pending
            if episode is not None:
                episode._check()
                assert episode.window is window and episode in live
                assert episode.rule is rule
                end = episode.end_time()
                assert end is not None and end > self._clock
            else:
                assert rule.empties(window) > self._clock
        assert len(filed) + parked == self._tracked
        pending += sum(count for count, _ in self._pending.values())
        assert pending + self._dropped_throttled <= self._throttled
        if self._max_keys is not None:
            assert len(self._pending) <= self._max_keys
            ordered = {(device, code, seq) for seq, device, code in self._pending_order}
            for (device, code), (_, seq) in self._pending.items():
                assert (device, code, seq) in ordered, (device, code, seq)
