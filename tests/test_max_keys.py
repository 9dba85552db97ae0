"""max_keys: a bound on tracked keys, with the eviction rule of docs/memory.md."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import pytest
from helpers import canonical, totals
from hypothesis import event, given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, crowded, run, run_step, streams
from test_snapshot import reseal

from alertthrottle import (
    Alert,
    Decision,
    LateAlertError,
    PolicyConfig,
    PolicyError,
    SnapshotError,
    Stats,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    Verdict,
)
from alertthrottle.testing import ReferencePolicy

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
    return [(device, rule.code) for rule, device, _ in policy._tracked_keys()]


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
    assert reported + pending + policy.stats.dropped_throttled == policy.stats.throttled


def test_pending_counts_of_forgotten_keys_stay_within_the_bound() -> None:
    # Five devices storm once each (episodes 1..5), then fall silent: their counts
    # wait for a next alert that never comes. max_keys=2 keeps two of them, those of
    # the newest episodes; the others are dropped and counted.
    config = PolicyConfig(Threshold(limit=1, period=10))
    policy = ThrottlePolicy(config, max_keys=2)
    for device in range(5):
        for _ in range(3):
            policy.feed(Alert(device * 20, _device(device), CODE))
    policy.advance(200)
    policy._check()
    assert set(policy.pending_counts()) == {(_device(3), CODE), (_device(4), CODE)}
    stats = policy.stats
    assert (stats.dropped_counts, stats.dropped_throttled) == (3, 6)
    assert stats.throttled == 10 == 2 * 2 + stats.dropped_throttled
    # A dropped count's episode was reported in full by its ThrottlingEnded; the
    # device's next delivered alert carries nothing.
    assert not policy.feed(Alert(300, _device(0), CODE)).metadata.previously_throttled
    assert policy.feed(Alert(300, _device(4), CODE)).metadata.throttled_count == 2
    restored = ThrottlePolicy.restore(policy.snapshot())
    assert restored.stats.dropped_throttled == 6 and restored.snapshot() == policy.snapshot()


# -- parking: keys in open episodes met by an eviction leave the idle schedule ----------


def _parked(policy: ThrottlePolicy) -> set[tuple[str, int]]:
    return {
        (device, rule.code)
        for rule, device, window in policy._tracked_keys()
        if window.episode is not None and window.episode.parked
    }


def _storm_then_new_keys(policy: ThrottlePolicy, storms: int, new: int) -> None:
    """``storms`` devices in long episodes, then ``new`` one-alert devices, one a second."""
    for device in range(storms):
        for _ in range(3):
            policy.feed(Alert(0, _device(device), CODE))
    for number in range(new):
        policy.feed(Alert(1 + number * 0.001, _device(storms + number), CODE))
    policy._check()


def _device(number: int) -> str:
    raw = f"{0x000D6F0000000000 + number:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def test_an_eviction_parks_the_episode_keys_it_meets_once() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=1))
    policy = ThrottlePolicy(config, max_keys=50)
    _storm_then_new_keys(policy, storms=40, new=200)
    assert policy.stats.open_episodes == 40
    assert len(_parked(policy)) == 40
    # Parked keys are out of the idle schedule: each eviction after the first
    # one met them looks at evictable keys only.
    assert len(policy._filed()) == policy.stats.tracked_keys - 40 == 10
    assert policy.stats.evicted == 190


def test_a_parked_key_is_filed_again_when_its_episode_ends() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=2))
    policy = ThrottlePolicy(config, max_keys=2)
    for t in (0, 0, 0, 5):
        feed(policy, t, 0)  # episode 1 ends at 10, the window empties at 15
    feed(policy, 6, 1)
    feed(policy, 7, 2)  # evicts device 1, parks device 0
    assert _parked(policy) == {(DEVICES[0], CODE)} and policy.stats.evicted == 1
    assert len(policy._filed()) == 1
    (ended,) = policy.advance(10)
    assert ended.sequence_id == 1 and _parked(policy) == set()
    policy._check()
    assert policy._filed()[0] == (15, DEVICES[0], CODE)
    # Evictable again, and first to go: its window empties before device 2's (17).
    feed(policy, 11, 3)
    assert _tracked(policy) == [(DEVICES[2], CODE), (DEVICES[3], CODE)]
    assert policy.pending_counts()[DEVICES[0], CODE].throttled_count == 2


def test_a_parked_key_ended_by_a_reconfiguration_is_filed_again() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=2))
    policy = ThrottlePolicy(config, max_keys=2)
    for t in (0, 0, 0, 1):
        feed(policy, t, 0)
    feed(policy, 6, 1)
    feed(policy, 7, 2)  # parks device 0, evicts device 1
    feed(policy, 7, 0)
    assert _parked(policy) == {(DEVICES[0], CODE)}
    # A shorter period: device 0's episode is over (1 + 5 <= 8), its window is not (7 + 5).
    new = PolicyConfig(Threshold(2, 5, resume_below=2))
    change = policy.reconfigure(new, at=8, reason="shorter")
    assert [event.sequence_id for event in change.events] == [1]
    policy._check()
    assert _parked(policy) == set() and policy.stats.tracked_keys == 2
    # Evictable again, and first to go (its window empties at 12, as device 2's: ties
    # go by device id).
    feed(policy, 9, 3)
    assert _tracked(policy) == [(DEVICES[2], CODE), (DEVICES[3], CODE)]


def test_a_parked_key_of_a_code_made_exempt_is_dropped() -> None:
    policy = ThrottlePolicy(CONFIG, max_keys=2)
    for t in (0, 0, 0):
        feed(policy, t, 0)
    feed(policy, 1, 1)
    feed(policy, 2, 2)  # parks device 0
    assert _parked(policy) == {(DEVICES[0], CODE)}
    policy.reconfigure(PolicyConfig(CONFIG.default, exempt_codes={CODE}), at=3, reason="r")
    policy._check()
    assert policy.stats.tracked_keys == 0 and policy._filed() == []


def test_parked_keys_round_trip_through_a_snapshot() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=1))
    policy = ThrottlePolicy(config, max_keys=5)
    _storm_then_new_keys(policy, storms=3, new=6)
    assert len(_parked(policy)) == 3
    data = policy.snapshot()
    document = json.loads(data)
    records = document["state"]["keys"]
    # Parking is bookkeeping that depends on when evictions happened to meet a key,
    # not state: it is not written, and parked keys are listed in the idle schedule
    # (at the time their window empties) like every key.
    assert sum(record["episode"] is not None for record in records) == 3
    assert not any(record["episode"] and "parked" in record["episode"] for record in records)
    assert len(document["state"]["schedule"]["idle"]) == len(records)
    restored = ThrottlePolicy.restore(data)
    restored._check()
    assert _parked(restored) == set()
    assert restored.snapshot() == data
    # Both go on alike, evictions included.
    later = [Alert(2 + n * 0.5, _device(n % 12), CODE) for n in range(40)]
    assert restored.feed_many(later) == policy.feed_many(later)
    assert restored.snapshot() == policy.snapshot()


def test_a_snapshot_with_parked_flags_restores_to_the_same_decisions() -> None:
    """Snapshots of earlier releases mark parked keys (``parked: true``): honoured."""
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=1))
    policy = ThrottlePolicy(config, max_keys=5)
    _storm_then_new_keys(policy, storms=3, new=6)
    document = json.loads(policy.snapshot())
    for record in document["state"]["keys"]:
        if record["episode"] is not None:
            record["episode"]["parked"] = True
    old = ThrottlePolicy.restore(reseal(document))
    old._check()
    assert _parked(old) == _parked(policy) != set()
    assert old.snapshot() == policy.snapshot()
    later = [Alert(2 + n * 0.5, _device(n % 12), CODE) for n in range(40)]
    assert old.feed_many(later) == policy.feed_many(later)
    assert totals(old.stats) == totals(policy.stats)


def test_a_parked_flag_must_be_a_boolean() -> None:
    config = PolicyConfig(Threshold(limit=2, period=10, resume_below=1))
    policy = ThrottlePolicy(config, max_keys=5)
    _storm_then_new_keys(policy, storms=1, new=6)
    document = json.loads(policy.snapshot())
    (index,) = [i for i, r in enumerate(document["state"]["keys"]) if r["episode"] is not None]
    document["state"]["keys"][index]["episode"]["parked"] = 1
    with pytest.raises(SnapshotError) as caught:
        ThrottlePolicy.restore(reseal(document))
    assert caught.value.field == f"state.keys[{index}].episode.parked"


# -- against a naive model of the eviction rule ------------------------------------------


class EvictingReference(ReferencePolicy):
    """ReferencePolicy with ``max_keys``, by the letter of docs/memory.md, recounting everything.

    A key is tracked while its newest alert is inside its period. Before a new
    key is tracked at ``t`` with the bound reached, the keys not in an open
    episode are sorted by (time their window empties, device id, code) and the
    first ones forget their alert times. No heap, no parking, no laziness.
    """

    def __init__(self, config: PolicyConfig, *, late: str, max_keys: int) -> None:
        super().__init__(config, late=late)
        self.max_keys = max_keys
        self.evicted = 0
        self.dropped_counts = 0
        self.dropped_throttled = 0

    def _trim(self, t: float, returning: tuple[str, int] | None) -> None:
        """Keep at most max_keys counts of untracked keys: the oldest episode's go first."""
        table = sorted(
            (sequence, key)
            for key, (_, sequence) in self.pending.items()
            if key != returning and self._empties(key) <= t
        )
        for _, key in table[: max(0, len(table) - self.max_keys)]:
            count, _ = self.pending.pop(key)
            self.dropped_counts += 1
            self.dropped_throttled += count

    def advance(self, now: float | object) -> list[ThrottlingEnded]:
        ended = super().advance(now)
        self._trim(self.clock, None)
        return ended

    def _period(self, code: int) -> float | None:
        if code in self.config.exempt_codes:
            return None
        threshold = self.config.per_code.get(code, self.config.default)
        return None if threshold is None else threshold.period

    def _empties(self, key: tuple[str, int]) -> float:
        times = self.history.get(key)
        period = self._period(key[1])
        return -math.inf if not times or period is None else times[-1] + period

    def _tracked(self, t: float) -> list[tuple[str, int]]:
        return [key for key in self.history if self._empties(key) > t]

    def feed(self, alert: Alert) -> Decision:
        t = alert.timestamp
        if t < self.clock and self.late == "reject":
            return super().feed(alert)  # raises LateAlertError
        t = max(t, self.clock)
        # Episodes over by t end first (as the reference's feed would), so their
        # keys are evictable.
        ended = self._close_until(t)
        self._trim(t, None)
        key = (alert.device_id, alert.code)
        if self._period(alert.code) is not None and self._empties(key) <= t:
            tracked = self._tracked(t)
            evictable = sorted(
                (self._empties(other), other) for other in tracked if other not in self.open
            )
            for _, other in evictable[: max(0, len(tracked) - self.max_keys + 1)]:
                self.history[other] = []
                self.evicted += 1
            # The key's own count comes back with this alert: never dropped for room.
            self._trim(t, key)
        decision = super().feed(alert)
        return attrs.evolve(decision, events=(*ended, *decision.events))

    @property
    def stats(self) -> Stats:
        return attrs.evolve(
            super().stats,
            tracked_keys=len(self._tracked(self.clock)),
            evicted=self.evicted,
            dropped_counts=self.dropped_counts,
            dropped_throttled=self.dropped_throttled,
        )


