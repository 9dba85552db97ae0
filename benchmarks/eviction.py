"""What ``max_keys`` eviction costs in time when many keys are in open episodes.

The stream is benchmarks/memory.py's day of devices: every device sends one
8014 alert, spread evenly over the day, and one device in ``--storm-every``
storms (``--burst`` alerts, one a second), opening an episode that lasts about
an hour. With a bound far below the natural number of keys (``--bound``, a
share of the devices), every new device evicts a key, and the keys in open
episodes are the oldest of all: each eviction meets them first. Prints
decisions per second unbounded and bounded (best of ``--repeats``, collector
off), the bounded/unbounded ratio, a bare loop over the same alerts (the
floor) as a ratio, and, from one more untimed run, the evictions and the most
keys parked at once (keys in open episodes that evictions set aside).

    python benchmarks/eviction.py                          # 1,000,000 devices, bound 1%
    python benchmarks/eviction.py --devices 200000         # a quick run
    python benchmarks/eviction.py --storm-every 100        # ten times more episodes
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import day_of_devices  # benchmarks/memory.py: the same stream
from throughput import best_of

from alertthrottle import Alert, PolicyConfig, Threshold, ThrottlePolicy

CONFIG = PolicyConfig(Threshold(10, 3600))



def floor_loop(alerts: Sequence[Alert]) -> None:
    seen: dict[str, int] = {}
    get = seen.get
    for alert in alerts:
        get(alert.device_id)
        alert.timestamp  # noqa: B018 - reading the alert is the floor's work
        alert.code  # noqa: B018


def run_policy(alerts: Sequence[Alert], max_keys: int | None) -> None:
    feed = ThrottlePolicy(CONFIG, max_keys=max_keys).feed
    for alert in alerts:
        feed(alert)


def counts(alerts: Sequence[Alert], max_keys: int) -> dict[str, int]:
    """Evictions, episodes and the most keys parked at once (sampled), from one untimed run."""
    policy = ThrottlePolicy(CONFIG, max_keys=max_keys)
    feed = policy.feed
    every = max(1, len(alerts) // 1000)
    most_parked = 0
    for index, alert in enumerate(alerts):
        feed(alert)
        if index % every == 0:
            # Tracked keys that are not in the idle schedule are parked (an engine
            # detail, read here only to show the mechanism at work).
            filed = len(policy._filed())
            most_parked = max(most_parked, policy.stats.tracked_keys - filed)
    stats = policy.stats
    return {
        "evicted": stats.evicted,
        "episodes": stats.episodes,
        "tracked": stats.tracked_keys,
        "parked": most_parked,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=30, help="alerts per storming device")
    parser.add_argument("--storm-every", type=int, default=1000, help="one device in N storms")
    parser.add_argument("--bound", type=float, default=0.01, help="max_keys as a share of devices")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    alerts = list(day_of_devices(args.devices, args.burst, args.storm_every))
    n = len(alerts)
    max_keys = max(1, int(args.devices * args.bound))
    floor = best_of(args.repeats, lambda: floor_loop(alerts))
    unbounded = best_of(args.repeats, lambda: run_policy(alerts, None))
    bounded = best_of(args.repeats, lambda: run_policy(alerts, max_keys))
    seen = counts(alerts, max_keys)

    print(
        f"devices: {args.devices:,} over a day, one in {args.storm_every:,} storms "
        f"({args.burst} alerts, one a second); {n:,} alerts; Threshold(10, 3600)"
    )
    print(f"floor (read + dict lookup):  {n / floor:12,.0f} alerts/s")
    print(
        f"unbounded:                   {n / unbounded:12,.0f} decisions/s  "
        f"({unbounded / floor:.1f}x floor)"
    )
    print(
        f"max_keys={max_keys:<9,}          {n / bounded:12,.0f} decisions/s  "
        f"({bounded / floor:.1f}x floor; {bounded / unbounded:.2f}x the unbounded time)"
    )
    print(
        f"bounded run: {seen['evicted']:,} keys evicted, {seen['episodes']:,} episodes, "
        f"at most {seen['parked']:,} keys parked at once (sampled), "
        f"{seen['tracked']:,} keys tracked at the end"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
