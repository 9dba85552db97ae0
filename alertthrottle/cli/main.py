"""The ``alertthrottle`` command: argument parsing only.

Each subcommand is a :class:`Command` (a name, its arguments and a thin
``run`` function over the library); adding one is adding an entry to
:data:`COMMANDS`. ``main`` returns the exit status: 0 success, 1 bad input
(a traffic row, a policy file, a scenario parameter), 2 bad usage.
"""

from __future__ import annotations

import argparse
import heapq
import io
import json
import math
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

import attrs

from .._core.alert import Alert, DeviceInfo, format_code, parse_code
from .._core.config import PolicyConfig, Threshold
from .._core.errors import AlertThrottleError, PolicyError, TrafficError
from .._core.makes import with_registry
from .._core.text import terminal_safe, write_csv
from .._core.timefmt import seconds_text
from .._io.devices import load_device_registry
from .._io.policyfile import (
    BUILTIN_POLICIES,
    DEFAULT_POLICY,
    PolicySpec,
    builtin_policy,
    load_policy,
)
from .._io.reorder import MAX_WINDOW, reorder
from .._io.traffic import KEPT_SKIPS, TrafficReader
from .._io.trafficerrors import SkippedRow
from .._io.trafficwrite import atomic_traffic_output, merge_traffic, write_traffic
from .._ops.rootcause import RootCauseReport, root_cause_csv, root_cause_json
from .._replay.replay import PROGRESS_EVERY, Replay
from .._replay.report import Report
from .._replay.rootcause import root_cause_report
from .._replay.scenarios import SCENARIOS, generate_scenario
from .._version import __version__
from .render import (
    Table,
    check_plot,
    describe_capacity,
    describe_threshold,
    progress_reporter,
    render_tables,
    report_csv,
    report_json,
    report_tables,
    terminal_columns,
    write_plot,
)

__all__ = ["COMMANDS", "DEFAULT_SCENARIO", "Command", "main"]

#: What ``simulate`` and ``sweep`` replay when given no traffic: a tenth-scale
#: power-factor day (about 220,000 alerts from 20,000 devices, 300 of them flapping).
DEFAULT_SCENARIO: tuple[str, dict[str, Any]] = (
    "power-factor-storm",
    {"devices": 20_000, "storm_devices": 300, "alerts": 220_000},
)


class UsageError(Exception):
    """A combination of arguments that argparse cannot check by itself."""


class InputError(Exception):
    """A file given on the command line is unusable; the message names it."""


