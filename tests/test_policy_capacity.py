"""ThrottlePolicy with a CapacityGuard: LevelChanged in the event stream, engage_at gating."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import NaiveGuard

from alertthrottle import (
    Alert,
    CapacityGuard,
    CapacityLevel,
    CapacityThresholds,
    LevelChanged,
    PolicyConfig,
    PolicyError,
    ShadowPolicy,
    SnapshotError,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    Verdict,
)
from alertthrottle._engine.snapshot import _canonical

GREEN, AMBER, RED = CapacityLevel.GREEN, CapacityLevel.AMBER, CapacityLevel.RED
DEVICES = ["00-0D-6F-00-0A-BC-12-34", "00-0D-6F-00-0A-BC-12-35", "00-0D-6F-00-0A-BC-12-36"]
EXEMPT = 0x8F35
ENGAGE = {"always": GREEN, "amber": AMBER, "red": RED}


class NaivePolicy:
    """SEMANTICS steps 1-5 without sampling, recounting everything, plus engage_at gating."""

    def __init__(self, config: PolicyConfig, guard: NaiveGuard, engage_at: str) -> None:
        self.config = config
        self.guard = guard
        self.engage = ENGAGE[engage_at]
        self.times: dict[tuple[str, int], list[float]] = defaultdict(list)
        self.open: dict[tuple[str, int], dict[str, Any]] = {}
        self.sequence = 0

    def _end(self, key: tuple[str, int]) -> float:
        threshold = self.config.threshold_for(key[1])
        assert threshold is not None
        return self.times[key][-threshold.resume_below] + threshold.period

    def _close(self, t: float) -> list[Any]:
        due = sorted((self._end(key), key) for key in self.open if self._end(key) <= t)
        out = []
        for end, key in due:
            episode = self.open.pop(key)
            out.append(
                ThrottlingEnded(
                    device_id=key[0],
                    code=key[1],
                    at=end,
                    sequence_id=episode["seq"],
                    started_at=episode["start"],
                    throttled_count=episode["throttled"],
                    sampled_count=0,
                )
            )
        return out

    def feed(self, alert: Alert) -> tuple[Verdict, list[Any]]:
        t = alert.timestamp
        events = self._close(t)
        events = sorted(events + self.guard.observe(t), key=lambda e: e.at)
        key = (alert.device_id, alert.code)
        if self.config.is_exempt(alert.code):
            return Verdict.EXEMPT, events
        threshold = self.config.threshold_for(alert.code)
        assert threshold is not None
        self.times[key].append(t)
        if key in self.open:
            self.open[key]["throttled"] += 1
            return Verdict.THROTTLE, events
        count = sum(1 for s in self.times[key] if s > t - threshold.period)
        if count > threshold.limit and self.guard.level >= self.engage:
            # The policy keeps only the last limit + 1 times of a key: a start that
            # waited for the capacity level reports at most that many.
            count = min(count, threshold.limit + 1)
            self.sequence += 1
            self.open[key] = {"seq": self.sequence, "start": t, "throttled": 1}
            events.append(
                ThrottlingStarted(
                    device_id=key[0], code=key[1], at=t, sequence_id=self.sequence,
                    window_count=count,
                )
            )
            return Verdict.THROTTLE, events
        return Verdict.DELIVER, events

    def advance(self, now: float) -> list[Any]:
        return sorted(self._close(now) + self.guard.advance(now), key=lambda e: e.at)


def _order(events: list[Any]) -> list[Any]:
    # Events at the same instant may come in any order between kinds and keys.
    return sorted(events, key=lambda e: (e.at, type(e).__name__, repr(e)))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, ...]:
    limit = draw(st.integers(1, 4))
    threshold = Threshold(limit, draw(st.sampled_from([2, 5, 10])), draw(st.integers(1, limit)))
    amber = draw(st.integers(1, 10))
    red = draw(st.integers(amber, 14))
    capacity = CapacityThresholds(
        period=draw(st.sampled_from([3, 5, 10])),
        amber=amber,
        red=red,
        amber_clear=draw(st.integers(1, amber)),
        red_clear=draw(st.integers(1, red)),
    )
    engage = draw(st.sampled_from(["always", "amber", "red"]))
    plan = draw(
        st.lists(
            st.tuples(
                st.integers(0, 4),
                st.sampled_from(DEVICES),
                st.sampled_from([0x8014, 0x8014, 0x8015, EXEMPT]),
                st.booleans(),
            ),
            max_size=60,
        )
    )
    return threshold, capacity, engage, plan


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_policy_with_guard_matches_a_naive_model(scenario: tuple[Any, ...]) -> None:
    threshold, capacity, engage, plan = scenario
    config = PolicyConfig(default=threshold, exempt_codes={EXEMPT})
    guard = CapacityGuard(capacity)
    policy = ThrottlePolicy(config, capacity=guard, engage_at=engage)
    naive = NaivePolicy(config, NaiveGuard(capacity), engage)
    t = 0
    last_at = float("-inf")
    for dt, device, code, advance_first in plan:
        t += dt
        if advance_first:
            now = max(0, t - 0.5)
            got = policy.advance(now)
            assert _order(got) == _order(naive.advance(now))
            events: list[Any] = list(got)
        else:
            events = []
        decision = policy.feed(Alert(t, device, code))
        verdict, want = naive.feed(Alert(t, device, code))
        assert decision.verdict is verdict
        assert _order(list(decision.events)) == _order(want)
        if decision.events and isinstance(decision.events[-1], ThrottlingStarted):
            assert guard.level >= ENGAGE[engage]
        events.extend(decision.events)
        for event in events:
            assert event.at >= last_at
            last_at = event.at
        policy._check()
        assert policy.capacity is guard and guard.level == naive.guard.level


def _storm(policy: ThrottlePolicy, device: str, times: range, code: int = 0x8014) -> list[Any]:
    return [policy.feed(Alert(t, device, code)) for t in times]


def test_engage_at_red_waits_for_the_level_then_starts_at_once() -> None:
    guard = CapacityGuard(CapacityThresholds(period=10, amber=4, red=6))
    policy = ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=10), exempt_codes={EXEMPT}),
        capacity=guard,
        engage_at="red",
    )
    storm = _storm(policy, DEVICES[0], range(4))
    # Over its limit from the third alert, but the system is only AMBER: delivered.
    assert [d.verdict for d in storm] == [Verdict.DELIVER] * 4
    assert [e for d in storm for e in d.events] == [
        LevelChanged(at=3, old=GREEN, new=AMBER, window_count=4)
    ]
    # Exempt alerts from another device push the system to RED ...
    exempt = policy.feed(Alert(4, DEVICES[1], EXEMPT))
    assert exempt.verdict is Verdict.EXEMPT
    red = policy.feed(Alert(4, DEVICES[1], EXEMPT))
    assert red.events == (LevelChanged(at=4, old=AMBER, new=RED, window_count=6),)
    # ... and the storming key's next alert starts its episode: its window was kept.
    started = policy.feed(Alert(5, DEVICES[0], 0x8014))
    assert started.verdict is Verdict.THROTTLE
    assert isinstance(started.events[-1], ThrottlingStarted)
    # (5 alerts in its window; the key's ring holds the last limit + 1 = 3 of them.)
    assert started.events[-1].window_count == 3
    # A key that never went over its limit is untouched.
    assert policy.feed(Alert(5, DEVICES[2], 0x8014)).verdict is Verdict.DELIVER


def test_open_episodes_run_to_their_natural_end_when_the_level_drops() -> None:
    guard = CapacityGuard(CapacityThresholds(period=5, amber=3, red=100))
    policy = ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=100)), capacity=guard, engage_at="amber"
    )
    decisions = _storm(policy, DEVICES[0], range(3))
    assert decisions[-1].verdict is Verdict.THROTTLE
    events = policy.advance(50)
    assert events == [LevelChanged(at=5, old=AMBER, new=GREEN, window_count=2)]
    # GREEN now, but the episode is still open: its key stays throttled.
    assert policy.feed(Alert(60, DEVICES[0], 0x8014)).verdict is Verdict.THROTTLE
    assert [e.sequence_id for e in policy.open_episodes()] == [1]
    (ended,) = policy.advance(200)
    assert isinstance(ended, ThrottlingEnded)
    assert ended.at == 102 and ended.throttled_count == 2


def test_advance_interleaves_ends_and_level_changes_in_time_order() -> None:
    guard = CapacityGuard(CapacityThresholds(period=3, amber=2, red=4))
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1, period=10)), capacity=guard)
    _storm(policy, DEVICES[0], range(2))
    events = policy.advance(30)
    assert [(type(e).__name__, e.at) for e in events] == [
        ("LevelChanged", 3),
        ("ThrottlingEnded", 11),
    ]


def test_always_with_a_guard_decides_like_no_guard() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, sample_every=2), exempt_codes={EXEMPT})
    plain = ThrottlePolicy(config)
    guarded = ThrottlePolicy(config, capacity=CapacityGuard(CapacityThresholds(5, 2, 3)))
    alerts = [Alert(t // 3, DEVICES[t % 2], (0x8014, EXEMPT)[t % 5 == 0]) for t in range(90)]
    for alert in alerts:
        a, b = plain.feed(alert), guarded.feed(alert)
        assert (a.verdict, a.metadata) == (b.verdict, b.metadata)
        assert a.events == tuple(e for e in b.events if not isinstance(e, LevelChanged))
    assert plain.stats == guarded.stats


def test_options_are_validated() -> None:
    config = PolicyConfig(Threshold(1, 1))
    with pytest.raises(PolicyError) as info:
        ThrottlePolicy(config, engage_at="red")
    assert info.value.field == "engage_at"
    with pytest.raises(PolicyError) as info:
        ThrottlePolicy(config, capacity=CapacityGuard(CapacityThresholds(1, 1, 1)), engage_at="x")  # type: ignore[arg-type]
    assert info.value.field == "engage_at"
    with pytest.raises(PolicyError) as info:
        ThrottlePolicy(config, capacity=CapacityThresholds(1, 1, 1))  # type: ignore[arg-type]
    assert info.value.field == "capacity"
    policy = ThrottlePolicy(config)
    assert policy.capacity is None and policy.engage_at == "always"


def _guarded(engage: str = "amber") -> ThrottlePolicy:
    return ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=20), exempt_codes={EXEMPT}),
        capacity=CapacityGuard(CapacityThresholds(period=10, amber=4, red=8, amber_clear=2)),
        engage_at=engage,  # type: ignore[arg-type]
    )


def _mixed(n: int) -> list[Alert]:
    return [Alert(i // 2, DEVICES[i % 3], (0x8014, EXEMPT)[i % 4 == 0]) for i in range(n)]


@pytest.mark.parametrize("cut", [0, 7, 23, 40])
def test_snapshot_keeps_the_guard_and_goes_on_as_if_never_stopped(cut: int) -> None:
    alerts = _mixed(60)
    whole = _guarded()
    want = [whole.feed(a) for a in alerts] + [whole.advance(100)]
    first = _guarded()
    got: list[Any] = [first.feed(a) for a in alerts[:cut]]
    restored = ThrottlePolicy.restore(first.snapshot())
    assert restored.engage_at == "amber" and restored.capacity is not None
    assert restored.capacity.level == first.capacity.level  # type: ignore[union-attr]
    got += [restored.feed(a) for a in alerts[cut:]] + [restored.advance(100)]
    restored._check()
    assert got == want


def test_a_snapshot_with_a_broken_guard_is_refused() -> None:
    policy = _guarded()
    for alert in _mixed(20):
        policy.feed(alert)
    document = json.loads(policy.snapshot())
    document["state"]["capacity"]["level"] = "GREEN"  # 9 alerts in the window: not GREEN
    document["sha256"] = hashlib.sha256(_canonical(document["state"])).hexdigest()
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(json.dumps(document).encode())
    assert info.value.field == "state.capacity.level"


def test_a_shadow_of_the_same_config_agrees_with_a_guarded_live_policy() -> None:
    live = _guarded("red")
    shadow = ShadowPolicy(live, {"same": live.config})
    for alert in _mixed(80):
        shadow.feed(alert)
    comparison = shadow.comparison
    (candidate,) = comparison.candidates
    assert candidate.different == 0
    assert candidate.notifications == comparison.live.notifications


def _stream_is_whole_and_in_order(events: list[Any], guard: CapacityGuard) -> None:
    """Events in order of ``at``; level changes chained from GREEN to the guard's level."""
    assert [e.at for e in events] == sorted(e.at for e in events), events
    level = GREEN
    for change in (e for e in events if isinstance(e, LevelChanged)):
        # A lost change breaks the chain; a duplicated one repeats a step it cannot repeat.
        assert change.old == level, (change, level)
        level = change.new
    assert level == guard.level


