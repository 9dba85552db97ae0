"""Throughput of ThrottlePolicy on seeded days of storm-heavy traffic.

Two parts, one process run:

1. **The target day** (docs/performance.md): 300,000 alerts over one day from
   30,000 devices, 60% of them from 1% of the devices, codes 8014, 8015, 8F84,
   8F35 (exempt) and 0001 at random, ``Threshold(10, 3600)``. Medians of
   ``--rounds`` rounds, collector on, all as ratios to the floor (a bare loop
   ``for a in alerts: d.get((a.device_id, a.code))``): ``feed``, ``feed_many``,
   building the ``Alert`` objects from raw values plus ``feed_many``, limits'
   ``MovingWindowRateLimiter`` (event time patched in), bytes per tracked key,
   and the churn workload against the storm workload.
2. **The large day**: ``--alerts`` (1,000,000) from ``--devices`` (100,000),
   best of ``--repeats`` with the collector quiet, and three pure workloads.

    python benchmarks/throughput.py                 # both days, full size
    python benchmarks/throughput.py --alerts 20000 --devices 2000 --day-alerts 20000 \
        --day-devices 2000 --rounds 1 --repeats 1   # a quick run (CI)
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alertthrottle import Alert, PolicyConfig, Threshold, ThrottlePolicy

DAY = 86_400
CODES = (0x8014, 0x8015, 0x8F84, 0x8F35, 0x8F36)


def device_id(number: int) -> str:
    raw = f"{0x000D6F0000000000 + number:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def day_of_traffic(alerts: int, devices: int, seed: int) -> list[Alert]:
    """A seeded day: 60% of alerts from the 1% of devices that storm, 5 codes, time-ordered."""
    rng = random.Random(seed)
    ids = [device_id(n) for n in range(devices)]
    stormers = ids[: max(1, devices // 100)]
    storm_alerts = alerts * 60 // 100
    rows: list[tuple[float, str, int]] = []
    for _ in range(storm_alerts):
        rows.append((rng.uniform(0, DAY), rng.choice(stormers), rng.choice(CODES[:2])))
    for _ in range(alerts - storm_alerts):
        rows.append((rng.uniform(0, DAY), rng.choice(ids), rng.choice(CODES)))
    rows.sort()
    start = 1_700_000_000
    return [Alert(timestamp=start + t, device_id=d, code=c) for t, d, c in rows]


TARGET_CODES = (0x8014, 0x8015, 0x8F84, 0x8F35, 0x0001)


def target_device_id(number: int) -> str:
    """``00-0D-6F-00-XX-XX-XX-02``: the target day's device ids."""
    raw = f"{number:06X}"
    return f"00-0D-6F-00-{raw[0:2]}-{raw[2:4]}-{raw[4:6]}-02"