@attrs.frozen
class Command:
    """A subcommand: ``configure`` adds its arguments, ``run`` does it and returns the status."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, IO[str]], int]


# -- shared pieces ---------------------------------------------------------------------


class _Traffic:
    """The alerts to replay: files (merged by time) or a generated scenario."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.readers: list[TrafficReader] = []
        self._generated: Iterable[Alert] | None = None
        self._devices: dict[str, DeviceInfo] = {}
        self._args = args
        #: Alerts a late="reject" policy would refuse, skipped with --on-error skip.
        self.late_skipped = 0
        self._late_rows: list[SkippedRow] = []
        if args.traffic:
            if args.scenario:
                raise UsageError("give TRAFFIC files or --scenario, not both")
            self.readers = [
                TrafficReader(
                    path, format=args.format, on_error=args.on_error, time_unit=args.time_unit
                )
                for path in args.traffic
            ]
            self.description = ", ".join(reader.name for reader in self.readers)
            return
        if args.sort or args.reorder_window is not None:
            raise UsageError("--sort and --reorder-window apply to TRAFFIC files")
        if args.scenario:
            name = args.scenario
            parameters: dict[str, Any] = dict(_settings(args.set))
        else:
            if args.set:
                raise UsageError("--set needs --scenario")
            name, parameters = DEFAULT_SCENARIO[0], {**DEFAULT_SCENARIO[1]}
        traffic = generate_scenario(name, days=args.days, seed=args.seed, **parameters)
        self._generated = traffic
        self._devices = traffic.devices
        self.description = traffic.description
        if not args.scenario:
            self.description = "built-in " + self.description

    def alerts(self, reject: str | None = None) -> Iterator[Alert]:
        """The alerts in replay order (``--sort``, ``--reorder-window`` applied).

        ``reject`` names a policy with ``late = "reject"``: an alert it would
        refuse stops the replay at its file and line, or is skipped and counted.
        """
        if self._generated is not None:
            return iter(self._generated)
        if reject is not None:
            return self._refuse_late(reject)
        return self._ordered(merge_traffic(*self.readers))

    def replayed(self, reject: str | None = None) -> Iterable[Alert]:
        """:meth:`alerts`, but one file replayed as it is comes as its reader itself,
        which ``Replay.run`` reads in blocks of columns."""
        as_read = not self._args.sort and self._args.reorder_window is None
        if len(self.readers) == 1 and reject is None and as_read:
            return self.readers[0]
        return self.alerts(reject)

    def _ordered(self, alerts: Iterable[Any], key: Any = None) -> Iterator[Any]:
        key = key or _timestamp
        if self._args.sort:
            return iter(sorted(alerts, key=key))
        if self._args.reorder_window is not None:
            if key is _timestamp:
                return reorder(alerts, window=self._args.reorder_window)
            return _reorder_tagged(alerts, self._args.reorder_window)
        return iter(alerts)

    def _refuse_late(self, policy: str) -> Iterator[Alert]:
        tagged = [_tagged(reader) for reader in self.readers]
        merged = heapq.merge(*tagged, key=_first_timestamp) if len(tagged) > 1 else tagged[0]
        newest = -1.0
        for alert, name, line in self._ordered(merged, _first_timestamp):
            if alert.timestamp < newest:
                problem = (
                    f'is late for policy {policy} (late = "reject"): the replay is already at '
                    f"{seconds_text(newest)} UTC; sort the traffic (--sort) or reorder it "
                    "(--reorder-window SECONDS)"
                )
                if self._args.on_error == "fail":
                    raise TrafficError(name, line, "timestamp", alert.timestamp, problem)
                self.late_skipped += 1
                if len(self._late_rows) < KEPT_SKIPS:
                    row = SkippedRow(name, line, "timestamp", problem, str(alert.timestamp))
                    self._late_rows.append(row)
                continue
            newest = alert.timestamp
            yield alert

    @property
    def devices(self) -> dict[str, DeviceInfo]:
        merged = dict(self._devices)
        for reader in self.readers:
            merged.update(reader.devices)
        return merged

    def records(self, reject: str | None = None) -> Iterator[tuple[Alert, DeviceInfo | None]]:
        """The alerts with the make the traffic gave for their device (``None`` if none).

        A file's make columns are read with the row, so the make is the one
        known when the alert is replayed.
        """
        sources = [self._devices, *(reader.devices for reader in self.readers)]
        for alert in self.alerts(reject):
            info = None
            for table in sources:
                info = table.get(alert.device_id)
                if info is not None:
                    break
            yield alert, info

    @property
    def skipped(self) -> int:
        return sum(reader.skipped for reader in self.readers) + self.late_skipped

    @property
    def skipped_rows(self) -> list[SkippedRow]:
        rows = [row for reader in self.readers for row in reader.skipped_rows]
        return (rows + self._late_rows)[:KEPT_SKIPS]

    @property
    def span(self) -> tuple[float, float] | None:
        """The earliest and latest time in the files, whatever their order."""
        earliest = [r.earliest for r in self.readers if r.earliest is not None]
        latest = [r.latest for r in self.readers if r.latest is not None]
        return (min(earliest), max(latest)) if earliest and latest else None


def _timestamp(alert: Alert) -> float:
    return alert.timestamp


def _first_timestamp(item: tuple[Alert, str, int]) -> float:
    return item[0].timestamp


def _tagged(reader: TrafficReader) -> Iterator[tuple[Alert, str, int]]:
    """The reader's alerts, each with its file and line."""
    for alert in reader:
        yield alert, reader.name, reader.line


def _reorder_tagged(
    items: Iterable[tuple[Alert, str, int]], window: float
) -> Iterator[tuple[Alert, str, int]]:
    """:func:`reorder` for alerts tagged with their file and line."""
    tags: dict[int, tuple[str, int]] = {}

    def alerts() -> Iterator[Alert]:
        for alert, name, line in items:
            tags[id(alert)] = (name, line)
            yield alert

    for alert in reorder(alerts(), window=window):
        name, line = tags.pop(id(alert))
        yield alert, name, line


