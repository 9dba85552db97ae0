"""End-to-end replay cost: a CSV day parsed, decided and reported, vs bare ``feed_many``.

Writes a seeded power-factor-storm day to a temporary CSV (not timed), then
times, in ``--repeats`` rounds where every stage takes its turn (collector on,
CPU time; each stage as a ratio to the floor of its own round, the median of
the rounds and their range):

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
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throughput import interleaved, ratios

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
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
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

        runs = {
            "floor": floor,
            "parse": parse_only,
            "decide": parse_and_decide,
            "full": end_to_end,
        }
        parquet = _parquet_end_to_end(Path(folder), alerts, traffic.devices, spec)
        if parquet is not None:
            runs["parquet"] = parquet
        times = interleaved(args.repeats, runs)

    def seconds(name: str) -> float:
        return statistics.median(times[name])

    print(f"alerts: {n:,} in a {size / 1e6:,.0f} MB CSV, policy {spec.name}")
    print(f"{args.repeats} interleaved rounds, collector on, CPU time: median (least-greatest)")
    t_floor = seconds("floor")
    print(f"feed_many (alerts in memory):  {t_floor:7.2f} s  {n / t_floor:11,.0f} alerts/s  1.00x")
    for label, name in (
        ("parse CSV only:              ", "parse"),
        ("parse + decide:              ", "decide"),
        ("parse + decide + report:     ", "full"),
        ("Parquet end to end:          ", "parquet"),
    ):
        if name not in times:
            print("Parquet: skipped (pip install pyarrow)")
            continue
        middle, low, high = ratios(times, name, "floor")
        print(f"{label:30} {seconds(name):7.2f} s  {n / seconds(name):11,.0f} alerts/s  "
              f"{middle:.2f}x ({low:.2f}-{high:.2f})")  # fmt: skip
    middle = ratios(times, "full", "floor")[0]
    print(f"CSV end to end / feed_many = {middle:.2f} (target <= 3x: "
          f"{'met' if middle <= 3 else 'MISSED'})")  # fmt: skip
    if "parquet" in times:
        middle = ratios(times, "parquet", "floor")[0]
        print(f"Parquet end to end / feed_many = {middle:.2f} (target <= 1.5x: "
              f"{'met' if middle <= 1.5 else 'MISSED'})")  # fmt: skip
    return 0


def _parquet_end_to_end(
    folder: Path,
    alerts: list[Alert],
    devices: Mapping[str, DeviceInfo],
    spec: PolicySpec,
) -> Callable[[], None] | None:
    """A run replaying the alerts from a Parquet file, end to end; None without pyarrow."""
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

    return end_to_end


if __name__ == "__main__":
    raise SystemExit(main())
