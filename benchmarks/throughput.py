"""Throughput of ThrottlePolicy on seeded days of storm-heavy traffic.

Two parts, one process run:

1. **The target day** (docs/performance.md): 300,000 alerts over one day from
   30,000 devices, 60% of them from 1% of the devices, codes 8014, 8015, 8F84,
   8F35 (exempt) and 0001 at random, ``Threshold(10, 3600)``. ``--rounds``
   rounds in which every run takes its turn, collector on, each run as a ratio
   to the floor of its own round (a bare loop
   ``for a in alerts: d.get((a.device_id, a.code))``): ``feed``, ``feed_many``,
   ``feed_columns`` (the day's ``AlertColumns`` made before timing),
   building the ``Alert`` objects from raw values plus ``feed_many`` (made as
   they are fed, and all made first into a list), limits'
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
import itertools
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alertthrottle import Alert, AlertColumns, PolicyConfig, Threshold, ThrottlePolicy

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
    # start + t makes each float afresh, in time order (see target_rows).
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
    # Made afresh in time order, as a reader makes them: after the sort the tuples and
    # their floats lie in generation order, scattered in memory, and reading them in
    # time order would add cache misses that a real stream of alerts does not have.
    return [(t + 0.0, d, c) for t, d, c in rows]


def target_config() -> PolicyConfig:
    return PolicyConfig(default=Threshold(10, 3600), exempt_codes=frozenset({0x8F35}))


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
            # limits expires keys on a timer thread, re-armed by its hits: stop it and
            # wait for a pass under way (its CPU time is limits' own work), so that no
            # thread of limits runs on into the next measurement and inflates it.
            timer = getattr(storage, "timer", None)
            if timer is not None:
                timer.cancel()
                timer.join()
            memory_module.time = original

    return run


def interleaved(rounds: int, runs: Mapping[str, Callable[[], object]]) -> dict[str, list[float]]:
    """CPU time of every run, ``rounds`` times over, the runs taking turns (collector on).

    Taking turns spreads a busy machine's slow spells over all the runs alike, so the
    ratio of two runs within one round is much steadier than the ratio of two medians
    measured one after the other.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            started = time.process_time()
            run()
            times[name].append(time.process_time() - started)
    return times


def ratios(times: Mapping[str, list[float]], name: str, base: str) -> tuple[float, float, float]:
    """The median, least and greatest, over the rounds, of ``name``'s time over ``base``'s."""
    each = sorted(a / b for a, b in zip(times[name], times[base], strict=True))
    return statistics.median(each), each[0], each[-1]


def run_build_streamed(rows: Sequence[tuple[float, str, int]]) -> None:
    """Each ``Alert`` made as it is fed, as a reader or an adapter makes them."""
    ThrottlePolicy(target_config()).feed_many(Alert(t, d, c) for t, d, c in rows)


def run_build_starmap(rows: Sequence[tuple[float, str, int]]) -> None:
    """``run_build_streamed`` without the generator's frame: ``starmap`` calls ``Alert``."""
    ThrottlePolicy(target_config()).feed_many(itertools.starmap(Alert, rows))


def run_columns_from_raw(rows: Sequence[tuple[float, str, int]]) -> None:
    """Raw ``(t, d, c)`` values made ``AlertColumns`` (every value checked) and decided."""
    columns = AlertColumns([t for t, _, _ in rows], [d for _, d, _ in rows], [c for *_, c in rows])
    ThrottlePolicy(target_config()).feed_columns(columns)


def target_day(n: int, devices: int, rounds: int, seed: int) -> None:
    """Part 1: every ratio the targets name, on the target day, ``rounds`` interleaved rounds."""
    rows = target_rows(n, devices, seed)
    alerts = [Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows]
    columns = AlertColumns([t for t, _, _ in rows], [d for _, d, _ in rows], [c for *_, c in rows])
    storm_shapes = shapes(min(n, 200_000))
    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: target_floor(alerts),
        "feed": lambda: run_feed(alerts, target_config),
        "feed_many": lambda: run_feed_many(alerts, target_config),
        "feed_columns": lambda: ThrottlePolicy(target_config()).feed_columns(columns),
        "streamed": lambda: run_build_streamed(rows),
        "starmap": lambda: run_build_starmap(rows),
        "listed": lambda: run_build_and_feed_many(rows),
        "raw_columns": lambda: run_columns_from_raw(rows),
        "storm": lambda: run_feed_many(storm_shapes["storm (keys in an episode)"]),
        "churn": lambda: run_feed_many(storm_shapes["churn (a new key per alert)"]),
    }
    limits = limits_run(alerts)
    if limits is not None:
        runs["limits"] = limits
    # Memory first, before the timed runs leave their garbage and free lists behind.
    per_key, keys = bytes_per_key(alerts, target_config)
    times = interleaved(rounds, runs)

    def line(label: str, name: str, unit: str = "decisions/s") -> None:
        rate = n / statistics.median(times[name])
        middle, low, high = ratios(times, name, "floor")
        print(f"  {label:36} {rate:11,.0f} {unit:11} {middle:5.1f}x  ({low:.1f}-{high:.1f})")

    print(f"target day: {n:,} alerts from {devices:,} devices, Threshold(10, 3600), 8F35 exempt")
    print(f"  {rounds} interleaved rounds, collector on, CPU time; each ratio to the floor of its")
    print("  own round: the median (least-greatest). Lower is better.")
    line("floor: d.get((device_id, code))", "floor", "alerts/s")
    line("feed, one call per alert", "feed")
    line("feed_many", "feed_many")
    line("feed_columns (columns made before)", "feed_columns")
    line("Alert(t, d, c) made as fed", "streamed")
    line("starmap(Alert, rows) fed", "starmap")
    line("Alert(...) list, then feed_many", "listed")
    line("AlertColumns(raw), then feed_columns", "raw_columns")
    middle, low, high = ratios(times, "feed_columns", "feed_many")
    print(f"  feed_columns / feed_many (time per decision): {middle:.2f}x  ({low:.2f}-{high:.2f})")
    print(f"  memory: {per_key:,.0f} bytes per tracked key ({keys:,} keys at mid-day)")
    middle, low, high = ratios(times, "churn", "storm")
    print(f"  churn / storm (time per decision): {middle:.2f}x  ({low:.2f}-{high:.2f})")
    if limits is None:
        print("  limits: not installed (pip install limits) -- comparison skipped")
    else:
        middle, low, high = ratios(times, "limits", "feed_many")
        rate = n / statistics.median(times["limits"])
        print(
            f"  limits MovingWindowRateLimiter: {rate:,.0f} hits/s; "
            f"feed_many is {middle:.1f}x faster  ({low:.1f}-{high:.1f})"
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
