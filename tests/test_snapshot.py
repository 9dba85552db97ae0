"""Snapshots: restoring and going on is indistinguishable from never stopping."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, crowded, final_state, run, run_step, streams

from alertthrottle import (
    Alert,
    AlertThrottleError,
    PolicyConfig,
    SnapshotError,
    Threshold,
    ThrottlePolicy,
)

DEVICE = DEVICES[0]


def example_policy(**options: Any) -> ThrottlePolicy:
    """The worked example of the semantics, stopped mid-episode (open episode, pending count)."""
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=3, period=10, resume_below=2)), **options)
    for t in (0, 1, 2, 3, 4, 5):
        policy.feed(Alert(t, DEVICE, 0x8014, ("DNO",)))
    return policy


def reseal(document: dict[str, Any]) -> bytes:
    """Re-encode a snapshot document with a correct checksum (as docs/snapshots.md says)."""
    state = json.dumps(
        document["state"], sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()
    document["sha256"] = hashlib.sha256(state).hexdigest()
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@given(
    config=configs(),
    late=st.sampled_from(["clamp", "reject"]),
    steps=streams(),
    compress=st.booleans(),
    max_keys=st.none() | st.integers(1, 4),
    data=st.data(),
)
@settings(deadline=None)
def test_restoring_at_random_cuts_changes_nothing(
    config: PolicyConfig,
    late: Any,
    steps: list[Any],
    compress: bool,
    max_keys: int | None,
    data: st.DataObject,
) -> None:
    if late == "reject":
        # Late alerts raise with late="reject": keep only the ones in time order.
        clock = -1.0
        kept = []
        for kind, value in steps:
            t = value.timestamp if kind == "feed" else value
            if kind == "advance" or t >= clock:
                kept.append((kind, value))
                clock = max(clock, t)
        steps = kept
    _restore_at_random_cuts(config, late, steps, compress, max_keys, data)


@given(scenario=crowded(), max_keys=st.integers(1, 5), data=st.data())
@settings(deadline=None)
def test_restoring_bounded_policies_with_parked_keys_changes_nothing(
    scenario: tuple[PolicyConfig, list[Any]], max_keys: int, data: st.DataObject
) -> None:
    """As above, on streams where evictions keep parking keys in open episodes."""
    config, steps = scenario
    _restore_at_random_cuts(config, "clamp", steps, False, max_keys, data)


def _restore_at_random_cuts(
    config: PolicyConfig,
    late: Any,
    steps: list[Any],
    compress: bool,
    max_keys: int | None,
    data: st.DataObject,
) -> None:
    cuts = data.draw(st.sets(st.integers(0, len(steps)), min_size=1, max_size=4), label="cuts")
    _restore_at_cuts(config, late, steps, compress, max_keys, cuts)


def _restore_at_cuts(
    config: PolicyConfig,
    late: Any,
    steps: list[Any],
    compress: bool,
    max_keys: int | None,
    cuts: set[int],
) -> None:
    """Restore a snapshot before each step in ``cuts`` (and after the last if ``len(steps)``)."""
    straight = ThrottlePolicy(config, late=late, max_keys=max_keys)
    expected = run(straight, steps)

    policy = ThrottlePolicy(config, late=late, max_keys=max_keys)
    results = []
    for index, step in enumerate(steps):
        if index in cuts:
            snapshot = policy.snapshot(compress=compress)
            policy = ThrottlePolicy.restore(snapshot, expected_config=config)
            policy._check()
            # A snapshot of the restored policy is the same snapshot.
            assert policy.snapshot(compress=compress) == snapshot
        results.append(run_step(policy, step))
        policy._check()
    if len(steps) in cuts:
        policy = ThrottlePolicy.restore(policy.snapshot(compress=compress))
    assert results == expected
    assert final_state(policy) == final_state(straight)
    assert policy.snapshot() == straight.snapshot()


def test_restoring_before_an_eviction_parks_a_key_changes_no_byte() -> None:
    """Regression: without the restart, an eviction meets the key in an episode through
    the stale time its idle entry was filed under (10, before it got its alert at 0.5)
    and parks it; restored, the entry is at 10.5 and the eviction takes another key
    first. Both decide alike, so parking must not show in the snapshot.
    """
    first, second, third = DEVICES[0], "00-0D-6F-00-00-00-00-01", "00-0D-6F-00-0A-BC-12-35"
    steps: list[Any] = [
        ("advance", 0),
        ("feed", Alert(0, first, 0x8014)),
        ("feed", Alert(0.5, first, 0x8014)),  # episode 1 starts
        ("feed", Alert(0.5, first, 0x8015)),
        ("advance", 0.5),
        ("feed", Alert(0.5, second, 0x8014)),
        ("advance", 0.5),
        ("advance", 0.5),
        ("feed", Alert(0.5, third, 0x8014)),  # a 4th key: one eviction
    ]
    config = PolicyConfig(Threshold(limit=1, period=10))
    _restore_at_cuts(config, "clamp", steps, False, 3, {3})


def test_worked_example_across_a_restart() -> None:
    policy = ThrottlePolicy.restore(example_policy().snapshot())
    assert policy.stats.open_episodes == 1
    assert policy.open_episodes()[0].recipients == ("DNO",)
    decision = policy.feed(Alert(20, DEVICE, 0x8014))
    assert decision.metadata.throttled_count == 3
    assert decision.metadata.sequence_id == 1
    (ended,) = decision.events
    assert (ended.at, ended.throttled_count, ended.recipients) == (14, 3, ("DNO",))


def test_fresh_policy_round_trips() -> None:
    policy = ThrottlePolicy(PolicyConfig(), late="reject", max_keys=5)
    restored = ThrottlePolicy.restore(policy.snapshot())
    assert restored.clock is None
    assert (restored.late, restored.max_keys) == ("reject", 5)
    assert restored.snapshot() == policy.snapshot()


def test_gzip_is_detected_and_smaller() -> None:
    policy = example_policy()
    packed = policy.snapshot(compress=True)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == policy.snapshot()
    assert ThrottlePolicy.restore(packed).snapshot() == policy.snapshot()


def test_format_is_the_documented_json() -> None:
    document = json.loads(example_policy().snapshot())
    assert document["format"] == "alertthrottle-snapshot"
    assert document["version"] == 2
    state = document["state"]
    assert state["clock"] == 5
    (key,) = state["keys"]
    assert key["device_id"] == DEVICE and key["code"] == "8014"
    assert key["times"] == [2, 3, 4, 5]
    assert key["pending"] == 3 and key["pending_sequence"] == 1
    assert key["episode"]["throttled"] == 3
    assert state["schedule"]["ends"] == [[12, 1]]
    assert state["stats"]["total"] == 6


def test_newer_version_is_refused() -> None:
    document = json.loads(example_policy().snapshot())
    document["version"] = 3
    with pytest.raises(SnapshotError) as caught:
        ThrottlePolicy.restore(reseal(document))
    assert caught.value.field == "version" and caught.value.value == 3
    assert "newer" in str(caught.value)


def test_version_1_with_idle_keys_filed_early_is_read() -> None:
    # Version 1 wrote a key's idle entry at the time it was filed under, which may
    # be before its window empties; the policy read from it decides alike.
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=3, period=10)))
    for t in (0, 4, 8):
        policy.feed(Alert(t, DEVICE, 0x8014))
    document = json.loads(policy.snapshot())
    assert document["state"]["schedule"]["idle"] == [[18, DEVICE, "8014"]]
    document["version"] = 1
    document["state"]["schedule"]["idle"] = [[10, DEVICE, "8014"]]
    restored = ThrottlePolicy.restore(reseal(document))
    restored._check()
    assert restored.snapshot() == policy.snapshot()
    for t in (9, 12, 30):
        alert = Alert(t, DEVICE, 0x8014)
        assert restored.feed(alert) == policy.feed(alert)
        assert restored.stats == policy.stats
        assert restored.stats.tracked_keys == policy.stats.tracked_keys


def test_every_truncation_is_refused() -> None:
    for data in (example_policy().snapshot(), example_policy().snapshot(compress=True)):
        for length in range(len(data)):
            with pytest.raises(SnapshotError):
                ThrottlePolicy.restore(data[:length])


def test_every_single_byte_corruption_is_refused() -> None:
    data = example_policy().snapshot()
    for index in range(len(data)):
        corrupted = bytearray(data)
        corrupted[index] ^= 0x01
        with pytest.raises(SnapshotError):
            ThrottlePolicy.restore(bytes(corrupted))


def test_corruption_is_caught_by_the_checksum() -> None:
    data = example_policy().snapshot().replace(b'"times":[2,3,4,5]', b'"times":[2,3,4,4]')
    with pytest.raises(SnapshotError) as caught:
        ThrottlePolicy.restore(data)
    assert caught.value.field == "sha256"


def test_another_config_is_refused_when_one_is_expected() -> None:
    data = example_policy().snapshot()
    other = PolicyConfig(Threshold(limit=4, period=10, resume_below=2))
    with pytest.raises(SnapshotError) as caught:
        ThrottlePolicy.restore(data, expected_config=other)
    assert caught.value.field == "config"
    assert "default.limit" in str(caught.value)
    # Without an expectation, the snapshot's own config is used.
    assert ThrottlePolicy.restore(data).config.default == Threshold(3, 10, 2)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda s: s["keys"][0].update(times=[5, 4, 3, 2]), "state.keys[0].times"),
        (lambda s: s["keys"][0].update(times=[2, 3, 4, 99]), "state.keys[0].times"),
        (lambda s: s["keys"][0].update(device_id="not a device"), "state.keys[0].device_id"),
        (lambda s: s["keys"][0].update(pending_sequence=None), "state.keys[0].pending_sequence"),
        (lambda s: s["keys"][0]["episode"].update(sampled=1), "state.keys[0].episode"),
        (lambda s: s.update(clock=30), "state.keys[0].times"),
        (lambda s: s["stats"].update(total=7), "state.stats"),
        (lambda s: s["schedule"].update(ends=[]), "state.schedule.ends"),
        (lambda s: s["schedule"].update(idle=[]), "state.schedule.idle"),
        (lambda s: s["config"]["default"].update(limit=0), "state.config.default.limit"),
        (lambda s: s.update(late="maybe"), "state.late"),
        (lambda s: s.pop("keys"), "state.keys"),
    ],
)
def test_inconsistent_state_is_refused_by_field(edit: Any, field: str) -> None:
    document = json.loads(example_policy().snapshot())
    edit(document["state"])
    with pytest.raises(SnapshotError) as caught:
        ThrottlePolicy.restore(reseal(document))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "data", [b"", b"{}", b"[]", b'{"format":"something-else"}', b"\x1f\x8b\x08garbage"]
)
def test_not_a_snapshot_is_refused(data: bytes) -> None:
    with pytest.raises(SnapshotError):
        ThrottlePolicy.restore(data)


def test_snapshot_error_is_a_value_error_and_a_library_error() -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy.restore(b"nope")
    with pytest.raises(AlertThrottleError):
        ThrottlePolicy.restore("text, not bytes")  # type: ignore[arg-type]


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "policy.snapshot"
    policy = example_policy()
    policy.save(path)
    assert path.read_bytes() == policy.snapshot()
    policy.feed(Alert(6, DEVICE, 0x8014))
    policy.save(path, compress=True)
    loaded = ThrottlePolicy.load(path, expected_config=policy.config)
    assert loaded.snapshot() == policy.snapshot()
    assert sorted(os.listdir(tmp_path)) == ["policy.snapshot"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_crash_mid_write_leaves_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "policy.snapshot"
    policy = example_policy()
    policy.save(path)
    before = path.read_bytes()
    policy.feed(Alert(6, DEVICE, 0x8014))

    def crash(*_args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError, match="disk gone"):
        policy.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["policy.snapshot"]
    assert ThrottlePolicy.load(path).stats.total == 6


def test_restore_keeps_pending_counts_of_dropped_keys() -> None:
    policy = example_policy()
    # The episode ends at 14 and the key's window empties at 15: its count waits.
    policy.advance(100)
    assert policy.stats.tracked_keys == 0
    restored = ThrottlePolicy.restore(policy.snapshot())
    assert restored.pending_counts() == policy.pending_counts()
    decision = restored.feed(Alert(200, DEVICE, 0x8014))
    assert (decision.metadata.throttled_count, decision.metadata.sequence_id) == (3, 1)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 20),
    st.sampled_from([0.5, 1e9, -1.0, 2.5]),
    st.sampled_from(["", "8014", "clamp", DEVICE, "zz"]),
    st.just([]),
    st.just({}),
    st.lists(st.integers(0, 20), max_size=3),
)


@given(
    scenario=st.tuples(configs(), streams()) | crowded(),
    max_keys=st.none() | st.integers(1, 4),
    data=st.data(),
)
@settings(deadline=None)
def test_a_resealed_edit_restores_whole_or_raises_snapshot_error(
    scenario: tuple[PolicyConfig, list[Any]], max_keys: int | None, data: st.DataObject
) -> None:
    config, steps = scenario
    policy = ThrottlePolicy(config, max_keys=max_keys)
    for step in steps:
        run_step(policy, step)
    document = json.loads(policy.snapshot())
    paths = [path for path in _paths(document["state"]) if path]
    path = data.draw(st.sampled_from(paths), label="path")
    parent = document["state"]
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = data.draw(_JSON_VALUES, label="value")
    try:
        restored = ThrottlePolicy.restore(reseal(document))
    except SnapshotError:
        return
    # Whatever was accepted is a consistent policy that keeps working.
    restored._check()
    for step in steps[-5:]:
        if step[0] == "feed":
            restored.feed(Alert(restored.clock or 0, step[1].device_id, step[1].code))
            restored._check()
