"""End-to-end replay cost: a CSV day parsed, decided and reported, vs bare ``feed_many``.

Writes a seeded power-factor-storm day to a temporary CSV (not timed), then
times, best of ``--repeats``:

* end to end: ``TrafficReader`` over the file -> ``Replay.run`` -> ``Replay.report``
  (what ``alertthrottle simulate FILE`` does, less drawing the tables);
* the parts: parsing alone, and parse + decide without the report's counting;
* the floor: ``ThrottlePolicy.feed_many`` over the same alerts already in memory.

and prints the ratio of each to the floor (the target is end to end <= 3x).

    python benchmarks/replay.py                  # 2,200,000 alerts (the national day)
    python benchmarks/replay.py --alerts 100000  # a quick run (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throughput import best_of

from alertthrottle import (
    Alert,
    Replay,
    TrafficReader,
    builtin_policy,
    generate_scenario,
    write_traffic,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=2_200_000, help="alerts in the day")
    parser.add_argument("--seed", type=int, default=62)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--policy", default="proposed", help="built-in policy name")
    args = parser.parse_args(argv)

    scale = args.alerts / 2_200_000
    traffic = generate_scenario(
        "power-factor-storm",
        seed=args.seed,
        alerts=args.alerts,
        devices=max(1000, round(100_000 * scale)),
        storm_devices=max(10, round(3000 * scale)),
    )
    spec = builtin_policy(args.policy)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            n = write_traffic(traffic, out, devices=traffic.devices)
        size = path.stat().st_size
        alerts: list[Alert] = list(TrafficReader(path))

        def floor() -> None:
            spec.build().feed_many(alerts)

        def parse_only() -> None:
            for _ in TrafficReader(path):
                pass

        def parse_and_decide() -> None:
            spec.build().feed_many(TrafficReader(path))

        def end_to_end() -> None:
            reader = TrafficReader(path)
            replay = Replay([spec])
            replay.run(reader)
            report = replay.report(source=str(path), devices=reader.devices)
            totals = report.policies[0].totals
            assert totals.delivered + totals.throttled + totals.exempt == totals.alerts == n

        t_floor = best_of(args.repeats, floor)
        t_parse = best_of(args.repeats, parse_only)
        t_decide = best_of(args.repeats, parse_and_decide)
        t_full = best_of(args.repeats, end_to_end)

    print(f"alerts: {n:,} in a {size / 1e6:,.0f} MB CSV, policy {spec.name}")
    print(f"feed_many (alerts in memory): {t_floor:7.2f} s  {n / t_floor:11,.0f} alerts/s  1.00x")
    for label, seconds in (
        ("parse CSV only:             ", t_parse),
        ("parse + decide:             ", t_decide),
        ("parse + decide + report:    ", t_full),
    ):
        print(f"{label}  {seconds:7.2f} s  {n / seconds:11,.0f} alerts/s  {seconds / t_floor:.2f}x")
    target = "met" if t_full <= 3 * t_floor else "MISSED"
    print(f"end to end / feed_many = {t_full / t_floor:.2f} (target <= 3x: {target})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
