"""A stress machine over every operation of the engine, in the style of sortedcontainers'.

One hypothesis state machine mixes ``feed``, ``feed_many`` (with bad and late
alerts in the batch), ``feed_columns`` (late alerts in the block), ``advance``
(some refused), ``reconfigure``, snapshot and restore, ``max_keys`` eviction
and a capacity guard. After every step it runs the engine's ``_check()`` and
the accounting invariants; while the policy is one :class:`ReferencePolicy`
can follow (no key bound, no capacity gating, no reconfiguration yet), every
decision and event is compared with it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import reported_counts
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from state_helpers import CODES, DEVICES, configs

from alertthrottle import (
    Alert,
    AlertColumns,
    AlertThrottleError,
    CapacityGuard,
    CapacityLevel,
    CapacityThresholds,
    Decision,
    InvalidAlertError,
    LateAlertError,
    LevelChanged,
    PolicyConfig,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
)
from alertthrottle.testing import ReferencePolicy

gaps = st.sampled_from([0, 0, 0.5, 1, 1, 2, 3, 7, 12])
recipients = st.sampled_from([(), ("DNO",), ("DNO", "SUP")])
BAD = ("not an alert", None, 7)


def _episode_events(events: Any) -> list[tuple[Any, ...]]:
    """The episode events (capacity's LevelChanged aside), in a canonical order."""
    return sorted(
        (type(e).__name__, e.at, e.sequence_id, getattr(e, "throttled_count", None))
        for e in events
        if isinstance(e, ThrottlingStarted | ThrottlingEnded)
    )


def _without_levels(decision: Decision) -> tuple[Any, ...]:
    """Everything a decision says, but capacity levels (the reference has no guard)."""
    return (
        decision.verdict,
        decision.metadata,
        decision.late,
        decision.sampled,
        _episode_events(decision.events),
    )


class StressMachine(RuleBasedStateMachine):
    """One ThrottlePolicy through every operation; a reference while it can follow."""

    policy: ThrottlePolicy
    reference: ReferencePolicy | None

    @initialize(
        config=configs(),
        late=st.sampled_from(["clamp", "reject"]),
        max_keys=st.none() | st.integers(1, 4),
        guarded=st.sampled_from([None, "always", "amber"]),
        start=st.sampled_from([0, 100, 1_700_000_000]),
    )
    def start(
        self, config: PolicyConfig, late: Any, max_keys: int | None, guarded: Any, start: float
    ) -> None:
        capacity = None
        if guarded is not None:
            capacity = CapacityGuard(CapacityThresholds(period=5, amber=3, red=6, amber_clear=2))
        self.policy = ThrottlePolicy(
            config,
            late=late,
            max_keys=max_keys,
            capacity=capacity,
            engage_at=guarded or "always",
        )
        follows = max_keys is None and guarded in (None, "always")
        self.reference = ReferencePolicy(config, late=late) if follows else None
        self.now: float = start
        # Throttled counts reported on delivered decisions, all steps so far.
        self.reported = 0
        self.last_at = -math.inf
        self.level = CapacityLevel.GREEN

    # -- helpers ------------------------------------------------------------------------

    def _alert(self, data: st.DataObject) -> Alert:
        if data.draw(st.integers(0, 9)) == 0:
            when = max(0.0, self.now - data.draw(st.sampled_from([0.5, 3])))
        else:
            self.now += data.draw(gaps)
            when = self.now
        return Alert(
            when,
            data.draw(st.sampled_from(DEVICES)),
            data.draw(st.sampled_from(CODES)),
            data.draw(recipients),
        )

    def _seen(self, decisions: list[Decision]) -> None:
        self.reported += reported_counts(decisions)
        for decision in decisions:
            self._events(decision.events)

    def _events(self, events: Any) -> None:
        for event in events:
            # Across one policy, through feed, advance and reconfigure, events come
            # out in non-decreasing `at`...
            assert event.at >= self.last_at, (event, self.last_at)
            self.last_at = event.at
            # ...and each level change exactly once: each starts where the last ended.
            if isinstance(event, LevelChanged):
                assert event.old is self.level, (event, self.level)
                self.level = event.new

    # -- operations ---------------------------------------------------------------------

    @rule(data=st.data())
    def feed(self, data: st.DataObject) -> None:
        alert = self._alert(data)
        expected = None
        if self.reference is not None:
            try:
                expected = _without_levels(self.reference.feed(alert))
            except LateAlertError:
                expected = LateAlertError
        try:
            decision = self.policy.feed(alert)
        except LateAlertError:
            assert self.policy.late == "reject"
            assert expected in (None, LateAlertError)
            return
        assert expected is not LateAlertError
        if expected is not None:
            assert _without_levels(decision) == expected
        self._seen([decision])

    @rule(data=st.data())
    def feed_many(self, data: st.DataObject) -> None:
        batch: list[Any] = [self._alert(data) for _ in range(data.draw(st.integers(0, 6)))]
        if data.draw(st.booleans()):
            batch.insert(data.draw(st.integers(0, len(batch))), data.draw(st.sampled_from(BAD)))
        try:
            decisions = self.policy.feed_many(batch)
            stopped = len(batch)
        except AlertThrottleError as exc:
            assert isinstance(exc, InvalidAlertError | LateAlertError)
            assert exc.index is not None and exc.decisions is not None
            decisions, stopped = exc.decisions, exc.index
            assert len(decisions) == stopped
        if self.reference is not None:
            expected = []
            for item in batch[:stopped]:
                expected.append(_without_levels(self.reference.feed(item)))
            assert [_without_levels(d) for d in decisions] == expected
        self._seen(decisions)

    @rule(data=st.data())
    def feed_columns(self, data: st.DataObject) -> None:
        batch = [self._alert(data) for _ in range(data.draw(st.integers(0, 10)))]
        try:
            decisions = self.policy.feed_columns(AlertColumns.of(batch))
            stopped = len(batch)
        except LateAlertError as exc:
            assert self.policy.late == "reject"
            assert exc.index is not None and exc.decisions is not None
            decisions, stopped = exc.decisions, exc.index
            assert len(decisions) == stopped
        if self.reference is not None:
            expected = []
            for alert in batch[:stopped]:
                expected.append(_without_levels(self.reference.feed(alert)))
            assert [_without_levels(d) for d in decisions] == expected
        self._seen(decisions)

    @rule(
        device=st.sampled_from(DEVICES),
        code=st.sampled_from(CODES),
        size=st.integers(2, 6),
        gap=st.sampled_from([0, 20]),
    )
    def storm(self, device: str, code: int, size: int, gap: float) -> None:
        """A burst of one key's alerts at one instant: episodes, then (after gaps) idle keys."""
        self.now += gap
        batch = [Alert(self.now, device, code) for _ in range(size)]
        decisions = self.policy.feed_many(batch)
        if self.reference is not None:
            expected = [_without_levels(self.reference.feed(alert)) for alert in batch]
            assert [_without_levels(d) for d in decisions] == expected
        self._seen(decisions)

    @rule(gap=gaps)
    def advance(self, gap: float) -> None:
        self.now += gap
        events = self.policy.advance(self.now)
        if self.reference is not None:
            assert _episode_events(events) == _episode_events(self.reference.advance(self.now))
        self._events(events)

    @rule(now=st.sampled_from([10**400, math.nan, -1.0, 253402300800, "soon"]))
    def refused_advance(self, now: Any) -> None:
        before = self.policy.snapshot()
        with pytest.raises(InvalidAlertError):
            self.policy.advance(now)
        assert self.policy.snapshot() == before

    @rule(
        config=configs() | st.just(PolicyConfig()),
        gap=st.sampled_from([0, 1, 6, 12]),
    )
    def reconfigure(self, config: PolicyConfig, gap: float) -> None:
        # After a gap, capacity falls and episode ends fall due by `at`; a config
        # without thresholds ends every open episode at `at`.
        self.now += gap
        at = self.now if self.policy.clock is None else max(self.now, self.policy.clock)
        change = self.policy.reconfigure(config, at=at, reason="stress")
        self._events(change.events)
        # The reference knows no reconfiguration: from here on, invariants only.
        self.reference = None

    @rule(compress=st.booleans())
    def snapshot_and_restore(self, compress: bool) -> None:
        data = self.policy.snapshot(compress=compress)
        restored = ThrottlePolicy.restore(data)
        assert restored.snapshot(compress=compress) == data
        assert restored.stats == self.policy.stats
        assert restored.pending_counts() == self.policy.pending_counts()
        self.policy = restored

    # -- after every step -----------------------------------------------------------------

    @invariant()
    def engine_invariants_hold(self) -> None:
        self.policy._check()

    @invariant()
    def level_changes_lead_to_the_guards_level(self) -> None:
        guard = self.policy.capacity
        assert self.level is (CapacityLevel.GREEN if guard is None else guard.level)

    @invariant()
    def accounting_holds(self) -> None:
        stats = self.policy.stats
        assert stats.delivered + stats.throttled + stats.exempt == stats.total
        pending = sum(meta.throttled_count for meta in self.policy.pending_counts().values())
        # No count lost: reported, waiting, or dropped (and counted) for max_keys.
        assert self.reported + pending + stats.dropped_throttled == stats.throttled
        if self.policy.max_keys is None:
            assert stats.dropped_counts == 0
        if self.reference is not None:
            want = self.reference.stats
            assert (stats.total, stats.delivered, stats.throttled) == (
                want.total,
                want.delivered,
                want.throttled,
            )
            assert (stats.exempt, stats.late, stats.episodes) == (
                want.exempt,
                want.late,
                want.episodes,
            )
            assert self.policy.pending_counts() == self.reference.pending_counts()


StressMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
test_stress = StressMachine.TestCase


class LongStressMachine(StressMachine):
    """The same machine, longer runs (``pytest -m slow``)."""


LongStressMachine.TestCase.settings = settings(
    max_examples=500, stateful_step_count=80, deadline=None
)
test_stress_long = pytest.mark.slow(LongStressMachine.TestCase)