def _warn_order(late: int, alerts: int, err: IO[str]) -> None:
    """Say on ``err`` that alerts came out of time order: how many, and what to do."""
    if late <= 0:
        return
    # What happened, then the remedy, on lines short enough for a terminal.
    err.write(
        f"alertthrottle: warning: {late:,} of {alerts:,} alerts ({100 * late / alerts:.1f}%) "
        "came out of time order;\n"
        "  they were replayed late, at the latest time seen before them.\n"
        "  Sort the traffic by time (--sort), or reorder it as it is read\n"
        "  (--reorder-window SECONDS).\n"
    )


def _settings(items: Sequence[str]) -> Iterator[tuple[str, str]]:
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set wants NAME=VALUE, got {item!r}")
        yield name.strip(), value.strip()


def _rich(args: argparse.Namespace) -> bool | None:
    """``False`` with ``--plain``, else ``None``: rich when it is installed."""
    return False if args.plain else None


def _policy(ref: str) -> PolicySpec:
    """A policy file path, or the name of a built-in policy."""
    try:
        if os.path.exists(ref):
            return load_policy(ref)
        if ref in BUILTIN_POLICIES:
            return builtin_policy(ref)
    except OSError as exc:
        raise InputError(f"{ref}: {exc.strerror or exc}") from exc
    except PolicyError as exc:
        # load_policy's messages start with the file's name already.
        message = str(exc)
        raise InputError(message if message.startswith(ref) else f"{ref}: {message}") from exc
    raise InputError(
        f"{ref}: no such policy file (built-in policies: {', '.join(sorted(BUILTIN_POLICIES))})"
    )


def _unique_names(specs: list[PolicySpec], reserved: Sequence[str] = ()) -> list[PolicySpec]:
    seen: dict[str, int] = dict.fromkeys(reserved, 1)
    named = []
    for spec in specs:
        count = seen.get(spec.name, 0) + 1
        seen[spec.name] = count
        named.append(spec if count == 1 else attrs.evolve(spec, name=f"{spec.name}#{count}"))
    return named


def _registry(args: argparse.Namespace) -> dict[str, DeviceInfo] | None:
    """The ``--devices`` file, if the command has the option and it was given."""
    path = getattr(args, "devices", None)
    if path is None:
        return None
    try:
        return load_device_registry(path)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


def _warn_empty(specs: Sequence[PolicySpec], err: IO[str]) -> None:
    """Warn about each policy that throttles nothing (no default, no per-code threshold)."""
    for spec in specs:
        if spec.config.default is None and not spec.config.per_code:
            err.write(
                f"alertthrottle: warning: policy {spec.name} throttles nothing: it has no "
                "default threshold and no per-code ones\n"
            )


def _reject_policy(specs: Sequence[PolicySpec]) -> str | None:
    """The name of the first policy that refuses late alerts, if any does."""
    return next((spec.name for spec in specs if spec.late == "reject"), None)


def _replay(
    args: argparse.Namespace,
    specs: list[PolicySpec],
    err: IO[str],
    candidates: Sequence[PolicySpec] = (),
) -> Report:
    _warn_empty([*specs, *candidates], err)
    traffic = _Traffic(args)
    registry = _registry(args)
    replay = Replay(specs, busiest=args.busiest, candidates=candidates)
    with progress_reporter(err, **_progress_source(traffic)) as progress:
        replay.run(traffic.replayed(reject=_reject_policy(specs)), progress)
    report = replay.report(
        source=traffic.description,
        devices=with_registry(traffic.devices, registry),
        skipped=traffic.skipped,
        skipped_rows=traffic.skipped_rows,
    )
    _warn_order(max(p.totals.late for p in report.policies), report.alerts, err)
    span = traffic.span
    if span is not None:
        report = attrs.evolve(report, first=span[0], last=span[1])
    return report


