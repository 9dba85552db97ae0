"""LockedPolicy: one policy shared by threads loses nothing and stays consistent."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertthrottle import (
    Alert,
    Decision,
    LateAlertError,
    LockedPolicy,
    PolicyConfig,
    PolicyError,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    Verdict,
)

CONFIG = PolicyConfig(
    Threshold(limit=3, period=5, resume_below=2),
    per_code={0x8015: Threshold(limit=2, period=3, sample_every=3)},
    exempt_codes={0x8F35},
)
DEVICES = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(6)]


def stream(seed: int, size: int) -> list[Alert]:
    rng = random.Random(seed)
    return [
        Alert(
            timestamp=n // 4 + rng.random(),
            device_id=rng.choice(DEVICES),
            code=rng.choice((0x8014, 0x8015, 0x8F35)),
            recipients=("DNO",),
        )
        for n in range(size)
    ]


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Make the interpreter switch threads very often, to interleave calls."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switch_often")
def test_eight_threads_feeding_one_policy_lose_nothing() -> None:
    shared = LockedPolicy(ThrottlePolicy(CONFIG, max_keys=8))
    batches = [stream(seed, 1500) for seed in range(8)]
    decisions: list[list[Decision]] = [[] for _ in batches]
    errors: list[BaseException] = []
    start = threading.Barrier(len(batches))

    def worker(index: int) -> None:
        try:
            start.wait()
            alerts = batches[index]
            for offset in range(0, len(alerts), 50):
                if offset % 100:
                    decisions[index].extend(shared.feed_many(alerts[offset : offset + 50]))
                else:
                    decisions[index].extend(shared.feed(a) for a in alerts[offset : offset + 50])
                if offset % 300 == 0:
                    shared.stats  # noqa: B018 - readers run alongside the writers
                    shared.pending_counts()
                    shared.snapshot()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    shared._check()
    everything = [d for per_thread in decisions for d in per_thread]
    stats = shared.stats
    assert stats.total == len(everything) == sum(map(len, batches))
    assert stats.delivered + stats.throttled + stats.exempt == stats.total
    for verdict, count in (
        (Verdict.DELIVER, stats.delivered),
        (Verdict.THROTTLE, stats.throttled),
        (Verdict.EXEMPT, stats.exempt),
    ):
        assert sum(d.verdict is verdict for d in everything) == count
    # No throttled count is lost: reported on a delivery, or still pending.
    reported = sum(d.metadata.throttled_count for d in everything)
    pending = sum(m.throttled_count for m in shared.pending_counts().values())
    assert reported + pending + stats.dropped_throttled == stats.throttled
    events = [e for d in everything for e in d.events]
    started = sorted(e.sequence_id for e in events if isinstance(e, ThrottlingStarted))
    assert started == list(range(1, stats.episodes + 1))
    ended = [e for e in events if isinstance(e, ThrottlingEnded)]
    assert len({e.sequence_id for e in ended}) == len(ended)
    assert len(ended) + stats.open_episodes == stats.episodes
    # The state survives a snapshot whole.
    assert ThrottlePolicy.restore(shared.snapshot()).stats == stats


def test_the_wrapper_decides_exactly_as_the_policy(tmp_path: Path) -> None:
    alerts = stream(99, 400)
    plain = ThrottlePolicy(CONFIG)
    shared = LockedPolicy(ThrottlePolicy(CONFIG))
    assert shared.feed_many(alerts[:200]) == plain.feed_many(alerts[:200])
    assert [shared.feed(a) for a in alerts[200:]] == [plain.feed(a) for a in alerts[200:]]
    assert shared.advance(1000) == plain.advance(1000)
    assert shared.pending_counts() == plain.pending_counts()
    assert shared.open_episodes() == plain.open_episodes()
    tighter = PolicyConfig(Threshold(limit=2, period=5))
    assert shared.reconfigure(tighter, at=1001, reason="r") == plain.reconfigure(
        tighter, at=1001, reason="r"
    )
    assert (shared.stats, shared.clock, shared.config, shared.config_history) == (
        plain.stats,
        plain.clock,
        plain.config,
        plain.config_history,
    )
    assert (shared.late, shared.max_keys, shared.capacity, shared.engage_at) == (
        "clamp",
        None,
        None,
        "always",
    )
    assert shared.snapshot(compress=True, key=b"k") == plain.snapshot(compress=True, key=b"k")
    shared.save(tmp_path / "p.snap")
    assert (tmp_path / "p.snap").read_bytes() == plain.snapshot()
    with shared.hold() as policy:
        assert policy.stats == plain.stats
        assert shared.stats == plain.stats  # the lock is re-entrant
    assert "LockedPolicy(" in repr(shared)


def test_errors_pass_through_unchanged() -> None:
    shared = LockedPolicy(ThrottlePolicy(CONFIG, late="reject"))
    shared.feed(Alert(10, DEVICES[0], 0x8014))
    with pytest.raises(LateAlertError) as info:
        shared.feed_many([Alert(11, DEVICES[0], 0x8014), Alert(1, DEVICES[0], 0x8014)])
    assert info.value.index == 1
    assert shared.stats.total == 2


@pytest.mark.parametrize("policy", [None, "policy", LockedPolicy(ThrottlePolicy(CONFIG))])
def test_only_a_policy_can_be_wrapped(policy: object) -> None:
    with pytest.raises(PolicyError) as info:
        LockedPolicy(policy)  # type: ignore[arg-type]
    assert info.value.field == "policy"
