"""Runtime reconfiguration: the cases docs/reconfiguration.md spells out, and its invariants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, run, run_step, streams

from alertthrottle import (
    Alert,
    ConfigChange,
    Decision,
    PolicyConfig,
    PolicyError,
    SettingChange,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    Verdict,
)

DEVICE = DEVICES[0]
CODE = 0x8014
BASE = PolicyConfig(Threshold(limit=3, period=10, resume_below=2))


def storm(policy: ThrottlePolicy, times: Any, code: int = CODE) -> list[Decision]:
    return [policy.feed(Alert(t, DEVICE, code)) for t in times]


def in_episode() -> ThrottlePolicy:
    """The worked example up to t=5: episode 1 open, ending at 14, 3 alerts pending."""
    policy = ThrottlePolicy(BASE)
    storm(policy, [0, 1, 2, 3, 4, 5])
    return policy


def test_history_starts_with_the_initial_config() -> None:
    policy = ThrottlePolicy(BASE)
    (entry,) = policy.config_history
    assert entry == ConfigChange(version=1, at=None, reason="initial configuration", config=BASE)


def test_an_audit_entry_says_what_changed_when_and_why() -> None:
    policy = in_episode()
    new = PolicyConfig(
        Threshold(limit=5, period=10, resume_below=2), exempt_codes={0x8F75}
    )
    change = policy.reconfigure(new, at=7, reason="INC-42: too many 8014 episodes")
    assert change.version == 2 and change.at == 7 and change.config == new
    assert change.changes == (
        SettingChange("default.limit", 3, 5),
        SettingChange("exempt_codes.8F75", None, True),
    )
    assert policy.config is new
    assert policy.config_history[-1] is change
    assert [entry.version for entry in policy.config_history] == [1, 2]
    assert policy.clock == 7


def test_at_cannot_be_before_the_clock() -> None:
    policy = in_episode()
    before = policy.snapshot()
    with pytest.raises(PolicyError) as caught:
        policy.reconfigure(PolicyConfig(), at=4, reason="too late")
    assert caught.value.field == "at"
    assert policy.snapshot() == before


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"new_config": "not a config", "at": 6, "reason": "x"}, "new_config"),
        ({"new_config": BASE, "at": 6, "reason": ""}, "reason"),
        ({"new_config": BASE, "at": float("nan"), "reason": "x"}, "at"),
    ],
)
def test_bad_arguments_change_nothing(arguments: dict[str, Any], field: str) -> None:
    policy = in_episode()
    before = policy.snapshot()
    with pytest.raises(PolicyError) as caught:
        policy.reconfigure(**arguments)
    assert caught.value.field == field
    assert policy.snapshot() == before


def test_episodes_due_by_at_end_first_under_the_old_threshold() -> None:
    policy = in_episode()
    change = policy.reconfigure(PolicyConfig(Threshold(100, 10)), at=30, reason="raise")
    (ended,) = change.events
    assert (ended.at, ended.sequence_id, ended.throttled_count) == (14, 1, 3)


def test_same_threshold_keeps_the_episode_unchanged() -> None:
    policy = in_episode()
    change = policy.reconfigure(BASE, at=6, reason="no-op")
    assert change.changes == () and change.events == ()
    decision = policy.feed(Alert(20, DEVICE, CODE))
    assert decision.events[0].at == 14


def test_a_threshold_that_says_the_episode_is_over_ends_it_at_at() -> None:
    policy = in_episode()
    # resume_below 2 -> 5: the window holds 4 alerts (2..5), fewer than 5: it is over.
    new = PolicyConfig(Threshold(limit=5, period=10, resume_below=5))
    change = policy.reconfigure(new, at=6, reason="hysteresis off")
    (ended,) = change.events
    assert isinstance(ended, ThrottlingEnded)
    assert (ended.at, ended.sequence_id, ended.throttled_count) == (6, 1, 3)
    assert policy.open_episodes() == []
    # The count was not delivered yet: it waits for the key's next delivered alert.
    decision = policy.feed(Alert(6, DEVICE, CODE))
    assert decision.verdict is Verdict.DELIVER
    assert (decision.metadata.throttled_count, decision.metadata.sequence_id) == (3, 1)
    policy._check()


def test_a_threshold_change_keeps_an_open_episode_going_with_a_new_end() -> None:
    policy = in_episode()
    # resume_below 2 -> 1 and period 10 -> 20: the episode now ends at 5 + 20 = 25.
    new = PolicyConfig(Threshold(limit=3, period=20, resume_below=1))
    change = policy.reconfigure(new, at=6, reason="longer period")
    assert change.events == ()
    (started,) = policy.open_episodes()
    assert started.sequence_id == 1
    assert policy.advance(24.9) == []
    (ended,) = policy.advance(25)
    assert (ended.at, ended.throttled_count) == (25, 3)


def test_a_shorter_period_can_end_episodes_and_forget_idle_keys() -> None:
    policy = in_episode()
    storm(policy, [5], code=0x8015)
    new = PolicyConfig(Threshold(limit=3, period=1, resume_below=2))
    change = policy.reconfigure(new, at=6, reason="short period")
    assert [event.at for event in change.events] == [6]
    assert policy.stats.tracked_keys == 0
    assert policy.pending_counts()[DEVICE, CODE].throttled_count == 3
    policy._check()


def test_a_lower_limit_applies_to_the_next_alert_with_the_remembered_history() -> None:
    policy = ThrottlePolicy(BASE)
    storm(policy, [0, 1, 2])
    policy.reconfigure(PolicyConfig(Threshold(limit=1, period=10)), at=3, reason="tighter")
    # Nothing starts at the change itself: episodes start on alerts.
    assert policy.open_episodes() == []
    (decision,) = storm(policy, [3])
    assert decision.verdict is Verdict.THROTTLE
    assert decision.events[0].window_count == 2  # the ring shrank to limit + 1 = 2 times


def test_a_higher_limit_keeps_the_times_the_ring_held() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1, period=10)))
    storm(policy, [0, 1])  # episode 1 starts at 1
    policy.reconfigure(PolicyConfig(Threshold(limit=3, period=10)), at=2, reason="looser")
    # resume_below 3 > the 2 times remembered: the episode is over at the change.
    assert policy.open_episodes() == []
    decisions = storm(policy, [2, 3])
    assert [d.verdict for d in decisions] == [Verdict.DELIVER, Verdict.THROTTLE]
    assert decisions[0].metadata.throttled_count == 1
    assert decisions[1].events[-1].window_count == 4
    policy._check()


def test_sample_every_applies_to_the_rest_of_the_episode() -> None:
    policy = in_episode()  # alerts 1..3 of episode 1 so far
    policy.reconfigure(
        PolicyConfig(Threshold(limit=3, period=10, resume_below=2, sample_every=2)),
        at=5,
        reason="sample",
    )
    decisions = storm(policy, [6, 7, 8])  # alerts 4, 5, 6 of the episode
    assert [d.sampled for d in decisions] == [True, False, True]
    assert decisions[0].metadata.throttled_count == 3


def test_a_code_that_becomes_exempt_ends_its_episodes_and_keeps_their_counts() -> None:
    policy = in_episode()
    change = policy.reconfigure(
        PolicyConfig(BASE.default, exempt_codes={CODE}), at=8, reason="8014 exempt"
    )
    (ended,) = change.events
    assert (ended.at, ended.sequence_id, ended.throttled_count) == (8, 1, 3)
    assert policy.stats.open_episodes == 0 and policy.stats.tracked_keys == 0
    assert policy.pending_counts()[DEVICE, CODE].throttled_count == 3
    # Exempt alerts are neither counted nor carry metadata.
    decisions = storm(policy, [9, 10, 11, 12, 13])
    assert all(d.verdict is Verdict.EXEMPT and d.metadata.throttled_count == 0 for d in decisions)
    assert policy.pending_counts()[DEVICE, CODE].throttled_count == 3
    policy._check()


def test_a_code_that_stops_being_exempt_counts_from_at_and_delivers_the_old_count() -> None:
    policy = in_episode()
    policy.reconfigure(PolicyConfig(BASE.default, exempt_codes={CODE}), at=8, reason="exempt")
    storm(policy, [9, 10, 11, 12])
    change = policy.reconfigure(BASE, at=13, reason="8014 throttled again")
    assert change.changes == (SettingChange("exempt_codes.8014", True, None),)
    assert change.events == ()
    decisions = storm(policy, [13, 13, 13, 13])
    # The exempt alerts at 9..12 do not count: three deliveries, then episode 2.
    assert [d.verdict for d in decisions] == [Verdict.DELIVER] * 3 + [Verdict.THROTTLE]
    assert (decisions[0].metadata.throttled_count, decisions[0].metadata.sequence_id) == (3, 1)
    assert decisions[3].events[-1].sequence_id == 2
    policy._check()


def test_a_code_left_without_threshold_ends_its_episodes_like_an_exempt_one() -> None:
    policy = ThrottlePolicy(PolicyConfig(per_code={CODE: BASE.default}))
    storm(policy, [0, 1, 2, 3, 4, 5])
    change = policy.reconfigure(PolicyConfig(), at=6, reason="throttling off")
    assert [event.at for event in change.events] == [6]
    assert policy.feed(Alert(7, DEVICE, CODE)).verdict is Verdict.DELIVER
    assert policy.pending_counts()[DEVICE, CODE].throttled_count == 3


def test_history_survives_a_snapshot() -> None:
    policy = in_episode()
    policy.reconfigure(PolicyConfig(BASE.default, exempt_codes={CODE}), at=8, reason="exempt")
    restored = ThrottlePolicy.restore(policy.snapshot())
    assert restored.config_history == policy.config_history


@given(config=configs(), steps=streams(), data=st.data())
@settings(deadline=None)
def test_reconfiguring_to_the_same_config_changes_no_decision(
    config: PolicyConfig, steps: list[Any], data: st.DataObject
) -> None:
    expected = run(ThrottlePolicy(config), steps)
    points = data.draw(st.sets(st.integers(0, len(steps))), label="points")
    policy = ThrottlePolicy(config)
    results: list[Any] = []
    for index, step in enumerate(steps):
        if index in points and policy.clock is not None:
            change = policy.reconfigure(config, at=policy.clock, reason="same")
            assert change.events == () and change.changes == ()
            policy._check()
        results.append(run_step(policy, step))
    assert results == expected


@given(configs=st.lists(configs(), min_size=2, max_size=4), steps=streams(), data=st.data())
@settings(deadline=None)
def test_no_count_is_ever_lost_across_reconfigurations(
    configs: list[PolicyConfig], steps: list[Any], data: st.DataObject
) -> None:
    points = data.draw(
        st.lists(st.integers(0, len(steps)), min_size=1, max_size=3), label="points"
    )
    policy = ThrottlePolicy(configs[0])
    reported = 0
    events: list[Any] = []
    for index, step in enumerate([*steps, ("advance", 0)]):
        for number, point in enumerate(points):
            if point == index:
                at = policy.clock or 0
                change = policy.reconfigure(configs[(number + 1) % len(configs)], at=at, reason="r")
                events.extend(change.events)
                policy._check()
        if index == len(steps):
            break
        result = run_step(policy, step)
        policy._check()
        if isinstance(result, Decision):
            reported += result.metadata.throttled_count
            events.extend(result.events)
        else:
            events.extend(result)
    events.extend(policy.advance((policy.clock or 0) + 10_000))
    pending = sum(meta.throttled_count for meta in policy.pending_counts().values())
    assert reported + pending == policy.stats.throttled
    # Every episode started ends, exactly once, with its THROTTLE verdicts counted.
    assert policy.stats.open_episodes == 0
    ends = [e for e in events if isinstance(e, ThrottlingEnded)]
    assert sorted(e.sequence_id for e in ends) == list(range(1, policy.stats.episodes + 1))
    assert sum(e.throttled_count for e in ends) == policy.stats.throttled
    assert [e.at for e in events] == sorted(e.at for e in events)