def _progress_source(traffic: _Traffic) -> dict[str, Any]:
    """What progress_reporter needs to show a percentage: the input's size and position."""
    sizes = [reader.size for reader in traffic.readers]
    if not sizes or None in sizes:
        return {}
    readers = traffic.readers

    def position() -> int:
        return sum(reader.position or 0 for reader in readers)

    return {"total": sum(size or 0 for size in sizes), "position": position}


def _counted(
    items: Iterable[tuple[Alert, DeviceInfo | None]], progress: Callable[[int], None] | None
) -> Iterator[tuple[Alert, DeviceInfo | None]]:
    # Pairs, so that report's (alert, make) records and generate's alerts share it.
    """``items`` unchanged, calling ``progress`` with the count every PROGRESS_EVERY."""
    if progress is None:
        yield from items
        return
    for count, item in enumerate(items, 1):
        if count % PROGRESS_EVERY == 0:
            progress(count)
        yield item


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"want 0 or more, got {value}")
    return value


def _window(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_WINDOW):
        raise argparse.ArgumentTypeError(f"want 0 to {MAX_WINDOW:,} seconds, got {text}")
    return value


def _add_traffic_arguments(parser: argparse.ArgumentParser, *, busiest: bool = True) -> None:
    parser.add_argument(
        "traffic",
        nargs="*",
        metavar="TRAFFIC",
        help="CSV or JSON Lines files (.gz read transparently, - for stdin), Parquet or Arrow "
        "files (with the [arrow] extra), merged by time; none: a built-in scenario generated "
        "on the fly",
    )
    parser.add_argument(
        "--scenario", choices=sorted(SCENARIOS), help="replay a generated scenario instead"
    )
    parser.add_argument("--days", type=int, default=1, help="days of --scenario (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --scenario (default 0)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a --scenario parameter (see 'generate --list')",
    )
    parser.add_argument(
        "--format",
        choices=("csv", "jsonl", "parquet", "arrow"),
        help="traffic format (default: from the name, else the content)",
    )
    parser.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="a bad row stops the replay (fail, default) or is counted and skipped",
    )
    parser.add_argument(
        "--time-unit",
        choices=("s", "ms", "us"),
        default="s",
        help="what numeric timestamps count: epoch seconds (s, default), milliseconds (ms) "
        "or microseconds (us)",
    )
    order = parser.add_mutually_exclusive_group()
    order.add_argument(
        "--sort",
        action="store_true",
        help="read all the traffic, sort it by time, then replay (memory grows with the files)",
    )
    order.add_argument(
        "--reorder-window",
        type=_window,
        metavar="SECONDS",
        help="hold alerts back up to SECONDS of event time to put them in order "
        "(bounded memory); later ones are late",
    )
    if busiest:
        parser.add_argument(
            "--busiest", type=_non_negative, default=10, metavar="N",
            help="busiest devices shown (10)",
        )  # fmt: skip


def _add_devices_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--devices",
        metavar="FILE",
        help="a devices CSV (device_id,manufacturer,model,firmware) filling the makes "
        "the traffic leaves out",
    )


def _add_output_arguments(
    parser: argparse.ArgumentParser, csv_help: str | None, *, default: Any = argparse.SUPPRESS
) -> None:
    """``--plain``, ``--json`` and ``--csv`` (if ``csv_help``), before or after the command.

    The subcommands' copies default to SUPPRESS, so that an option given
    before the subcommand is not reset by the subcommand's default.
    """
    parser.add_argument(
        "--plain", action="store_true", default=default,
        help="plain-text tables, even when rich is installed",
    )  # fmt: skip
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", default=default, help="write JSON")
    if csv_help is not None:
        group.add_argument("--csv", action="store_true", default=default, help=csv_help)


# -- simulate ----------------------------------------------------------------------------


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    _add_traffic_arguments(parser)
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help=f"policy TOML file or built-in name ({', '.join(sorted(BUILTIN_POLICIES))}); "
        f"repeat to compare side by side (default: {DEFAULT_POLICY})",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="FILE",
        help="a shadow candidate for the first --policy (a TOML file or built-in name): "
        "run in the dark on the same alerts and compared with it; repeatable",
    )
    _add_output_arguments(parser, "write the per-code table as CSV")
    parser.add_argument("--plot", metavar="FILE.png", help="also plot offered vs received per hour")
    _add_devices_argument(parser)