def _two_episodes_in_red() -> tuple[ThrottlePolicy, list[Any]]:
    guard = CapacityGuard(CapacityThresholds(period=5, amber=3, red=5, amber_clear=2, red_clear=4))
    policy = ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=10), exempt_codes={EXEMPT}),
        capacity=guard,
        engage_at="amber",
    )
    alerts = [Alert(0, DEVICES[0], 0x8014)] * 3 + [Alert(0, DEVICES[1], EXEMPT)] * 2
    alerts += [Alert(1, DEVICES[2], 0x8015)] * 3
    events = [e for d in policy.feed_many(alerts) for e in d.events]
    assert guard.level is RED and [e.sequence_id for e in policy.open_episodes()] == [1, 2]
    return policy, events


def test_reconfigure_returns_the_guards_falls_up_to_at_in_order_then_its_own_ends() -> None:
    policy, events = _two_episodes_in_red()
    guard = policy.capacity
    assert guard is not None
    # RED falls to AMBER at 5 and to GREEN at 6; episode 1 is due at 10; 8015 made
    # exempt ends episode 2 at the change.
    change = policy.reconfigure(
        PolicyConfig(policy.config.default, exempt_codes={EXEMPT, 0x8015}), at=10.5, reason="r"
    )
    assert [(type(e).__name__, e.at) for e in change.events] == [
        ("LevelChanged", 5),
        ("LevelChanged", 6),
        ("ThrottlingEnded", 10),
        ("ThrottlingEnded", 10.5),
    ]
    assert change.events[:2] == (
        LevelChanged(at=5, old=RED, new=AMBER, window_count=3),
        LevelChanged(at=6, old=AMBER, new=GREEN, window_count=0),
    )
    assert policy.config_history[-1] == change
    assert guard.clock == 10.5 and guard.level is GREEN
    events += change.events
    events += [e for d in policy.feed_many([Alert(11, DEVICES[0], 0x8014)] * 4) for e in d.events]
    events += policy.advance(40)
    _stream_is_whole_and_in_order(events, guard)
    policy._check()


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.data())
def test_reconfigure_returns_what_advance_would_then_the_changes_own_events(
    scenario: tuple[Any, ...], data: st.DataObject
) -> None:
    threshold, capacity, engage, plan = scenario
    config = PolicyConfig(default=threshold, exempt_codes={EXEMPT})
    policy = ThrottlePolicy(config, capacity=CapacityGuard(capacity), engage_at=engage)
    cut = data.draw(st.integers(0, len(plan)))
    alerts = []
    t = 0
    for dt, device, code, _ in plan:
        t += dt
        alerts.append(Alert(t, device, code))
    events = [e for d in policy.feed_many(alerts[:cut]) for e in d.events]
    # The twin moves its clock with advance first: reconfigure must return the same.
    twin = ThrottlePolicy.restore(policy.snapshot())
    at = (alerts[cut - 1].timestamp if cut else 0) + data.draw(st.sampled_from([0, 1, 4, 12]))
    new = PolicyConfig(
        default=data.draw(st.sampled_from([threshold, Threshold(1, 3), Threshold(5, 20, 2)])),
        exempt_codes=data.draw(st.sampled_from([{EXEMPT}, {EXEMPT, 0x8015}])),
    )
    change = policy.reconfigure(new, at=at, reason="r")
    want = twin.advance(at) + list(twin.reconfigure(new, at=at, reason="r").events)
    assert list(change.events) == want
    events += change.events
    later = [Alert(a.timestamp + at, a.device_id, a.code) for a in alerts[cut:]]
    decisions = policy.feed_many(later)
    assert decisions == twin.feed_many(later)
    events += [e for d in decisions for e in d.events] + policy.advance(at + 10**4)
    assert policy.capacity is not None
    _stream_is_whole_and_in_order(events, policy.capacity)
    policy._check()


