"""Showing a :class:`Report`: terminal tables, JSON, CSV and an hourly plot.

Reports become plain :class:`Table` values first; those are drawn with
``rich`` when it is installed (the ``cli`` extra) and as aligned plain text
otherwise, so the numbers never depend on the renderer. ``matplotlib`` (the
``plot`` extra) is imported only when a plot is asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

import attrs

from .._core.alert import format_code
from .._core.config import PolicyConfig, Threshold
from .._core.text import terminal_safe, write_csv
from .._core.timefmt import seconds_text
from .._io.policyfile import PolicySpec
from .._replay.report import FlowRow, Report

__all__ = [
    "Table",
    "check_plot",
    "describe_capacity",
    "describe_threshold",
    "hourly_figure",
    "progress_reporter",
    "render_tables",
    "report_csv",
    "report_json",
    "report_tables",
    "terminal_columns",
    "write_plot",
]


@attrs.frozen(slots=True)
class Table:
    """A titled table of text cells; the first ``labels`` columns are left-aligned labels."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    labels: int = 1
    caption: str = ""


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def describe_threshold(threshold: Threshold | None) -> str:
    """A threshold in one short phrase: ``>10 in 3600s, resume <3, 1 per 3600s``."""
    if threshold is None:
        return "none"
    text = f">{threshold.limit} in {threshold.period:g}s"
    if threshold.resume_below != threshold.limit:
        text += f", resume <{threshold.resume_below}"
    if threshold.sample_every is not None:
        text += f", 1 in {threshold.sample_every}"
    if threshold.sample_interval is not None:
        text += f", 1 per {threshold.sample_interval:g}s"
    return text


def describe_capacity(spec: PolicySpec) -> str:
    """A policy's capacity guard in one phrase: ``AMBER >=5000 in 60s (left <4000), ...``."""
    capacity = spec.capacity
    if capacity is None:
        return "none"

    def level(name: str, enter: int, clear: int) -> str:
        text = f"{name} >={enter}"
        return text + (f" (left <{clear})" if clear != enter else "")

    return (
        f"{level('AMBER', capacity.amber, capacity.amber_clear)}, "
        f"{level('RED', capacity.red, capacity.red_clear)} alerts in {capacity.period:g}s; "
        f"throttling engaged at {spec.engage_at}"
    )


def _when(t: float | None) -> str:
    return "-" if t is None else seconds_text(t)


def _policy_row(name: str, config: PolicyConfig, late: str) -> tuple[str, ...]:
    per_code = "; ".join(
        f"{format_code(code)} {describe_threshold(threshold)}"
        for code, threshold in config.per_code.items()
    )
    exempt = " ".join(format_code(code) for code in sorted(config.exempt_codes))
    return (name, describe_threshold(config.default), per_code or "-", exempt or "-", late)


def _policies_table(report: Report) -> Table:
    rows = [_policy_row(p.name, p.policy.config, p.policy.late) for p in report.policies]
    if report.shadow is not None:
        # Candidates run with the live policy's late mode (Replay refuses any other).
        late = report.policies[0].policy.late
        rows += [
            _policy_row(f"shadow: {tally.name}", tally.config, late)
            for tally in report.shadow.candidates
        ]
    return Table(
        "Policies",
        ("policy", "default threshold", "per code", "exempt", "late"),
        tuple(rows),
        labels=5,
    )


def _totals_table(report: Report) -> Table:
    names = tuple(p.name for p in report.policies)
    t = [p.totals for p in report.policies]
    rows = [
        ("alerts offered", *(_n(x.alerts) for x in t)),
        ("delivered", *(_n(x.delivered) for x in t)),
        ("throttled (held back)", *(_n(x.throttled) for x in t)),
        ("exempt (delivered)", *(_n(x.exempt) for x in t)),
        ("suppressed", *(_pct(x.suppression) for x in t)),
        ("late (clamped)", *(_n(x.late) for x in t)),
        ("skipped rows", *(_n(x.skipped) for x in t)),
        ("episodes started", *(_n(x.episodes) for x in t)),
        ("episodes open at the end", *(_n(x.open_episodes) for x in t)),
    ]
    return Table("Totals", ("", *names), tuple(rows))


def _traffic_table(report: Report) -> Table:
    rows = (
        ("source", report.source),
        ("alerts", _n(report.alerts)),
        ("first", "-" if report.first is None else f"{_when(report.first)} UTC"),
        ("last", "-" if report.last is None else f"{_when(report.last)} UTC"),
    )
    return Table("Traffic replayed", ("", ""), rows, labels=2)