def target_rows(alerts: int, devices: int, seed: int) -> list[tuple[float, str, int]]:
    """The target day as raw ``(timestamp, device_id, code)`` rows, time-ordered."""
    rng = random.Random(seed)
    ids = [target_device_id(n) for n in range(devices)]
    stormers = ids[: max(1, devices // 100)]
    storm_alerts = alerts * 60 // 100
    start = 1_700_000_000
    rows = [
        (start + rng.uniform(0, DAY), rng.choice(stormers if n < storm_alerts else ids), code)
        for n in range(alerts)
        for code in (rng.choice(TARGET_CODES),)
    ]
    rows.sort()
    return rows


def target_config() -> PolicyConfig:
    return PolicyConfig(default=Threshold(10, 3600), exempt_codes=frozenset({0x8F35}))


def median_of(rounds: int, run: Callable[[], object]) -> float:
    """Median CPU time of ``rounds`` runs, with the collector on (as an application runs).

    CPU time of this process, not wall time: on a shared machine, time spent
    waiting for a core is not the code's (every step here is single-threaded).
    """
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Least CPU time of ``repeats`` runs, with the collector quiet."""
    times = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
        gc.enable()
    return min(times)


def config() -> PolicyConfig:
    return PolicyConfig(default=Threshold(10, 3600))


def floor_loop(alerts: Sequence[Alert]) -> None:
    seen: dict[str, int] = {}
    get = seen.get
    for alert in alerts:
        get(alert.device_id)
        alert.timestamp  # noqa: B018 - reading the alert is the floor's work
        alert.code  # noqa: B018


def target_floor(alerts: Sequence[Alert]) -> None:
    seen: dict[tuple[str, int], int] = {}
    get = seen.get
    for a in alerts:
        get((a.device_id, a.code))


def run_feed(alerts: Sequence[Alert], make: Callable[[], PolicyConfig] = config) -> None:
    feed = ThrottlePolicy(make()).feed
    for alert in alerts:
        feed(alert)


def run_feed_many(alerts: Sequence[Alert], make: Callable[[], PolicyConfig] = config) -> None:
    ThrottlePolicy(make()).feed_many(alerts)


def run_build_and_feed_many(rows: Sequence[tuple[float, str, int]]) -> None:
    alerts = [Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows]
    ThrottlePolicy(target_config()).feed_many(alerts)


def bytes_per_key(
    alerts: Sequence[Alert], make: Callable[[], PolicyConfig] = config
) -> tuple[float, int]:
    """Memory held by a policy after the day, per key it still tracks at the busiest time."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    policy = ThrottlePolicy(make())
    policy.feed_many(alerts[: len(alerts) // 2])
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    keys = policy.stats.tracked_keys
    return used / max(keys, 1), keys


def shapes(n: int) -> dict[str, list[Alert]]:
    """Three pure workloads that bracket the mixed day: where the time per alert goes."""
    start = 1_700_000_000
    ids = [device_id(i) for i in range(n)]
    return {
        # 20 keys, one alert a second each: every alert after the 11th is throttled.
        "storm (keys in an episode)": [
            Alert(timestamp=start + i // 20, device_id=ids[i % 20], code=0x8014) for i in range(n)
        ],
        # 2,000 keys, one alert per key every 2,000 s: delivered, keys stay live.
        "steady (live keys, delivered)": [
            Alert(timestamp=start + i, device_id=ids[i % 2000], code=0x8014) for i in range(n)
        ],
        # Every alert from a new device: a key is made, then dropped an hour later.
        "churn (a new key per alert)": [
            Alert(timestamp=start + i * 0.4, device_id=ids[i], code=0x8014) for i in range(n)
        ],
    }


def limits_run(alerts: Sequence[Alert]) -> Callable[[], None] | None:
    """limits' moving window on the same alerts, its clock patched to event time."""
    try:
        from limits import RateLimitItemPerHour
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter
    except ImportError:
        return None

    def run() -> None:
        now = [0.0]
        storage = MemoryStorage()
        # limits' memory storage reads time.time(); feed it event time instead.
        import limits.storage.memory as memory_module

        original = memory_module.time
        memory_module.time = type("Clock", (), {"time": staticmethod(lambda: now[0])})  # type: ignore[assignment]
        try:
            limiter = MovingWindowRateLimiter(storage)
            item = RateLimitItemPerHour(10)
            hit = limiter.hit
            for alert in alerts:
                now[0] = alert.timestamp
                hit(item, alert.device_id, str(alert.code))
        finally:
            memory_module.time = original
            storage.timer.cancel() if getattr(storage, "timer", None) else None

    return run


def target_day(n: int, devices: int, rounds: int, seed: int) -> None:
    """Part 1: every ratio the targets name, on the target day, medians of ``rounds``."""
    rows = target_rows(n, devices, seed)
    alerts = [Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows]
    floor = median_of(rounds, lambda: target_floor(alerts))
    feed = median_of(rounds, lambda: run_feed(alerts, target_config))
    many = median_of(rounds, lambda: run_feed_many(alerts, target_config))
    built = median_of(rounds, lambda: run_build_and_feed_many(rows))
    per_key, keys = bytes_per_key(alerts, target_config)
    storm_shapes = shapes(min(n, 200_000))
    storm = median_of(rounds, lambda: run_feed_many(storm_shapes["storm (keys in an episode)"]))
    churn = median_of(rounds, lambda: run_feed_many(storm_shapes["churn (a new key per alert)"]))
    print(f"target day: {n:,} alerts from {devices:,} devices, Threshold(10, 3600), 8F35 exempt")
    print(f"  medians of {rounds} rounds, collector on; ratios to the floor (lower is better)")
    print(f"  floor (d.get((device_id, code))): {n / floor:12,.0f} alerts/s      1.0x")
    print(f"  feed:                     {n / feed:12,.0f} decisions/s {feed / floor:6.1f}x")
    print(f"  feed_many:                {n / many:12,.0f} decisions/s {many / floor:6.1f}x")
    print(f"  Alert(...) + feed_many:   {n / built:12,.0f} decisions/s {built / floor:6.1f}x")
    print(f"  memory: {per_key:,.0f} bytes per tracked key ({keys:,} keys at mid-day)")
    print(f"  churn / storm (ns per decision): {churn / storm:.2f}x")
    limits = limits_run(alerts)
    if limits is None:
        print("  limits: not installed (pip install limits) -- comparison skipped")
    else:
        theirs = median_of(max(1, rounds // 2), limits)
        print(
            f"  limits MovingWindowRateLimiter: {n / theirs:,.0f} hits/s "
            f"({theirs / floor:.1f}x floor); feed_many is {theirs / many:.1f}x faster"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=62)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--day-alerts", type=int, default=300_000)
    parser.add_argument("--day-devices", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target-only", action="store_true", help="skip the large day")
    args = parser.parse_args(argv)

    target_day(args.day_alerts, args.day_devices, args.rounds, args.seed)
    if args.target_only:
        return 0
    print()
    alerts = day_of_traffic(args.alerts, args.devices, args.seed)
    n = len(alerts)
    floor = best_of(args.repeats, lambda: floor_loop(alerts))
    feed = best_of(args.repeats, lambda: run_feed(alerts))
    many = best_of(args.repeats, lambda: run_feed_many(alerts))
    per_key, keys = bytes_per_key(alerts)

    print(f"alerts: {n:,} from {args.devices:,} devices, Threshold(10, 3600)")
    print(f"floor (read + dict lookup): {n / floor:14,.0f} alerts/s")
    print(f"feed:                       {n / feed:14,.0f} decisions/s  ({feed / floor:.1f}x floor)")
    print(f"feed_many:                  {n / many:14,.0f} decisions/s  ({many / floor:.1f}x floor)")
    print(f"memory: {per_key:,.0f} bytes per tracked key ({keys:,} keys tracked at mid-day)")
    print("feed_many on pure workloads (same policy):")
    for name, shape in shapes(min(n, 200_000)).items():
        seconds = best_of(args.repeats, lambda shape=shape: run_feed_many(shape))  # type: ignore[misc]
        print(f"  {name:31} {seconds / len(shape) * 1e9:6,.0f} ns/decision")
    limits = limits_run(alerts)
    if limits is None:
        print("limits: not installed (pip install limits) -- comparison skipped")
    else:
        theirs = best_of(1, limits)
        print(
            f"limits MovingWindowRateLimiter: {n / theirs:,.0f} hits/s; "
            f"feed_many is {theirs / many:.1f}x faster"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
