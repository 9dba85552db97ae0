"""feed_many that stops part-way loses nothing; refused calls change nothing; rings grow."""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import canonical, reported_counts
from hypothesis import given
from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    AlertThrottleError,
    InvalidAlertError,
    LateAlertError,
    PolicyConfig,
    Threshold,
    ThrottlePolicy,
)
from alertthrottle.testing import alerts, policy_configs

DEVICE = "00-0D-6F-00-0A-BC-12-34"
#: Things that are not alerts, mixed into batches: each makes feed_many stop.
BAD = ("not an alert", None, 42, (0, DEVICE, 0x8014))

items = st.one_of(alerts(), alerts(), alerts(), st.sampled_from(BAD))


def _feed_in_batches(policy: ThrottlePolicy, batch: list[Any]) -> list[Any]:
    """feed_many the batch, skipping each item it stops at; every decision made, in order."""
    decisions: list[Any] = []
    rest = batch
    while rest:
        try:
            decisions.extend(policy.feed_many(rest))
            return decisions
        except AlertThrottleError as exc:
            assert exc.index is not None and exc.decisions is not None
            assert len(exc.decisions) == exc.index
            assert isinstance(exc, InvalidAlertError | LateAlertError)
            decisions.extend(exc.decisions)
            rest = rest[exc.index + 1 :]
    return decisions


def _feed_one_by_one(policy: ThrottlePolicy, batch: list[Any]) -> list[Any]:
    decisions = []
    for item in batch:
        try:
            decisions.append(policy.feed(item))
        except AlertThrottleError:
            continue
    return decisions


@given(
    config=policy_configs(),
    batch=st.lists(items, max_size=60),
    late=st.sampled_from(["clamp", "reject"]),
    max_keys=st.none() | st.integers(1, 4),
)
def test_a_stopped_batch_loses_no_count_and_decides_as_feed(
    config: PolicyConfig, batch: list[Any], late: Any, max_keys: int | None
) -> None:
    policy = ThrottlePolicy(config, late=late, max_keys=max_keys)
    decisions = _feed_in_batches(policy, batch)
    policy._check()
    stats = policy.stats
    pending = sum(meta.throttled_count for meta in policy.pending_counts().values())
    assert reported_counts(decisions) + pending + stats.dropped_throttled == stats.throttled
    alone = ThrottlePolicy(config, late=late, max_keys=max_keys)
    assert [canonical(d) for d in decisions] == [
        canonical(d) for d in _feed_one_by_one(alone, batch)
    ]
    assert alone.stats == stats and alone.snapshot() == policy.snapshot()


def _busy_policy(late: Any = "reject") -> ThrottlePolicy:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=2, period=10)), late=late)
    policy.feed_many(Alert(t, DEVICE, 0x8014) for t in (0, 1, 2, 3))
    return policy


@pytest.mark.parametrize(
    "bad", [*BAD, Alert(2, DEVICE, 0x8014)], ids=["str", "none", "int", "tuple", "late"]
)
def test_a_refused_alert_changes_nothing(bad: Any) -> None:
    policy = _busy_policy()
    before = policy.snapshot()
    with pytest.raises(AlertThrottleError):
        policy.feed(bad)
    assert policy.snapshot() == before
    with pytest.raises(AlertThrottleError) as caught:
        policy.feed_many([Alert(5, DEVICE, 0x8014), bad])
    assert caught.value.index == 1 and len(caught.value.decisions or ()) == 1
    policy._check()


@pytest.mark.parametrize(
    "now", [10**400, math.nan, math.inf, -1, 253402300800, 1_705_276_800_000, "soon", None, True]
)
def test_a_refused_advance_changes_nothing(now: Any) -> None:
    policy = _busy_policy()
    before = policy.snapshot()
    with pytest.raises(InvalidAlertError):
        policy.advance(now)
    assert policy.snapshot() == before
    assert policy.clock == 3


def test_a_ring_holds_only_the_alerts_seen() -> None:
    # A large limit costs a quiet key nothing: its ring grows with its alerts.
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1_000_000, period=3600)))
    policy.feed_many(Alert(t, DEVICE, 0x8014) for t in (0, 1, 2))
    ((_, _, window),) = policy._tracked_keys()
    assert window.times == [0, 1, 2]
    small = ThrottlePolicy(PolicyConfig(Threshold(limit=2, period=3600)))
    small.feed_many(Alert(t, DEVICE, 0x8014) for t in range(10))
    ((_, _, window),) = small._tracked_keys()
    assert sorted(window.times) == [7, 8, 9]
