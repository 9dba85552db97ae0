"""max_keys: a bound on tracked keys, with the eviction rule of docs/memory.md."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, run, run_step, streams

from alertthrottle import (
    Alert,
    Decision,
    PolicyConfig,
    PolicyError,
    Threshold,
    ThrottlePolicy,
    Verdict,
)

CODE = 0x8014
CONFIG = PolicyConfig(Threshold(limit=2, period=10, resume_below=1))


def feed(policy: ThrottlePolicy, t: float, device: int) -> Decision:
    decision = policy.feed(Alert(t, DEVICES[device], CODE))
    policy._check()
    return decision


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_max_keys_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        ThrottlePolicy(CONFIG, max_keys=bad)
    assert caught.value.field == "max_keys"


def test_the_key_whose_window_empties_soonest_is_evicted() -> None:
    policy = ThrottlePolicy(CONFIG, max_keys=2)
    feed(policy, 0, 0)  # device 0 empties at 10
    feed(policy, 1, 1)  # device 1 empties at 11
    feed(policy, 2, 0)  # device 0 now empties at 12: device 1 goes first
    feed(policy, 3, 2)
    assert policy.stats.evicted == 1 and policy.stats.tracked_keys == 2
    # Device 1 is forgotten: its earlier alert no longer counts.
    assert [feed(policy, t, 1).verdict for t in (4, 5, 6)] == [
        Verdict.DELIVER,
        Verdict.DELIVER,
        Verdict.THROTTLE,
    ]


def test_a_key_in_an_open_episode_is_never_evicted() -> None:
    policy = ThrottlePolicy(CONFIG, max_keys=2)
    for t in (0, 0, 0):
        feed(policy, t, 0)  # episode 1, device 0 (its window empties first)
    feed(policy, 1, 1)
    feed(policy, 2, 2)  # evicts device 1, not device 0
    assert policy.stats.open_episodes == 1
    assert policy.stats.evicted == 1
    assert {key for key, _ in _tracked(policy)} == {DEVICES[0], DEVICES[2]}


def test_with_every_key_in_an_episode_the_bound_is_exceeded_not_broken() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(2, 10, resume_below=2)), max_keys=1)
    for t in (0, 0, 0, 5):
        feed(policy, t, 0)  # episode 1 ends at 10, the window empties at 15
    feed(policy, 1, 1)
    assert policy.stats.tracked_keys == 2 and policy.stats.evicted == 0
    # Once the episode is over, the next new key brings the count back to the bound.
    feed(policy, 10.5, 2)
    assert policy.stats.tracked_keys == 1 and policy.stats.evicted == 2


def test_an_evicted_pending_count_is_kept_and_delivered_later() -> None:
    policy = ThrottlePolicy(CONFIG, max_keys=1)
    for t in (0, 0, 0, 1):
        feed(policy, t, 0)  # two throttled alerts of episode 1
    (ended,) = policy.advance(11)
    assert ended.throttled_count == 2
    feed(policy, 11, 1)  # device 0 is idle-dropped or evicted: its count waits
    assert policy.pending_counts()[DEVICES[0], CODE].throttled_count == 2
    decision = feed(policy, 12, 0)
    assert (decision.metadata.throttled_count, decision.metadata.sequence_id) == (2, 1)


def test_eviction_survives_a_snapshot() -> None:
    policy = ThrottlePolicy(CONFIG, max_keys=1)
    feed(policy, 0, 0)
    feed(policy, 1, 1)
    restored = ThrottlePolicy.restore(policy.snapshot())
    assert restored.max_keys == 1 and restored.stats == policy.stats
    assert restored.stats.evicted == 1


def _tracked(policy: ThrottlePolicy) -> list[tuple[str, int]]:
    return [(device, rule.code) for rule in policy._rules.values() for device in rule.keys]


@given(config=configs(), steps=streams(), data=st.data())
@settings(deadline=None)
def test_a_bound_above_the_number_of_keys_changes_nothing(
    config: PolicyConfig, steps: list[Any], data: st.DataObject
) -> None:
    expected = run(ThrottlePolicy(config), steps)
    policy = ThrottlePolicy(config, max_keys=len(DEVICES) * 4)
    assert run(policy, steps) == expected
    assert policy.stats.evicted == 0


@given(config=configs(), steps=streams(), max_keys=st.integers(1, 3))
@settings(deadline=None)
def test_bounded_policies_keep_every_count_and_the_bound(
    config: PolicyConfig, steps: list[Any], max_keys: int
) -> None:
    policy = ThrottlePolicy(config, max_keys=max_keys)
    reported = 0
    for step in steps:
        before = policy.stats.tracked_keys
        result = run_step(policy, step)
        policy._check()
        stats = policy.stats
        if stats.tracked_keys > before:
            # Right after a new key: within the bound, unless open episodes fill it.
            assert stats.tracked_keys <= max(max_keys, stats.open_episodes + 1)
        if isinstance(result, Decision):
            reported += result.metadata.throttled_count
    pending = sum(meta.throttled_count for meta in policy.pending_counts().values())
    assert reported + pending == policy.stats.throttled