def _shadow_table(report: Report) -> Table | None:
    comparison = report.shadow
    if comparison is None:
        return None
    live_name = report.policies[0].name
    rows = []
    for tally in (comparison.live, *comparison.candidates):
        is_live = tally is comparison.live
        rows.append(
            (
                f"live ({live_name})" if is_live else tally.name,
                _n(tally.delivered),
                _n(tally.throttled),
                _n(tally.exempt),
                _n(tally.episodes),
                _n(tally.notifications),
                "-" if is_live else _n(tally.different),
                "-" if is_live else _n(tally.delivered_instead),
                "-" if is_live else _n(tally.throttled_instead),
            )
        )
    caption = (
        "what each candidate would have done to the same alerts; notifications = episode starts "
        "and ends; different = alerts with another verdict than live, of which delivered instead "
        "(live held them back) and throttled instead (live let them through)"
    )
    return Table(
        "Shadow comparison",
        ("policy", "delivered", "throttled", "exempt", "episodes", "notifications", "different",
         "delivered instead", "throttled instead"),
        tuple(rows),
        caption=caption,
    )  # fmt: skip


def _notifications_table(report: Report) -> Table:
    names = tuple(p.name for p in report.policies)
    n = [p.notifications for p in report.policies]
    rows = [
        ("incidents (1 per episode)", *(_n(x.incidents) for x in n)),
        ("e-mails (1 per episode)", *(_n(x.emails) for x in n)),
        ("e-mails (1 per device, recipient, day)", *(_n(x.device_daily_emails) for x in n)),
        ("e-mails (1 digest per recipient, day)", *(_n(x.recipient_daily_emails) for x in n)),
    ]
    return Table("What notifying would cost", ("", *names), tuple(rows))


def _peak_table(report: Report) -> Table:
    rows = []
    first = report.policies[0]
    peak = first.peak_offered
    if peak is not None:
        rows.append(("offered", peak.label, _n(peak.offered)))
    for policy in report.policies:
        top = policy.peak_received
        if top is not None:
            rows.append((f"received ({policy.name})", top.label, _n(top.received)))
            if peak is not None:
                at_peak = next(h for h in policy.hourly if h.hour == peak.hour)
                rows.append(
                    (f"received at the offered peak ({policy.name})", peak.label,
                     _n(at_peak.received))
                )  # fmt: skip
    return Table("Peak hour (UTC)", ("", "hour", "alerts"), tuple(rows), labels=2)


def _flow_table(title: str, label: str, report: Report, pick: str) -> Table:
    policies = report.policies
    tables: list[tuple[FlowRow, ...]] = [getattr(p, pick) for p in policies]
    columns = [label, "day", "offered"]
    for p in policies:
        prefix = f"{p.name}: " if len(policies) > 1 else ""
        columns += [
            f"{prefix}received", f"{prefix}held back", f"{prefix}suppr.", f"{prefix}episodes"
        ]  # fmt: skip
    rows = []
    for i, row in enumerate(tables[0]):
        cells = [row.key, row.day, _n(row.offered)]
        for table in tables:
            other = table[i]
            cells += [
                _n(other.received),
                _n(other.throttled),
                _pct(other.suppression),
                _n(other.episodes),
            ]
        rows.append(tuple(cells))
    caption = "received = delivered + exempt: what reached the recipients"
    return Table(title, tuple(columns), tuple(rows), labels=2, caption=caption)


def _busiest_table(report: Report) -> Table:
    policies = report.policies
    columns = ["device", "make", "offered"]
    for p in policies:
        prefix = f"{p.name}: " if len(policies) > 1 else ""
        columns += [f"{prefix}held back", f"{prefix}suppr.", f"{prefix}episodes"]
    rows = []
    for i, row in enumerate(policies[0].busiest):
        info = row.info
        make = (
            " ".join(x for x in (info.manufacturer, info.model, info.firmware) if x)
            if info
            else "-"
        )
        cells = [row.device_id, make or "-", _n(row.offered)]
        for p in policies:
            other = p.busiest[i]
            cells += [_n(other.throttled), _pct(other.suppression), _n(other.episodes)]
        rows.append(tuple(cells))
    return Table("Busiest devices", tuple(columns), tuple(rows), labels=2)


