"""End-to-end replay cost: a CSV day parsed, decided and reported, vs bare ``feed_many``.

Writes a seeded power-factor-storm day to a temporary CSV (not timed), then
times, best of ``--repeats``:

* end to end: ``TrafficReader`` over the file -> ``Replay.run`` -> ``Replay.report``
  (what ``alertthrottle simulate FILE`` does, less drawing the tables);
* the parts: parsing alone, and parse + decide without the report's counting;
* the floor: ``ThrottlePolicy.feed_many`` over the same alerts already in memory.

and prints the ratio of each to the floor (the target is end to end <= 3x).
With pyarrow installed it also writes the day as Parquet and times it end to
end (target <= 1.5x: the columns need no text parsing).

    python benchmarks/replay.py                  # 2,200,000 alerts (the national day)
    python benchmarks/replay.py --alerts 100000  # a quick run (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throughput import best_of

from alertthrottle import (
    Alert,
    DeviceInfo,
    PolicySpec,
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
        t_parquet = _parquet_end_to_end(Path(folder), alerts, traffic.devices, spec, args.repeats)

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
    if t_parquet is None:
        print("Parquet: skipped (pip install pyarrow)")
    else:
        ratio = t_parquet / t_floor
        target = "met" if ratio <= 1.5 else "MISSED"
        print(f"Parquet end to end:           {t_parquet:7.2f} s  {n / t_parquet:11,.0f} alerts/s  "
              f"{ratio:.2f}x (target <= 1.5x: {target})")  # fmt: skip
    return 0


def _parquet_end_to_end(
    folder: Path,
    alerts: list[Alert],
    devices: Mapping[str, DeviceInfo],
    spec: PolicySpec,
    repeats: int,
) -> float | None:
    """Best time to replay the alerts from a Parquet file, end to end; None without pyarrow."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        return None
    path = folder / "day.parquet"
    empty = DeviceInfo()
    makes = [devices.get(a.device_id, empty) for a in alerts]
    columns = {
        "timestamp": [a.timestamp for a in alerts],
        "device_id": pyarrow.array([a.device_id for a in alerts]).dictionary_encode(),
        "code": [a.code for a in alerts],
        "recipients": [";".join(a.recipients) for a in alerts],
        "manufacturer": [m.manufacturer for m in makes],
        "model": [m.model for m in makes],
        "firmware": [m.firmware for m in makes],
    }
    pyarrow.parquet.write_table(pyarrow.table(columns), path)

    def end_to_end() -> None:
        reader = TrafficReader(path)
        replay = Replay([spec])
        replay.run(reader)
        report = replay.report(source=str(path), devices=reader.devices)
        assert report.alerts == len(alerts)

    return best_of(repeats, end_to_end)


if __name__ == "__main__":
    raise SystemExit(main())