def _refuse_plot_onto_input(args: argparse.Namespace) -> None:
    """Refuse a ``--plot`` path that names a file this run reads (a slip that would lose it)."""
    inputs = [*args.traffic, *args.policy, *args.candidate, args.devices]
    if not os.path.exists(args.plot):
        return
    for path in inputs:
        if path and path != "-" and os.path.exists(path) and os.path.samefile(path, args.plot):
            raise InputError(f"{args.plot}: is an input of this run; plot to another file")


def _run_simulate(args: argparse.Namespace, out: IO[str]) -> int:
    specs = _unique_names([_policy(ref) for ref in args.policy or [DEFAULT_POLICY]])
    # "live" names the live policy in the comparison, so a candidate may not take it.
    candidates = _unique_names([_policy(ref) for ref in args.candidate], reserved=("live",))
    if args.plot:
        _refuse_plot_onto_input(args)
        check_plot(args.plot)  # before the replay, which may take long
    report = _replay(args, specs, sys.stderr, candidates)
    if args.json:
        out.write(report_json(report) + "\n")
    elif args.csv:
        report_csv(report, out)
    else:
        render_tables(report_tables(report), out, use_rich=_rich(args))
    if args.plot:
        # The report is out first: a plot that fails now loses nothing else.
        try:
            write_plot(report, args.plot)
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:
            out.flush()
            print(f"alertthrottle: error: plot not written to {args.plot}: {exc}", file=sys.stderr)
            return 1
        if not (args.json or args.csv):
            out.write(f"plot written to {args.plot}\n")
    return 0


# -- generate ----------------------------------------------------------------------------


def _configure_generate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS), metavar="SCENARIO",
                        help=f"one of {', '.join(sorted(SCENARIOS))}")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="describe the scenarios and stop")
    parser.add_argument("--days", type=int, default=1, help="days of traffic (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a scenario parameter"
    )
    parser.add_argument(
        "--out", default="-", metavar="FILE", help="output file (.gz compresses; default stdout)"
    )
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), help="default: from --out's name, else csv"
    )
    parser.add_argument(
        "--no-devices", action="store_true", help="leave out manufacturer/model/firmware"
    )
    # Accepted after the command as before it; --list is plain text either way.
    parser.add_argument("--plain", action="store_true", default=argparse.SUPPRESS,
                        help="plain text (generate writes no tables)")  # fmt: skip


def _text_width(out: IO[str]) -> int:
    """``COLUMNS``, else the terminal's width when ``out`` is one, else 80 columns."""
    return max(40, terminal_columns(out) or 80)


def _scenario_list(width: int) -> Iterator[str]:
    """Each scenario: its name, its summary and its parameters, wrapped to ``width``."""
    pad = max(len(f"{p.name}={p.default}") for s in SCENARIOS.values() for p in s.parameters)
    for scenario in SCENARIOS.values():
        yield scenario.name
        yield from textwrap.wrap(
            scenario.summary, width, initial_indent="  ", subsequent_indent="  "
        )
        for p in scenario.parameters:
            setting = f"{p.name}={p.default}".ljust(pad)
            yield from textwrap.wrap(
                p.help, width, initial_indent=f"  {setting}  ",
                subsequent_indent=" " * (pad + 4), break_long_words=False,
            )  # fmt: skip
        yield ""


def _run_generate(args: argparse.Namespace, out: IO[str]) -> int:
    if args.list:
        out.writelines(line + "\n" for line in _scenario_list(_text_width(out)))
        return 0
    if not args.scenario:
        raise UsageError("generate needs a SCENARIO (or --list)")
    parameters: dict[str, Any] = dict(_settings(args.set))
    traffic = generate_scenario(args.scenario, days=args.days, seed=args.seed, **parameters)
    fmt = args.format
    if fmt is None:
        fmt = "jsonl" if args.out.removesuffix(".gz").endswith((".jsonl", ".ndjson")) else "csv"
    devices = None if args.no_devices else traffic.devices
    with progress_reporter(sys.stderr, label="generating") as progress:
        alerts = _counted(((alert, None) for alert in traffic), progress)
        if args.out == "-":
            count = write_traffic((a for a, _ in alerts), out, format=fmt, devices=devices)
        else:
            # Written beside the target and renamed over it: never a half-written file.
            try:
                with atomic_traffic_output(args.out) as stream:
                    count = write_traffic(
                        (a for a, _ in alerts), stream, format=fmt, devices=devices
                    )
            except OSError as exc:
                raise InputError(f"{args.out}: cannot be written ({exc.strerror or exc})") from exc
    if args.out != "-":
        out.write(f"wrote {count:,} alerts to {args.out}: {traffic.description}\n")
    return 0