def _makes_table(report: Report) -> Table | None:
    policies = report.policies
    if not policies[0].by_make:
        return None
    columns = ["manufacturer", "model", "firmware", "devices", "offered"]
    for p in policies:
        prefix = f"{p.name}: " if len(policies) > 1 else ""
        columns += [f"{prefix}storming", f"{prefix}held back", f"{prefix}episodes"]
    lookup = [{(m.manufacturer, m.model, m.firmware): m for m in p.by_make} for p in policies]
    rows = []
    for make in policies[0].by_make:
        key = (make.manufacturer, make.model, make.firmware)
        cells = [key[0] or "?", key[1] or "?", key[2] or "?", _n(make.devices), _n(make.offered)]
        for table in lookup:
            other = table[key]
            cells += [_n(other.storming), _n(other.throttled), _n(other.episodes)]
        rows.append(tuple(cells))
    caption = "storming = devices with at least one throttling episode: where the root cause is"
    return Table("By device make", tuple(columns), tuple(rows), labels=3, caption=caption)


#: Recipients shown in the incidents table (all of them are in ``--json``).
INCIDENT_RECIPIENTS_SHOWN = 25


def _incidents_table(report: Report) -> Table | None:
    """Incidents per recipient under each strategy, side by side for every policy."""
    policies = [p for p in report.policies if p.incidents]
    if not policies:
        return None
    columns = ["recipient"]
    counts: list[dict[str, int]] = []
    totals: list[str] = []
    for p in policies:
        prefix = f"{p.name}: " if len(report.policies) > 1 else ""
        for row in p.incidents:
            columns.append(f"{prefix}{row.strategy}")
            counts.append(dict(row.per_recipient))
            totals.append(_n(row.incidents))
    recipients: dict[str, int] = {}
    for table in counts:
        for recipient, n in table.items():
            recipients[recipient] = max(recipients.get(recipient, 0), n)
    ordered = sorted(recipients, key=lambda r: (-recipients[r], r))
    rows = [("incidents in all", *totals)]
    for recipient in ordered[:INCIDENT_RECIPIENTS_SHOWN]:
        rows.append((recipient, *(_n(table.get(recipient, 0)) for table in counts)))
    caption = (
        "per-episode = one incident per throttling episode (the DCC design); per-device-day = "
        "one per device and UTC day; per-problem = one per make and alert code"
    )
    hidden = len(ordered) - INCIDENT_RECIPIENTS_SHOWN
    if hidden > 0:
        caption += f"; {hidden:,} more recipients in --json"
    return Table("Incidents per recipient", tuple(columns), tuple(rows), caption=caption)


def _capacity_table(report: Report) -> Table | None:
    """Level changes and time at AMBER / RED, for the policies with a capacity guard."""
    guarded = [p for p in report.policies if p.capacity is not None]
    if not guarded:
        return None
    rows = []
    for p in guarded:
        c = p.capacity
        assert c is not None
        rows.append(
            (p.name, describe_capacity(p.policy), _n(c.level_changes), _n(c.red_entries),
             _duration(c.seconds_amber), _duration(c.seconds_red), c.final_level.name,
             _n(c.peak_window))
        )  # fmt: skip
    return Table(
        "System capacity",
        ("policy", "guard", "level changes", "to RED", "at AMBER", "at RED", "at the end",
         "peak window"),
        tuple(rows),
        labels=2,
        caption="times from the first to the last alert; peak window = the largest window "
        "count a level change reported",
    )  # fmt: skip


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def report_tables(report: Report) -> list[Table]:
    """Every table of a report, in reading order (empty sections left out)."""
    tables = [_traffic_table(report), _policies_table(report), _totals_table(report)]
    shadow = _shadow_table(report)
    if shadow is not None:
        tables.append(shadow)
    if report.alerts:
        tables += [
            _notifications_table(report),
            _peak_table(report),
            _flow_table("Per alert code and day", "code", report, "by_code"),
            _flow_table("Per recipient and day", "recipient", report, "by_recipient"),
            _busiest_table(report),
        ]
        makes = _makes_table(report)
        if makes is not None:
            tables.append(makes)
        for extra in (_incidents_table(report), _capacity_table(report)):
            if extra is not None:
                tables.append(extra)
    if report.skipped_rows:
        rows = tuple((str(row),) for row in report.skipped_rows)
        more = report.skipped - len(report.skipped_rows)
        caption = f"and {more:,} more" if more else ""
        tables.append(Table(f"Skipped rows ({report.skipped:,})", ("row",), rows, caption=caption))
    return tables


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def render_tables(
    tables: Sequence[Table],
    out: IO[str],
    *,
    use_rich: bool | None = None,
    width: int | None = None,
) -> None:
    """Draw ``tables`` on ``out``: with rich if installed (or ``use_rich``), else plain text.

    ``width`` is the terminal's (default: ``COLUMNS`` if set, else the
    terminal's own, else 160 columns for rich and no limit for plain text). A
    table wider than that is stacked (one block per row, one line per value),
    so no id or number is ever cut.
    Markup and control characters in cells are shown, never obeyed.
    """
    if use_rich is None:
        use_rich = _rich_available()
    if width is None:
        width = terminal_columns(out)
    safe = [_safe(table) for table in tables]
    if use_rich:
        _render_rich(safe, out, width or 160)
    else:
        _render_plain(safe, out, width)


