"""Cost of the operations layer on a seeded day of storm-heavy traffic.

Prints, against a bare loop over the same alerts (the floor) and as ratios:
``feed`` with no guard (as in throughput.py), with a capacity guard at
``engage_at="always"`` and ``"red"``, a CapacityGuard alone, and the incident
and digest consumers over the day's events. Also the incidents each strategy
raises for the day, and the root-cause report's time.

    python benchmarks/operations.py                  # 1,000,000 alerts, 100,000 devices
    python benchmarks/operations.py --alerts 50000   # a quick run
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import best_of, config, day_of_traffic, floor_loop

from alertthrottle import (
    Alert,
    CapacityGuard,
    CapacityThresholds,
    DigestBuilder,
    Event,
    IncidentBook,
    ThrottlePolicy,
    root_cause_report,
)


def thresholds(alerts: int) -> CapacityThresholds:
    # Scaled so that a day's traffic spends time at every level.
    per_minute = alerts / 1440
    return CapacityThresholds(
        period=60, amber=int(per_minute * 1.0) + 1, red=int(per_minute * 1.3) + 1,
        amber_clear=int(per_minute * 0.9) + 1, red_clear=int(per_minute * 1.2) + 1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=62)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    alerts: list[Alert] = day_of_traffic(args.alerts, args.devices, args.seed)
    limits = thresholds(args.alerts)

    def feed(capacity: bool, engage: str) -> Callable[[], None]:
        def run() -> None:
            guard = CapacityGuard(limits) if capacity else None
            policy = ThrottlePolicy(config(), capacity=guard, engage_at=engage)  # type: ignore[arg-type]
            for alert in alerts:
                policy.feed(alert)

        return run

    def guard_alone() -> None:
        guard = CapacityGuard(limits)
        for alert in alerts:
            guard.observe(alert.timestamp)

    events: list[Event] = []
    levels: list[Event] = []
    policy = ThrottlePolicy(config(), capacity=CapacityGuard(limits))
    for alert in alerts:
        for event in policy.feed(alert).events:
            (levels if type(event).__name__ == "LevelChanged" else events).append(event)
    events += policy.advance(alerts[-1].timestamp + 86_400)

    def books() -> None:
        for strategy in IncidentBook.STRATEGIES:
            IncidentBook(strategy).apply_all(events)

    def digests() -> None:
        builder = DigestBuilder("throttle@dsp.example", route=lambda started: ["ops"])
        builder.add_all(events)
        for day in builder.days():
            builder.build_day(day)

    floor = best_of(args.repeats, lambda: floor_loop(alerts))
    n = len(alerts)
    print(f"{n:,} alerts, {args.devices:,} devices; capacity {limits.as_dict()}")
    print(f"level changes in the day: {len(levels)}; episode events: {len(events):,}")
    print(f"{'run':34} {'seconds':>8} {'alerts/s':>12} {'x floor':>8}")
    print(f"{'bare loop (floor)':34} {floor:8.3f} {n / floor:12,.0f} {1:8.2f}")
    runs = [
        ("feed, no guard", feed(False, "always")),
        ("feed, guard, engage_at=always", feed(True, "always")),
        ("feed, guard, engage_at=red", feed(True, "red")),
        ("CapacityGuard.observe alone", guard_alone),
    ]
    base = None
    for name, run in runs:
        seconds = best_of(args.repeats, run)
        base = base or seconds
        print(f"{name:34} {seconds:8.3f} {n / seconds:12,.0f} {seconds / floor:8.2f}"
              f"   ({seconds / base:.2f} x no guard)")
    for name, run in (("3 incident books over the events", books), ("digests of the day", digests)):
        seconds = best_of(args.repeats, run)
        print(f"{name:34} {seconds:8.3f} {'':>12} {seconds / floor:8.2f}")
    seconds = best_of(1, lambda: root_cause_report(alerts, config()))
    print(f"{'root-cause report (replay incl.)':34} {seconds:8.3f} {n / seconds:12,.0f} "
          f"{seconds / floor:8.2f}")
    for strategy in IncidentBook.STRATEGIES:
        book = IncidentBook(strategy)
        book.apply_all(events)
        print(f"incidents, {strategy:15} {len(book):>10,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
