"""What building the values costs: Alert (keywords, positional, from_parsed) and ThrottleMetadata.

Prints nanoseconds per object and the ratio to the floor of benchmarks/throughput.py
(a loop over the alerts doing one dict lookup), medians of several rounds of process
CPU time (steadier than wall time on a shared machine), with the garbage collector on
and then off: the difference is the collector's share, which every Python object
kept alive pays and which no constructor can avoid.

    python benchmarks/construction.py                # the 300,000-alert target day
    python benchmarks/construction.py --alerts 30000 # a quick run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import target_floor, target_rows

from alertthrottle import Alert, ThrottleMetadata


def cases(rows: Sequence[tuple[float, str, int]]) -> dict[str, Callable[[], object]]:
    """The constructions measured, each over every row of the day."""
    return {
        "tuple (t, d, c)": lambda: [(t, d, c) for t, d, c in rows],
        "Alert(timestamp=, ...)": lambda: [
            Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows
        ],
        "Alert(t, d, c)": lambda: [Alert(t, d, c) for t, d, c in rows],
        "Alert.from_parsed(t, d, c)": lambda: [Alert.from_parsed(t, d, c) for t, d, c in rows],
        "ThrottleMetadata(True, n, s)": lambda: [ThrottleMetadata(True, 5, 3) for _ in rows],
    }


def cpu_ns(run: Callable[[], object], n: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / n * 1e9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=62)
    args = parser.parse_args(argv)

    rows = target_rows(args.alerts, args.devices, args.seed)
    alerts = [Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows]
    n = len(rows)
    print(f"{n:,} alerts from {args.devices:,} devices; ns per object (process CPU time),")
    print(f"medians of {args.rounds} rounds; ratio to the floor (one dict lookup per alert)")
    for collector in (True, False):
        if not collector:
            gc.disable()
        measured = {name: [] for name in cases(rows)} | {"floor": []}
        for _ in range(args.rounds):
            measured["floor"].append(cpu_ns(lambda: target_floor(alerts), n))
            for name, run in cases(rows).items():
                measured[name].append(cpu_ns(run, n))
        gc.enable()
        floor = statistics.median(measured.pop("floor"))
        print(f"collector {'on' if collector else 'off'}: floor {floor:,.0f} ns")
        for name, times in measured.items():
            ns = statistics.median(times)
            print(f"  {name:30} {ns:8,.0f} ns {ns / floor:6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