def terminal_columns(out: IO[str]) -> int | None:
    """The width asked for: ``COLUMNS`` if set (a pipe too), else a terminal's own, else None."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if hasattr(out, "isatty") and out.isatty():
        return shutil.get_terminal_size().columns
    return None


def _safe(table: Table) -> Table:
    """``table`` with terminal control characters shown as escapes."""
    return Table(
        terminal_safe(table.title),
        tuple(terminal_safe(column) for column in table.columns),
        tuple(tuple(terminal_safe(cell) for cell in row) for row in table.rows),
        table.labels,
        terminal_safe(table.caption),
    )


def _widths(table: Table) -> list[int]:
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return widths


def _natural_width(table: Table, *, border: int) -> int:
    """The width of ``table`` with no cell cut: the cells, plus ``border`` per column."""
    return sum(_widths(table)) + border * len(table.columns)


def _stacked(table: Table, width: int | None = None) -> Iterator[str]:
    """``table`` as lines: each row's labels, then one ``column: value`` line per cell.

    The labels head the block on one line when they fit the width, else the
    first does and the others get lines of their own; label columns without
    names (a key and its value) give ``key: value`` lines. Lines are folded at
    spaces to ``width``, never inside a word, so ids and numbers stay whole.
    """
    labels = max(1, table.labels)
    yield table.title
    keyed = not any(table.columns[:labels])
    for row in table.rows:
        if keyed:
            head = ": ".join(row[:labels])
            rest = zip(table.columns[labels:], row[labels:], strict=True)
        else:
            pairs = zip(table.columns[:labels], row[:labels], strict=True)
            named = [f"{column} {cell}" if column else cell for column, cell in pairs]
            # All the labels on the block's first line when they fit, else the first alone.
            shown = labels if width is None or len(", ".join(named)) + 2 <= width else 1
            head = ", ".join(named[:shown])
            rest = zip(table.columns[shown:], row[shown:], strict=True)
        yield from _folded(head, "  ", width)
        for column, cell in rest:
            yield from _folded(f"{column}: {cell}" if column else cell, "    ", width)
    if table.caption:
        yield from _folded(f"({table.caption})", "", width)
    yield ""


def _folded(text: str, indent: str, width: int | None) -> list[str]:
    """``text`` after ``indent``, folded at spaces to ``width`` (none: one line)."""
    if width is None:
        return [indent + text]
    lines = textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent + "  ",
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip
    return lines or [indent + text]


def _render_rich(tables: Sequence[Table], out: IO[str], width: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable
    from rich.text import Text

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits with status 1 here; the command's own handler exits 0.
            self.quiet = True
            raise BrokenPipeError

    console = _Console(file=out, width=width, soft_wrap=False, highlight=False)
    for table in tables:
        rich_table = RichTable(
            title=escape(table.title),
            caption=escape(table.caption) if table.caption else None,
            title_justify="left",
            show_header=any(table.columns),
        )
        for i, column in enumerate(table.columns):
            rich_table.add_column(
                Text(column), justify="left" if i < table.labels else "right", no_wrap=True
            )
        for row in table.rows:
            rich_table.add_row(*(Text(cell) for cell in row))
        if _natural_width(table, border=3) + 1 <= width:
            console.print(rich_table)
        else:
            for line in _stacked(table, width):
                console.print(Text(line), soft_wrap=True)


def _render_plain(tables: Sequence[Table], out: IO[str], width: int | None) -> None:
    for table in tables:
        widths = _widths(table)
        if width is not None and _natural_width(table, border=2) - 2 > width:
            out.writelines(line + "\n" for line in _stacked(table, width))
            continue

        def line(
            cells: Sequence[str], widths: list[int] = widths, labels: int = table.labels
        ) -> str:
            return "  ".join(
                cell.ljust(w) if i < labels else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        out.write(f"{table.title}\n")
        if any(table.columns):
            out.write(line(table.columns) + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for row in table.rows:
            out.write(line(row) + "\n")
        if table.caption:
            out.writelines(text + "\n" for text in _folded(f"({table.caption})", "", width))
        out.write("\n")


def report_json(report: Report) -> str:
    """The report as one JSON object (``policies[i].totals``, all the tables, ``shadow``)."""
    return json.dumps(report.as_dict(), indent=2)


def report_csv(report: Report, out: IO[str]) -> None:
    """The per-code table as CSV, one row per policy, code and day (spreadsheet-safe cells)."""
    header = ("policy", "code", "day", "offered", "delivered", "exempt", "throttled",
              "suppression_pct", "episodes")  # fmt: skip
    rows = (
        (policy.name, row.key, row.day, row.offered, row.delivered, row.exempt, row.throttled,
         row.suppression, row.episodes)
        for policy in report.policies
        for row in policy.by_code
    )  # fmt: skip
    write_csv(out, header, rows)


#: Line styles of the plot's series: offered, then one per policy, told apart in grey too.
_STYLES = (("-", ""), ("--", "o"), ("-.", "s"), (":", "^"), ((0, (5, 1)), "D"), ((0, (1, 3)), "v"))


def check_plot(path: str | os.PathLike[str]) -> None:
    """Refuse a plot that could not be written, before a long replay: no matplotlib, no place.

    Raises ``ImportError`` (matplotlib missing) or ``OSError`` (the folder
    does not exist or cannot be written, or the path is a folder).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "alertthrottle[plot]"') from exc
    name = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(name))
    if os.path.isdir(name):
        raise IsADirectoryError(f"{name}: is a folder, not a PNG file")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{name}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(name) and not os.access(name, os.W_OK)):
        raise PermissionError(f"{name}: cannot be written")