def test_a_history_holding_level_changes_round_trips_a_snapshot_byte_for_byte() -> None:
    policy, _ = _two_episodes_in_red()
    change = policy.reconfigure(
        PolicyConfig(policy.config.default, exempt_codes={EXEMPT, 0x8015}), at=10.5, reason="r"
    )
    assert any(isinstance(e, LevelChanged) for e in change.events)
    data = policy.snapshot()
    restored = ThrottlePolicy.restore(data)
    assert restored.config_history == policy.config_history
    assert restored.snapshot() == data
    entry = json.loads(data)["state"]["config_history"][1]["events"]
    assert entry[0] == {
        "kind": "LevelChanged",
        "at": 5,
        "old": "RED",
        "new": "AMBER",
        "window_count": 3,
    }
    # Episode ends are written as before (no kind), so earlier snapshots read the same.
    assert "kind" not in entry[2] and entry[2]["sequence_id"] == 1


def _resealed_history_event(edit: Any) -> bytes:
    policy, _ = _two_episodes_in_red()
    policy.reconfigure(policy.config, at=10.5, reason="r")
    document = json.loads(policy.snapshot())
    edit(document["state"]["config_history"][1]["events"])
    document["sha256"] = hashlib.sha256(_canonical(document["state"])).hexdigest()
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda events: events[0].update(kind="Mystery"), "state.config_history[1].events[0].kind"),
        (lambda events: events[0].update(new="BLUE"), "state.config_history[1].events[0].new"),
        (lambda events: events[0].update(old=1), "state.config_history[1].events[0].old"),
        (
            lambda events: events[0].update(window_count=-1),
            "state.config_history[1].events[0].window_count",
        ),
        (
            lambda events: events[0].update(device_id=DEVICES[0]),
            "state.config_history[1].events[0].device_id",
        ),
        (lambda events: events[2].update(old="RED"), "state.config_history[1].events[2].old"),
        (lambda events: events[0].pop("at"), "state.config_history[1].events[0].at"),
    ],
)
def test_a_bad_level_change_in_the_history_is_refused(edit: Any, field: str) -> None:
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(_resealed_history_event(edit))
    assert info.value.field == field