def _outcome(result: Decision | list[ThrottlingEnded]) -> object:
    if isinstance(result, Decision):
        return canonical(result)
    return sorted((event.at, event.sequence_id, event.throttled_count) for event in result)


def _check_against_the_model(
    config: PolicyConfig, steps: list[Any], max_keys: int, late: Any
) -> None:
    policy = ThrottlePolicy(config, late=late, max_keys=max_keys)
    model = EvictingReference(config, late=late, max_keys=max_keys)
    for step in steps:
        try:
            want = run_step(model, step)  # type: ignore[arg-type]
        except LateAlertError:
            with pytest.raises(LateAlertError):
                run_step(policy, step)
            continue
        got = run_step(policy, step)
        policy._check()
        assert _outcome(got) == _outcome(want)
        assert totals(policy.stats) == totals(model.stats)
        assert policy.stats.dropped_throttled == model.stats.dropped_throttled
        if _parked(policy):
            event("keys parked")
    assert policy.pending_counts() == model.pending_counts()


@given(
    config=configs(),
    steps=streams(),
    max_keys=st.integers(1, 4),
    late=st.sampled_from(["clamp", "reject"]),
)
@settings(deadline=None)
def test_bounded_policy_matches_the_naive_eviction_model(
    config: PolicyConfig, steps: list[Any], max_keys: int, late: Any
) -> None:
    _check_against_the_model(config, steps, max_keys, late)


@given(scenario=crowded(), max_keys=st.integers(1, 5))
@settings(deadline=None)
def test_crowded_bounded_policy_matches_the_naive_eviction_model(
    scenario: tuple[PolicyConfig, list[Any]], max_keys: int
) -> None:
    config, steps = scenario
    _check_against_the_model(config, steps, max_keys, "clamp")