def hourly_figure(report: Report) -> Any:
    """The matplotlib ``Figure`` of alerts offered and received per hour, one line per policy.

    Built on its own Agg canvas: pyplot and the process's backend are left alone.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "alertthrottle[plot]"') from exc

    figure = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    first = report.policies[0]
    hours: Any = [datetime.fromtimestamp(row.hour, UTC) for row in first.hourly]
    series = [("offered", [row.offered for row in first.hourly])]
    series += [
        (f"received ({p.name})", [row.received for row in p.hourly]) for p in report.policies
    ]
    for i, (label, values) in enumerate(series):
        style, marker = _STYLES[i % len(_STYLES)]
        axes.plot(
            hours, values, label=label, linestyle=style, marker=marker or None,
            markevery=max(1, len(hours) // 12), color="black" if i == 0 else None,
        )  # fmt: skip
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.set_ylabel("alerts per hour")
    axes.set_xlabel(f"hour (UTC); {textwrap.shorten(report.source, 100)}")
    axes.set_title("Alerts offered and received per hour")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def write_plot(report: Report, path: str | os.PathLike[str]) -> None:
    """A PNG of alerts offered and received per hour (:func:`hourly_figure`) at ``path``.

    Needs matplotlib (``pip install "alertthrottle[plot]"``); raises
    ``ImportError`` saying so when it is missing.
    """
    hourly_figure(report).savefig(os.fspath(path), format="png")


@contextmanager
def progress_reporter(
    out: IO[str],
    *,
    label: str = "replaying",
    total: int | None = None,
    position: Callable[[], int] | None = None,
) -> Iterator[Callable[[int], None] | None]:
    """A callback that shows a live alert count on ``out`` (a terminal, with rich), else None.

    With ``total`` (the input's size in bytes) and ``position`` (bytes read
    so far; compressed bytes for gzip) it also shows a percentage and the
    time left.
    """
    if not (hasattr(out, "isatty") and out.isatty()) or not _rich_available():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    sized = total is not None and position is not None
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if sized:
        columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    columns += [TextColumn("{task.fields[alerts]:,} alerts"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(file=out), transient=True) as progress:
        task = progress.add_task(label, total=total if sized else None, alerts=0)

        def update(count: int) -> None:
            done = position() if sized and position is not None else None
            progress.update(task, completed=done, alerts=count)

        yield update
