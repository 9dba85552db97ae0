"""ThrottlePolicy, rule by rule, as SEMANTICS.md states each one."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from alertthrottle import (
    Alert,
    Decision,
    InvalidAlertError,
    LateAlertError,
    PolicyConfig,
    PolicyError,
    Threshold,
    ThrottleMetadata,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    Verdict,
)

DEVICE = "00-0D-6F-00-0A-BC-12-34"
OTHER = "00-0D-6F-00-0A-BC-12-35"
D, T, E = Verdict.DELIVER, Verdict.THROTTLE, Verdict.EXEMPT


def alert(t: float, code: int | str = 0x8014, device: str = DEVICE, **kw: object) -> Alert:
    return Alert(timestamp=t, device_id=device, code=code, **kw)  # type: ignore[arg-type]


def policy(threshold: Threshold | None = None, **config: object) -> ThrottlePolicy:
    late = config.pop("late", "clamp")
    return ThrottlePolicy(PolicyConfig(default=threshold, **config), late=late)  # type: ignore[arg-type]


def verdicts(p: ThrottlePolicy, times: list[float], code: int = 0x8014) -> list[Verdict]:
    return [p.feed(alert(t, code)).verdict for t in times]


def test_worked_example():
    p = policy(Threshold(limit=3, period=10, resume_below=2))
    decisions = [p.feed(alert(t)) for t in (0, 1, 2, 3, 4, 5, 20)]
    assert [d.verdict for d in decisions] == [D, D, D, T, T, T, D]
    assert decisions[3].events == (
        ThrottlingStarted(device_id=DEVICE, code=0x8014, at=3, sequence_id=1, window_count=4),
    )
    assert decisions[6].events == (
        ThrottlingEnded(
            device_id=DEVICE,
            code=0x8014,
            at=14,
            sequence_id=1,
            started_at=3,
            throttled_count=3,
            sampled_count=0,
        ),
    )
    assert decisions[6].metadata == ThrottleMetadata(
        previously_throttled=True, throttled_count=3, sequence_id=1
    )
    assert decisions[6].metadata.to_duis() == {
        "ThrottledAlertCount": 3,
        "ThrottledAlertSequenceId": 1,
    }
    for d in decisions[:6]:
        assert d.metadata.to_duis() == {}
        assert not d.metadata.previously_throttled


def test_window_is_half_open_an_alert_exactly_period_old_has_left():
    p = policy(Threshold(limit=2, period=10))
    # At t=10 the window (0, 10] holds 5 and 10 only: two alerts, not over the limit.
    assert verdicts(p, [0, 5, 10]) == [D, D, D]
    # At t=10 again it holds 5, 10, 10: three, over the limit.
    assert verdicts(p, [10]) == [T]


def test_ties_count_each_alert():
    assert verdicts(policy(Threshold(limit=2, period=1)), [7, 7, 7]) == [D, D, T]


def test_episode_ends_when_fewer_than_resume_below_remain_default_is_limit():
    p = policy(Threshold(limit=2, period=10))
    assert verdicts(p, [0, 1, 2]) == [D, D, T]
    # resume_below = 2: the 2nd most recent alert is at 1, so the end is at 11.
    assert p.advance(10.999) == []
    [end] = p.advance(11)
    assert (end.at, end.started_at, end.throttled_count) == (11, 2, 1)


def test_hysteresis_keeps_the_episode_open_longer():
    p = policy(Threshold(limit=2, period=10, resume_below=1))
    verdicts(p, [0, 1, 2])
    assert p.advance(11) == []  # two alerts left in the window: not below 1 yet
    [end] = p.advance(12)
    assert end.at == 12


def test_an_ongoing_storm_keeps_its_key_throttled():
    p = policy(Threshold(limit=2, period=10))
    # Every fed alert counts, whatever its verdict: the window never empties.
    assert verdicts(p, list(range(0, 60, 3))) == [D, D] + [T] * 18
    assert p.stats.open_episodes == 1


def test_episode_closed_before_the_alert_that_falls_on_its_end():
    p = policy(Threshold(limit=3, period=10, resume_below=2))
    verdicts(p, [0, 1, 2, 3, 4, 5])
    d = p.feed(alert(14))
    assert [type(e) for e in d.events] == [ThrottlingEnded]
    assert d.verdict is D
    assert d.metadata.throttled_count == 3


def test_ends_of_other_keys_come_first_in_order_of_at():
    p = policy(Threshold(limit=1, period=10))
    p.feed_many([alert(0, device=OTHER), alert(1, device=OTHER)])  # episode 1 ends at 11
    p.feed_many([alert(2), alert(3)])  # episode 2 ends at 13
    d = p.feed(alert(20, code=0x8F84, device=OTHER))
    assert [(e.sequence_id, e.at) for e in d.events] == [(1, 11), (2, 13)]


def test_started_event_follows_ended_events_in_one_decision():
    p = policy(Threshold(limit=1, period=10))
    p.feed_many([alert(0, device=OTHER), alert(1, device=OTHER), alert(10)])
    d = p.feed(alert(11))  # episode 1 ends at 11; this alert starts episode 2
    assert [type(e) for e in d.events] == [ThrottlingEnded, ThrottlingStarted]
    assert [e.sequence_id for e in d.events] == [1, 2]


def test_exempt_codes_are_never_throttled_nor_counted():
    p = policy(Threshold(limit=1, period=10), exempt_codes={"8F35"})
    assert verdicts(p, [0, 0, 0, 0], code=0x8F35) == [E, E, E, E]
    # The exempt alerts did not fill the window of any key.
    assert verdicts(p, [1, 1]) == [D, T]
    assert p.stats.exempt == 4
    d = p.feed(alert(2, code=0x8F35))
    assert d.metadata.to_duis() == {}


def test_default_none_throttles_only_per_code():
    p = policy(None, per_code={0x8F84: Threshold(limit=1, period=10)})
    assert verdicts(p, [0, 0, 0]) == [D, D, D]
    assert verdicts(p, [0, 0, 0], code=0x8F84) == [D, T, T]


def test_per_code_threshold_overrides_the_default():
    p = policy(Threshold(limit=5, period=10), per_code={"8014": Threshold(limit=1, period=10)})
    assert verdicts(p, [0, 0]) == [D, T]
    assert verdicts(p, [0, 0], code=0x8015) == [D, D]


def test_keys_are_device_and_code():
    p = policy(Threshold(limit=1, period=10))
    assert p.feed(alert(0)).verdict is D
    assert p.feed(alert(0, device=OTHER)).verdict is D
    assert p.feed(alert(0, code=0x8015)).verdict is D
    assert p.feed(alert(0)).verdict is T


def test_sample_every_delivers_every_nth_alert_of_the_episode():
    p = policy(Threshold(limit=2, period=100, sample_every=3))
    decisions = [p.feed(alert(t)) for t in range(10)]
    # Episode alerts are numbered from the one that started it (t=2 is number 1).
    assert [d.verdict for d in decisions] == [D, D, T, T, D, T, T, D, T, T]
    assert [d.sampled for d in decisions] == [False] * 4 + [True] + [False] * 2 + [
        True,
        False,
        False,
    ]
    assert decisions[4].metadata == ThrottleMetadata(True, 2, 1)
    assert decisions[7].metadata == ThrottleMetadata(True, 2, 1)
    [end] = p.advance(1_000)
    assert (end.throttled_count, end.sampled_count) == (6, 2)


def test_sample_interval_delivers_when_enough_time_passed_since_last_delivery():
    p = policy(Threshold(limit=2, period=100, sample_interval=5))
    times = [0, 1, 2, 3, 5, 6, 7, 12]
    got = verdicts(p, times)
    # Last delivery at 1; at 6 five seconds have passed (>=), then at 11+ again.
    assert got == [D, D, T, T, T, D, T, D]


def test_metadata_waits_however_long_for_the_next_delivery():
    p = policy(Threshold(limit=1, period=10))
    verdicts(p, [0, 1, 2, 3])
    p.advance(1_000_000)
    assert p.pending_counts() == {(DEVICE, 0x8014): ThrottleMetadata(True, 3, 1)}
    d = p.feed(alert(2_000_000))
    assert d.metadata == ThrottleMetadata(True, 3, 1)
    assert p.pending_counts() == {}


def test_sequence_ids_number_episodes_across_the_policy():
    p = policy(Threshold(limit=1, period=10))
    starts = []
    for t, device in [(0, DEVICE), (0, DEVICE), (1, OTHER), (1, OTHER), (30, DEVICE), (30, DEVICE)]:
        starts += [
            e for e in p.feed(alert(t, device=device)).events if isinstance(e, ThrottlingStarted)
        ]
    assert [(e.device_id, e.sequence_id) for e in starts] == [(DEVICE, 1), (OTHER, 2), (DEVICE, 3)]
    assert p.stats.episodes == 3


def test_events_carry_recipients_of_the_starting_alert():
    p = policy(Threshold(limit=1, period=10))
    p.feed(alert(0, recipients=("DNO-1",)))
    [started] = p.feed(alert(0, recipients=("DNO-1", "SUP-2"))).events
    assert started.recipients == ("DNO-1", "SUP-2")
    [end] = p.advance(100)
    assert end.recipients == ("DNO-1", "SUP-2")


class TestClock:
    def test_late_alert_is_clamped_and_flagged(self):
        p = policy(Threshold(limit=1, period=10))
        p.feed(alert(100))
        d = p.feed(alert(50))
        assert d.late and d.verdict is T  # counted at t=100 with the first one
        assert p.clock == 100
        assert p.stats.late == 1

    def test_late_reject_raises_and_changes_nothing(self):
        p = policy(Threshold(limit=1, period=10), late="reject")
        p.feed(alert(100))
        before = p.stats
        with pytest.raises(LateAlertError) as info:
            p.feed(alert(99.5))
        assert info.value.field == "timestamp" and info.value.value == 99.5
        assert isinstance(info.value, ValueError)
        assert attrs.astuple(p.stats) == attrs.astuple(before)
        assert p.feed(alert(100)).verdict is T

    def test_advance_backwards_moves_nothing(self):
        p = policy(Threshold(limit=1, period=10))
        p.feed_many([alert(0), alert(1)])
        assert p.advance(5) == []
        assert p.advance(3) == []
        assert p.clock == 5
        assert len(p.advance(11)) == 1

    def test_advance_accepts_aware_datetimes_and_rejects_bad_times(self):
        p = policy(Threshold(limit=1, period=10))
        assert p.advance(datetime(2026, 1, 1, tzinfo=UTC)) == []
        assert p.clock == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
        for bad in (float("nan"), -1, "soon", datetime(2026, 1, 1), True):
            with pytest.raises(InvalidAlertError) as info:
                p.advance(bad)
            assert info.value.field == "now"

    def test_clock_is_none_before_any_time(self):
        assert policy(Threshold(limit=1, period=10)).clock is None


class TestFeedMany:
    def test_error_says_where_the_batch_stopped_and_keeps_what_went_before(self):
        p = policy(Threshold(limit=1, period=10), late="reject")
        batch = [alert(0), alert(1), alert(0.5), alert(2)]
        with pytest.raises(LateAlertError) as info:
            p.feed_many(batch)
        assert info.value.index == 2
        assert p.stats.total == 2
        assert "index 2" in "".join(info.value.__notes__)

    def test_non_alert_in_batch(self):
        p = policy(Threshold(limit=1, period=10))
        with pytest.raises(InvalidAlertError) as info:
            p.feed_many([alert(0), {"timestamp": 1}])  # type: ignore[list-item]
        assert info.value.index == 1 and info.value.field == "alert"
        assert p.stats.total == 1


def test_common_decisions_are_shared_instances():
    p = policy(Threshold(limit=1, period=10))
    a, b = p.feed(alert(0)), p.feed(alert(0, device=OTHER))
    assert a is b
    p.feed(alert(0))  # starts an episode: carries an event
    c, d = p.feed(alert(0)), p.feed(alert(0))
    assert c is d and c.verdict is T
    assert Decision(Verdict.DELIVER) == a


def test_idle_keys_are_dropped_but_pending_counts_survive():
    p = policy(Threshold(limit=1, period=10))
    p.feed_many([alert(0), alert(1), alert(2, device=OTHER)])
    assert p.stats.tracked_keys == 2
    p.advance(12)
    assert p.stats.tracked_keys == 0
    assert p.pending_counts() == {(DEVICE, 0x8014): ThrottleMetadata(True, 1, 1)}
    assert p.feed(alert(13)).metadata.throttled_count == 1


def test_open_episodes_lists_started_events():
    p = policy(Threshold(limit=1, period=10))
    p.feed_many([alert(0), alert(0), alert(1, device=OTHER), alert(1, device=OTHER)])
    assert [e.sequence_id for e in p.open_episodes()] == [1, 2]
    p.advance(10)
    assert [e.sequence_id for e in p.open_episodes()] == [2]


def test_constructor_validates_its_options():
    with pytest.raises(PolicyError) as info:
        ThrottlePolicy(PolicyConfig(), late="drop")  # type: ignore[arg-type]
    assert info.value.field == "late"
    with pytest.raises(PolicyError):
        ThrottlePolicy({"default": None})  # type: ignore[arg-type]
    p = ThrottlePolicy(PolicyConfig(), late="reject")
    assert p.late == "reject" and p.config == PolicyConfig()


def test_stats_add_up_on_a_mixed_stream():
    p = policy(Threshold(limit=2, period=60, sample_every=2), exempt_codes={0x8F35})
    stream = [alert(t % 50, code=(0x8014, 0x8F35, 0x8015)[t % 3]) for t in range(200)]
    p.feed_many(stream)
    s = p.stats
    assert s.total == 200 and s.delivered + s.throttled + s.exempt == 200
    assert s.late > 0 and s.exempt == 67
