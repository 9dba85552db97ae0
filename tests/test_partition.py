"""Partitioned scale-out: one policy per partition decides as one policy does, per key."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, streams

from alertthrottle import (
    Decision,
    InvalidAlertError,
    PolicyConfig,
    PolicyError,
    ThrottlePolicy,
    ThrottlingStarted,
    partition_for,
)

Key = tuple[str, int]


def test_partition_is_the_documented_hash_of_the_canonical_id() -> None:
    for number in range(200):
        device = "-".join(f"{(number * 7919 + i) % 256:02X}" for i in range(8))
        digest = hashlib.blake2b(device.encode("ascii"), digest_size=8).digest()
        assert partition_for(device, 12) == int.from_bytes(digest, "big") % 12


def test_partition_is_pinned_and_spelling_independent() -> None:
    # These values must never change: partitions are persisted in snapshots.
    assert partition_for("00-0D-6F-00-0A-BC-12-34", 64) == 41
    assert partition_for("000d6f000abc1234", 1000) == 217
    assert partition_for("00:0d:6f:00:0a:bc:12:34", 1000) == 217
    assert partition_for("00-0D-6F-00-0A-BC-12-34", 1) == 0


def test_partitions_are_balanced() -> None:
    counts = Counter(
        partition_for(f"{0x000D6F0000000000 + n:016X}", 8) for n in range(8000)
    )
    assert set(counts) == set(range(8))
    assert all(800 < count < 1200 for count in counts.values()), counts


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_bad_partition_counts_are_refused(bad: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        partition_for(DEVICES[0], bad)
    assert caught.value.field == "partitions"


def test_bad_device_ids_are_refused() -> None:
    with pytest.raises(InvalidAlertError):
        partition_for("not a device", 4)


def _in_time_order(steps: list[Any]) -> list[Any]:
    """The stream without its late alerts: partitions agree only on time-ordered streams."""
    clock = -1.0
    kept = []
    for kind, value in steps:
        t = value.timestamp if kind == "feed" else value
        if t >= clock:
            kept.append((kind, value))
            clock = t
    return kept


class _PerKey:
    """Decisions and events of a run, by key, with sequence ids renumbered per key.

    Sequence ids are per policy, so the k-th episode of a key is called
    ``k`` here: partitions then compare equal to one policy, whatever
    numbers each gave.
    """

    def __init__(self) -> None:
        self.decisions: dict[Key, list[tuple[Any, ...]]] = defaultdict(list)
        self.events: dict[Key, list[tuple[Any, ...]]] = defaultdict(list)
        self.rename: dict[tuple[int, int], int] = {}
        self.episodes: Counter[Key] = Counter()

    def event(self, source: int, event: Any) -> None:
        key = (event.device_id, event.code)
        if isinstance(event, ThrottlingStarted):
            self.episodes[key] += 1
            self.rename[source, event.sequence_id] = self.episodes[key]
        renamed = attrs.evolve(event, sequence_id=self.rename[source, event.sequence_id])
        self.events[key].append((source, renamed))

    def decision(self, source: int, key: Key, decision: Decision) -> None:
        for event in decision.events:
            self.event(source, event)
        sequence = decision.metadata.sequence_id
        self.decisions[key].append(
            (
                decision.verdict,
                decision.late,
                decision.sampled,
                decision.metadata.throttled_count,
                None if sequence is None else self.rename[source, sequence],
            )
        )

    def comparable(self) -> tuple[dict[Key, Any], dict[Key, Any]]:
        # Which policy emitted an event does not matter, its content and order per key do.
        events = {key: [event for _, event in found] for key, found in self.events.items()}
        return dict(self.decisions), events


@given(
    config=configs(),
    steps=streams(),
    partitions=st.integers(1, 4),
    data=st.data(),
)
@settings(deadline=None)
def test_partitioned_policies_decide_as_one(
    config: PolicyConfig, steps: list[Any], partitions: int, data: st.DataObject
) -> None:
    steps = _in_time_order(steps)
    handovers = data.draw(st.sets(st.integers(0, len(steps))), label="handovers")

    one = ThrottlePolicy(config)
    single = _PerKey()
    many = [ThrottlePolicy(config) for _ in range(partitions)]
    split = _PerKey()
    for index, (kind, value) in enumerate(steps):
        if index in handovers:
            # Every partition moves to a new worker through its snapshot.
            many = [ThrottlePolicy.restore(policy.snapshot()) for policy in many]
        if kind == "feed":
            key = (value.device_id, value.code)
            single.decision(0, key, one.feed(value))
            owner = partition_for(value.device_id, partitions)
            split.decision(owner, key, many[owner].feed(value))
        else:
            for event in one.advance(value):
                single.event(0, event)
            for number, policy in enumerate(many):
                for event in policy.advance(value):
                    split.event(number, event)
    end = (one.clock or 0) + 1_000
    for event in one.advance(end):
        single.event(0, event)
    for number, policy in enumerate(many):
        for event in policy.advance(end):
            split.event(number, event)

    assert split.comparable() == single.comparable()
    fields = ("total", "delivered", "throttled", "exempt", "episodes")
    assert {name: sum(getattr(p.stats, name) for p in many) for name in fields} == {
        name: getattr(one.stats, name) for name in fields
    }
