"""What building the values costs: Alert (positional, keywords, from_parsed) and ThrottleMetadata.

Prints nanoseconds per object on the target day of benchmarks/throughput.py, with
two floors from the same run: a plain tuple and a plain slotted class with a Python
``__init__`` (what any Python object costs), and the ratio to the throughput floor
(a loop over the alerts doing one dict lookup). Two shapes:

- **kept**: all the day's objects built into one list (a batch, or a test fixture);
  every object kept alive makes the garbage collector's passes longer, so with the
  collector on this shape costs more than the constructor itself;
- **streamed**: each object built and dropped, as ``feed_many(Alert(...) for ...)``
  and the readers do.

Medians (and ranges) of several interleaved rounds of process CPU time (steadier than
wall time on a shared machine), collector on; ``--collector-off`` adds the kept shape
without it. The rows are rebuilt in time order before measuring, so their memory
layout is a reader's, not the generator's.

    python benchmarks/construction.py                # the 300,000-alert target day
    python benchmarks/construction.py --alerts 30000 # a quick run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import target_floor, target_rows

from alertthrottle import Alert, ThrottleMetadata

Row = tuple[float, str, int]


class Slotted:
    """The plain floor: a mutable slotted class, four fields, a Python ``__init__``."""

    __slots__ = ("code", "device_id", "recipients", "timestamp")

    def __init__(
        self, timestamp: float, device_id: str, code: int, recipients: tuple[str, ...] = ()
    ) -> None:
        self.timestamp = timestamp
        self.device_id = device_id
        self.code = code
        self.recipients = recipients


def builders(rows: Sequence[Row]) -> dict[str, Callable[[], Iterator[object]]]:
    """Each construction measured, as a generator over every row of the day."""
    from_parsed = Alert.from_parsed  # as the readers bind it
    return {
        "tuple (t, d, c)": lambda: ((t, d, c) for t, d, c in rows),
        "Slotted(t, d, c)": lambda: (Slotted(t, d, c) for t, d, c in rows),
        "Alert(t, d, c)": lambda: (Alert(t, d, c) for t, d, c in rows),
        "Alert(timestamp=, ...)": lambda: (
            Alert(timestamp=t, device_id=d, code=c) for t, d, c in rows
        ),
        "Alert.from_parsed(t, d, c)": lambda: (from_parsed(t, d, c) for t, d, c in rows),
        "ThrottleMetadata(True, n, s)": lambda: (ThrottleMetadata(True, 5, 3) for _ in rows),
    }


def cpu_ns(run: Callable[[], object], n: int) -> float:
    gc.collect()
    started = time.process_time()
    run()
    return (time.process_time() - started) / n * 1e9


def measure(
    rows: Sequence[Row], alerts: Sequence[Alert], rounds: int, shapes: Sequence[str]
) -> dict[str, list[float]]:
    """ns per object of every (shape, builder), rounds interleaved in alternating order."""
    n = len(rows)
    runs: dict[str, Callable[[], object]] = {"floor": lambda: target_floor(alerts)}
    for name, build in builders(rows).items():
        if "kept" in shapes:
            runs[f"kept {name}"] = lambda build=build: list(build())
        if "streamed" in shapes:
            runs[f"streamed {name}"] = lambda build=build: deque(build(), maxlen=0)
    measured: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            measured[name].append(cpu_ns(runs[name], n))
    return measured


def report(measured: dict[str, list[float]]) -> None:
    floor = statistics.median(measured.pop("floor"))
    print(f"  floor (one dict lookup per alert) {floor:,.0f} ns")
    for shape in ("kept", "streamed"):
        names = [name for name in measured if name.startswith(shape)]
        if not names:
            continue
        slotted = statistics.median(measured[f"{shape} Slotted(t, d, c)"])
        print(f"  {shape}: ns per object, median (range); x the floor; x Slotted")
        for name in names:
            times = measured[name]
            ns = statistics.median(times)
            print(
                f"    {name.removeprefix(shape + ' '):30} {ns:6,.0f} ns "
                f"({min(times):,.0f}-{max(times):,.0f}) {ns / floor:5.1f}x {ns / slotted:5.2f}x"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=62)
    parser.add_argument("--collector-off", action="store_true", help="also measure without gc")
    args = parser.parse_args(argv)

    # target_rows makes its tuples and floats in time order, as a reader makes them.
    rows = target_rows(args.alerts, args.devices, args.seed)
    alerts = [Alert(t, d, c) for t, d, c in rows]  # also fills the device-id table
    print(f"{len(rows):,} alerts from {args.devices:,} devices, {args.rounds} rounds")
    print("collector on:")
    report(measure(rows, alerts, args.rounds, ("kept", "streamed")))
    if args.collector_off:
        gc.disable()
        try:
            print("collector off:")
            report(measure(rows, alerts, args.rounds, ("kept",)))
        finally:
            gc.enable()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
