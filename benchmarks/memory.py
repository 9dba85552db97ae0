"""Memory of a ThrottlePolicy when millions of distinct devices come and go over a day.

Every device sends one 8014 alert at a time spread evenly over the day (in a
seeded, scrambled order of device ids); one device in a thousand storms
(``--burst`` alerts, one a second). Alerts are made on the fly, so the
figures are the policy's own memory (tracemalloc; the library's device-id
cache of at most 65,536 spellings is included). Prints the peak memory,
the peak number of tracked keys and the bytes per tracked key, next to a
bare dict of ``(device, code) -> [time] * (limit + 1)`` rings for as many
keys (the floor), as a ratio. ``--max-keys`` shows the bound at work.

    python benchmarks/memory.py                       # 10,000,000 devices (a few minutes)
    python benchmarks/memory.py --devices 200000      # a quick run (CI)
    python benchmarks/memory.py --devices 1000000 --max-keys 10000
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alertthrottle import Alert, PolicyConfig, Threshold, ThrottlePolicy

DAY = 86_400
START = 1_700_000_000
CODE = 0x8014
MASK = (1 << 64) - 1


def device_id(number: int) -> str:
    """A distinct EUI-64 per number (an odd multiplier is a bijection modulo 2**64)."""
    raw = f"{(number * 0x9E3779B97F4A7C15) & MASK:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def day_of_devices(devices: int, burst: int, storm_every: int = 1000) -> Iterator[Alert]:
    """One alert per device over the day, plus bursts from one device in ``storm_every``."""
    step = DAY / devices
    storms: list[tuple[float, int, int]] = []  # (time, device, alerts left)
    for number in range(devices):
        t = START + number * step
        while storms and storms[0][0] <= t:
            when, storming, left = heapq.heappop(storms)
            yield Alert(when, device_id(storming), CODE)
            if left > 1:
                heapq.heappush(storms, (when + 1, storming, left - 1))
        yield Alert(t, device_id(number), CODE)
        if number % storm_every == 0 and burst > 1:
            heapq.heappush(storms, (t + 1, number, burst - 1))
    while storms:
        when, storming, left = heapq.heappop(storms)
        yield Alert(when, device_id(storming), CODE)
        if left > 1:
            heapq.heappush(storms, (when + 1, storming, left - 1))


def measure_policy(
    devices: int, burst: int, threshold: Threshold, max_keys: int | None
) -> dict[str, float]:
    tracemalloc.start()
    policy = ThrottlePolicy(PolicyConfig(threshold), max_keys=max_keys)
    baseline, _ = tracemalloc.get_traced_memory()
    every = max(1, devices // 200)
    best_keys = 0
    best_bytes = 0
    alerts = 0
    started = time.perf_counter()
    feed = policy.feed
    for alerts, alert in enumerate(day_of_devices(devices, burst), 1):
        feed(alert)
        if alerts % every == 0:
            keys = policy.stats.tracked_keys
            if keys > best_keys:
                best_keys = keys
                best_bytes = tracemalloc.get_traced_memory()[0] - baseline
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = policy.stats
    return {
        "alerts": alerts,
        "seconds": elapsed,
        "peak": peak - baseline,
        "keys": best_keys,
        "per_key": best_bytes / max(best_keys, 1),
        "evicted": stats.evicted,
        "episodes": stats.episodes,
        "pending": len(policy.pending_counts()),
    }


def measure_floor(keys: int, size: int) -> float:
    """Bytes per key of a bare dict of (device id, code) -> ring of ``size`` float times."""
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    rings = {(device_id(n), CODE): [float(n)] * size for n in range(keys)}
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del rings
    return used / max(keys, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=10_000_000)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--period", type=float, default=3600)
    parser.add_argument("--burst", type=int, default=30, help="alerts per storming device")
    parser.add_argument("--max-keys", type=int, default=None)
    args = parser.parse_args(argv)

    threshold = Threshold(args.limit, args.period)
    result = measure_policy(args.devices, args.burst, threshold, args.max_keys)
    floor = measure_floor(min(int(result["keys"]) or 1, 1_000_000), args.limit + 1)
    mib = 1024 * 1024
    print(
        f"devices: {args.devices:,} over a day, {result['alerts']:,.0f} alerts, "
        f"Threshold({args.limit}, {args.period:g}), max_keys={args.max_keys}"
    )
    print(
        f"fed in {result['seconds']:,.1f} s under tracemalloc "
        f"({result['alerts'] / result['seconds']:,.0f} alerts/s); "
        f"{result['episodes']:,.0f} episodes, {result['evicted']:,.0f} keys evicted, "
        f"{result['pending']:,.0f} counts pending at the end"
    )
    print(f"peak memory:       {result['peak'] / mib:10,.1f} MiB")
    print(f"peak tracked keys: {result['keys']:10,.0f}")
    print(f"bytes per key:     {result['per_key']:10,.0f}")
    print(
        f"floor (dict of rings of {args.limit + 1} floats): {floor:,.0f} bytes per key; "
        f"policy/floor = {result['per_key'] / floor:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