# -- sweep -------------------------------------------------------------------------------


def _numbers(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"want comma-separated numbers, got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError("want at least one value")
        return values

    return parse


def _period(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _configure_sweep(parser: argparse.ArgumentParser) -> None:
    _add_traffic_arguments(parser)
    parser.add_argument("--limit", type=_numbers(int), required=True, help="e.g. 5,10,20")
    parser.add_argument(
        "--period", type=_numbers(_period), required=True, help="seconds, e.g. 900,3600"
    )
    parser.add_argument("--resume-below", type=_numbers(int), help="e.g. 2,5 (default: the limit)")
    parser.add_argument(
        "--code",
        type=_numbers(str),
        help="apply the grid to these codes' own thresholds (e.g. 8014,8015); "
        "default: to the global default threshold, with no per-code ones (phase 1)",
    )
    parser.add_argument(
        "--policy", default=DEFAULT_POLICY, metavar="FILE",
        help=f"base policy: its exempt codes (and other per-code thresholds with --code); "
        f"default {DEFAULT_POLICY}",
    )  # fmt: skip
    _add_output_arguments(parser, "write the grid as CSV")


def _grid(args: argparse.Namespace) -> list[PolicySpec]:
    base = _policy(args.policy)
    codes = [parse_code(code.strip(), "code") for code in args.code or []]
    specs = []
    for limit in args.limit:
        for period in args.period:
            for resume in args.resume_below or [None]:
                if resume is not None and resume > limit:
                    continue
                threshold = Threshold(limit, period, resume)
                if codes:
                    per_code = {**base.config.per_code, **dict.fromkeys(codes, threshold)}
                    config = PolicyConfig(base.config.default, per_code, base.config.exempt_codes)
                else:
                    config = PolicyConfig(threshold, {}, base.config.exempt_codes)
                name = f"limit={limit} period={period:g}"
                if resume is not None:
                    name += f" resume_below={resume}"
                specs.append(PolicySpec(config, base.late, name, base.capacity, base.engage_at))
    if not specs:
        raise UsageError("no combination has resume_below <= limit")
    return specs


def _sweep_rows(report: Report, codes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for policy in report.policies:
        threshold = (
            policy.policy.config.per_code[parse_code(codes[0])]
            if codes
            else policy.policy.config.default
        )
        assert threshold is not None
        daily: dict[str, list[int]] = {}
        for row in policy.by_recipient:
            daily.setdefault(row.key, []).append(row.received)
        busiest = max(((max(v), k) for k, v in daily.items()), default=(0, "-"))
        t = policy.totals
        rows.append(
            {
                "limit": threshold.limit,
                "period": threshold.period,
                "resume_below": threshold.resume_below,
                "suppression_pct": t.suppression,
                "delivered": t.delivered,
                "throttled": t.throttled,
                "episodes": t.episodes,
                "incidents": policy.notifications.incidents,
                "digest_emails": policy.notifications.recipient_daily_emails,
                "busiest_recipient": busiest[1],
                "busiest_recipient_daily": busiest[0],
                "recipient_daily": {k: round(sum(v) / len(v)) for k, v in sorted(daily.items())},
            }
        )
    return rows


def _run_sweep(args: argparse.Namespace, out: IO[str]) -> int:
    specs = _grid(args)
    report = _replay(args, specs, sys.stderr)
    rows = _sweep_rows(report, args.code or [])
    if args.json:
        codes = [format_code(parse_code(c)) for c in args.code or []]
        data = {
            "source": report.source,
            "alerts": report.alerts,
            "skipped": report.skipped,
            "codes": codes,
            "grid": rows,
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    columns = ("limit", "period", "resume_below", "suppression_pct", "delivered", "throttled",
               "episodes", "incidents", "digest_emails", "busiest_recipient",
               "busiest_recipient_daily")  # fmt: skip
    if args.csv:
        write_csv(out, columns, ([row[c] for c in columns] for row in rows))
        return 0
    target = ", ".join(args.code) if args.code else "every code (one global threshold)"
    table = Table(
        f"Sweep over {target}",
        ("limit", "period", "resume below", "suppressed", "delivered", "held back", "episodes",
         "digests", "busiest recipient/day"),
        tuple(
            (str(r["limit"]), f"{r['period']:g}s", str(r["resume_below"]),
             f"{r['suppression_pct']:.1f}%", f"{r['delivered']:,}", f"{r['throttled']:,}",
             f"{r['episodes']:,}", f"{r['digest_emails']:,}",
             f"{r['busiest_recipient_daily']:,} ({r['busiest_recipient']})")
            for r in rows
        ),
        labels=0,
        caption=f"{report.source}: {report.alerts:,} alerts; episodes = incidents and e-mails "
        "under per-episode notification; digests = one e-mail per recipient per day",
    )  # fmt: skip
    render_tables([table], out, use_rich=_rich(args))
    return 0


# -- check-policy ------------------------------------------------------------------------


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="FILE", help="policy TOML file (or a built-in name)")
    _add_output_arguments(parser, None)


def _run_check(args: argparse.Namespace, out: IO[str]) -> int:
    spec = _policy(args.policy)
    _warn_empty([spec], sys.stderr)
    if args.json:
        out.write(json.dumps(spec.as_dict(), indent=2) + "\n")
    else:
        out.write(spec.to_toml())
        for code, threshold in spec.config.per_code.items():
            out.write(f"# {format_code(code)}: throttled when {describe_threshold(threshold)}\n")
        out.write(f"# other codes: {describe_threshold(spec.config.default)}\n")
        if spec.capacity is not None:
            out.write(f"# capacity: {describe_capacity(spec)}\n")
    return 0


# -- report ------------------------------------------------------------------------------


def _configure_report(parser: argparse.ArgumentParser) -> None:
    _add_traffic_arguments(parser, busiest=False)
    parser.add_argument(
        "--policy",
        default=DEFAULT_POLICY,
        metavar="FILE",
        help=f"policy TOML file or built-in name (default {DEFAULT_POLICY})",
    )
    _add_devices_argument(parser)
    _add_output_arguments(parser, "write one row per code and make as CSV")
    parser.add_argument(
        "--top", type=_non_negative, default=10, metavar="N",
        help="makes shown per alert code in the table (default 10; 0: all)",
    )  # fmt: skip


def _root_cause_tables(report: RootCauseReport, top: int, source: str) -> list[Table]:
    totals = Table(
        "Root-cause report",
        ("", ""),
        (
            ("source", source),
            ("alerts", f"{report.alerts:,}"),
            ("devices", f"{report.devices:,}"),
            ("throttled (held back)", f"{report.throttled:,}"),
            ("episodes", f"{report.episodes:,}"),
        ),
        labels=2,
    )
    tables = [totals]
    for code in report.codes():
        rows = report.for_code(code)
        shown = rows[:top] if top > 0 else rows
        caption = "ranked by alerts held back, then episodes, then devices affected"
        if len(rows) > len(shown):
            caption += f"; {len(rows) - len(shown):,} more makes (--top 0 shows all)"
        tables.append(
            Table(
                f"{format_code(code)}: {sum(r.throttled for r in rows):,} held back, "
                f"{sum(r.episodes for r in rows):,} episodes, {sum(r.alerts for r in rows):,} "
                "alerts",
                ("rank", "manufacturer", "model", "firmware", "held back", "share",
                 "episodes", "devices affected", "devices", "alerts"),
                tuple(
                    (str(r.rank), r.manufacturer or "?", r.model or "?", r.firmware or "?",
                     f"{r.throttled:,}", f"{100 * r.throttled_share:.1f}%", f"{r.episodes:,}",
                     f"{r.devices_affected:,}", f"{r.devices:,}", f"{r.alerts:,}")
                    for r in shown
                ),
                labels=4,
                caption=caption,
            )
        )  # fmt: skip
    return tables


def _run_report(args: argparse.Namespace, out: IO[str]) -> int:
    if not args.traffic and not args.scenario:
        raise UsageError("report needs TRAFFIC files or --scenario NAME")
    spec = _policy(args.policy)
    _warn_empty([spec], sys.stderr)
    traffic = _Traffic(args)
    registry = _registry(args)
    with progress_reporter(sys.stderr, **_progress_source(traffic)) as progress:
        records = _counted(traffic.records(_reject_policy([spec])), progress)
        report = root_cause_report(records, spec.build(), registry)
    # Alerts a late="reject" policy refused were skipped and counted, not replayed late.
    ordered = args.sort or args.reorder_window is not None or traffic.late_skipped
    if not ordered and len(traffic.readers) == 1:
        _warn_order(traffic.readers[0].out_of_order, report.alerts, sys.stderr)
    if args.json:
        data = json.loads(root_cause_json(report))
        data = {"source": traffic.description, "skipped": traffic.skipped,
                "skipped_rows": [str(row) for row in traffic.skipped_rows], **data}  # fmt: skip
        out.write(json.dumps(data, indent=2) + "\n")
    elif args.csv:
        out.write(root_cause_csv(report))
    else:
        tables = _root_cause_tables(report, args.top, traffic.description)
        if traffic.skipped_rows:
            rows = tuple((str(row),) for row in traffic.skipped_rows)
            tables.append(Table(f"Skipped rows ({traffic.skipped:,})", ("row",), rows))
        render_tables(tables, out, use_rich=_rich(args))
    return 0


COMMANDS: list[Command] = [
    Command(
        "simulate",
        "replay traffic through one or more policies and report what they do",
        _configure_simulate,
        _run_simulate,
    ),
    Command("generate", "write seeded synthetic traffic", _configure_generate, _run_generate),
    Command("sweep", "replay traffic under a grid of thresholds", _configure_sweep, _run_sweep),
    Command(
        "check-policy",
        "validate a policy file and print it normalised",
        _configure_check,
        _run_check,
    ),
    Command(
        "report",
        "rank the device makes behind the storms, per alert code (root causes)",
        _configure_report,
        _run_report,
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="alertthrottle",
        description="Model what alert throttling would do to GB smart-metering alert traffic.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_output_arguments(parser, "write CSV (see each command)", default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


#: Commands that can write CSV (``--csv`` before another command is a usage error).
_CSV_COMMANDS = ("simulate", "sweep", "report")
#: Commands that can write JSON (generate writes traffic: its format is --format).
_JSON_COMMANDS = ("simulate", "sweep", "report", "check-policy")


class _TerminalCsv(io.TextIOBase):
    """CSV on its way to a terminal: control characters in cells shown as ``\\xNN``.

    A recipient or make read from a file may hold an escape sequence; written
    to a file or a pipe the CSV keeps it (it is data), but a terminal would run
    it. Rows end in a plain newline there (CSV's CR would show as ``\\x0d``).
    """

    def __init__(self, out: IO[str]) -> None:
        super().__init__()
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(terminal_safe(text.replace("\r\n", "\n")))
        return len(text)

    def flush(self) -> None:
        self._out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (130 when interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        out = sys.stdout
        try:
            if args.csv and args.command not in _CSV_COMMANDS:
                raise UsageError(f"{args.command} has no --csv output")
            if args.csv and args.json:
                raise UsageError("--json and --csv cannot be combined: choose one")
            if args.json and args.command not in _JSON_COMMANDS:
                raise UsageError(f"{args.command} has no --json output")
            if args.csv and out.isatty():
                out = _TerminalCsv(out)
            status: int = args.run(args, out)
            out.flush()
        except UsageError as exc:
            parser.error(str(exc))
        except BrokenPipeError:
            # The reader left (| head): stop quietly, and let no later flush fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (InputError, AlertThrottleError, OSError, ImportError) as exc:
            print(f"alertthrottle: error: {terminal_safe(str(exc))}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("alertthrottle: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    raise SystemExit(main())
