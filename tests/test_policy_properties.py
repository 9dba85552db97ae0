"""ThrottlePolicy against ReferencePolicy: same decisions, same events, same totals."""

from __future__ import annotations

import attrs
import pytest
from helpers import canonical, check_events_in_time_order, ended, reported_counts, totals
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alertthrottle import (
    Alert,
    LateAlertError,
    PolicyConfig,
    ThrottlePolicy,
    Verdict,
)
from alertthrottle.testing import ReferencePolicy, alert_streams, alerts, policy_configs

late_modes = st.sampled_from(["clamp", "reject"])


def run_both(config: PolicyConfig, stream: list[Alert], late: str) -> tuple[list, list]:
    fast = ThrottlePolicy(config, late=late)  # type: ignore[arg-type]
    slow = ReferencePolicy(config, late=late)
    got, want = [], []
    for alert in stream:
        try:
            want.append(canonical(slow.feed(alert)))
        except LateAlertError:
            with pytest.raises(LateAlertError):
                fast.feed(alert)
            continue
        got.append(canonical(fast.feed(alert)))
        fast._check()
    # The reference never forgets a key, so tracked_keys is the one total that differs.
    assert totals(fast.stats) == totals(
        attrs.evolve(slow.stats, tracked_keys=fast.stats.tracked_keys)
    )
    return got, want


@given(config=policy_configs(), stream=alert_streams(), late=late_modes)
def test_fast_policy_agrees_with_reference(config, stream, late):
    got, want = run_both(config, stream, late)
    assert got == want


@pytest.mark.slow
@settings(max_examples=1500)
@given(config=policy_configs(), stream=alert_streams(max_size=200), late=late_modes)
def test_fast_policy_agrees_with_reference_long_streams(config, stream, late):
    got, want = run_both(config, stream, late)
    assert got == want


@given(config=policy_configs(), stream=alert_streams())
def test_accounting_invariants(config, stream):
    policy = ThrottlePolicy(config)
    decisions = policy.feed_many(stream)
    stats = policy.stats
    assert stats.total == len(stream)
    assert stats.delivered + stats.throttled + stats.exempt == stats.total
    assert stats.delivered == sum(d.verdict is Verdict.DELIVER for d in decisions)
    assert stats.throttled == sum(d.verdict is Verdict.THROTTLE for d in decisions)
    assert stats.exempt == sum(d.verdict is Verdict.EXEMPT for d in decisions)
    assert stats.late == sum(d.late for d in decisions)
    # No throttled count is ever lost: reported on a delivery, or still pending.
    pending = sum(m.throttled_count for m in policy.pending_counts().values())
    assert reported_counts(decisions) + pending == stats.throttled
    # Events come out in time order, across feed and advance alike.
    events = [e for d in decisions for e in d.events]
    last = stream[-1].timestamp if stream else 0
    events += policy.advance(last + 1_000)
    check_events_in_time_order(events)
    # Once every episode has ended, the ends account for every throttled alert.
    assert policy.stats.open_episodes == 0
    assert (
        sum(e.throttled_count for e in events if hasattr(e, "throttled_count")) == stats.throttled
    )


@given(
    config=policy_configs(),
    stream=alert_streams(),
    cut=st.integers(0, 60),
    max_keys=st.none() | st.none() | st.integers(1, 4),
)
def test_feed_many_is_feed_in_order(config, stream, cut, max_keys):
    # feed decides its common alerts on a path of its own, the others through feed_many's.
    one = ThrottlePolicy(config, max_keys=max_keys)
    many = ThrottlePolicy(config, max_keys=max_keys)
    singly = [one.feed(alert) for alert in stream]
    assert many.feed_many(stream[:cut]) + many.feed_many(stream[cut:]) == singly
    assert one.stats == many.stats
    assert one.snapshot() == many.snapshot()


@given(config=policy_configs(), stream=alert_streams(late=False))
def test_every_episode_end_matches_its_throttled_alerts(config, stream):
    policy = ThrottlePolicy(config)
    decisions = policy.feed_many(stream)
    closing = ended(decisions) + policy.advance(10**6)
    assert len(closing) == policy.stats.episodes
    sequence_ids = sorted(e.sequence_id for e in closing)
    assert sequence_ids == list(range(1, policy.stats.episodes + 1))


class PolicyMachine(RuleBasedStateMachine):
    """Interleaves feed and advance on the fast policy and the reference, checking both."""

    def __init__(self) -> None:
        super().__init__()
        self.fast: ThrottlePolicy | None = None
        self.slow: ReferencePolicy | None = None
        self.events: list = []

    @precondition(lambda self: self.fast is None)
    @rule(config=policy_configs(), late=late_modes)
    def start(self, config, late):
        self.fast = ThrottlePolicy(config, late=late)
        self.slow = ReferencePolicy(config, late=late)

    @precondition(lambda self: self.fast is not None)
    @rule(alert=alerts(max_time=60))
    def feed(self, alert):
        try:
            want = self.slow.feed(alert)
        except LateAlertError:
            before = self.fast.stats
            with pytest.raises(LateAlertError):
                self.fast.feed(alert)
            assert totals(self.fast.stats) == totals(before)
            return
        got = self.fast.feed(alert)
        assert canonical(got) == canonical(want)
        self.events.extend(got.events)

    @precondition(lambda self: self.fast is not None)
    @rule(now=st.integers(0, 80))
    def advance(self, now):
        got = self.fast.advance(now)
        want = self.slow.advance(now)
        assert sorted(got, key=lambda e: (e.at, e.sequence_id)) == want
        self.events.extend(got)

    @invariant()
    def consistent(self):
        if self.fast is None:
            return
        self.fast._check()
        slow = self.slow.stats
        fast = self.fast.stats
        assert (fast.total, fast.delivered, fast.throttled, fast.exempt, fast.late) == (
            slow.total,
            slow.delivered,
            slow.throttled,
            slow.exempt,
            slow.late,
        )
        assert (fast.episodes, fast.open_episodes) == (slow.episodes, slow.open_episodes)
        assert self.fast.pending_counts() == self.slow.pending_counts()
        check_events_in_time_order(self.events)


TestPolicyMachine = PolicyMachine.TestCase
TestPolicyMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
