"""Tables that never cut an id or a number, at 80 and 160 columns, rich or plain; plots."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from alertthrottle import builtin_policy, generate_scenario
from alertthrottle._replay.replay import Replay
from alertthrottle.cli.render import Table, render_tables, report_tables, write_plot

DEV = "00-0D-6F-00-0A-BC-12-34"


def two_policy_report() -> object:
    traffic = generate_scenario(
        "power-factor-storm", seed=3, devices=400, storm_devices=40, alerts=20_000
    )
    replay = Replay([builtin_policy("dcc-like"), builtin_policy("proposed")])
    replay.run(traffic)
    return replay.report(source=traffic.description, devices=traffic.devices)


@pytest.fixture(scope="module")
def report() -> object:
    return two_policy_report()


def cells_of(tables: list[Table]) -> set[str]:
    return {cell for table in tables for row in table.rows for cell in row if cell}


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("use_rich", [True, False])
def test_every_cell_is_shown_whole_and_lines_fit(
    report: object, width: int, use_rich: bool
) -> None:
    tables = report_tables(report)  # type: ignore[arg-type]
    out = io.StringIO()
    render_tables(tables, out, use_rich=use_rich, width=width)
    text = out.getvalue()
    lines = text.splitlines()
    # Every id and number appears whole on one line.
    for cell in cells_of(tables):
        if re.fullmatch(r"[0-9A-F]{2}(-[0-9A-F]{2}){7}|[\d,.]+%?", cell):
            assert any(cell in line for line in lines), (width, cell)
    assert "…" not in text
    # Table lines fit; a line wider than the terminal is only a long label or caption.
    for line in lines:
        if len(line) > width:
            assert not re.search(r"[│┃]", line), line


def test_narrow_terminals_stack_wide_tables(report: object) -> None:
    out = io.StringIO()
    render_tables(report_tables(report), out, use_rich=False, width=80)  # type: ignore[arg-type]
    text = out.getvalue()
    assert "Busiest devices" in text
    assert re.search(r"^  device 00-0D-6F-[0-9A-F-]{14}", text, flags=re.M)
    assert re.search(r"^    dcc-like: held back: [\d,]+$", text, flags=re.M)
    wide = io.StringIO()
    render_tables(report_tables(report), wide, use_rich=False, width=400)  # type: ignore[arg-type]
    assert "    dcc-like: held back:" not in wide.getvalue()


def test_markup_and_control_characters_are_shown_not_obeyed() -> None:
    rows = (("[/x] [bold]ops", "1"), ("bell\x07\x1b[31mred", "2"))
    table = Table("Recipients", ("recipient", "alerts"), rows)
    for use_rich in (True, False):
        out = io.StringIO()
        render_tables([table], out, use_rich=use_rich, width=80)
        text = out.getvalue()
        assert "[/x] [bold]ops" in text
        assert "\x1b" not in text and "\x07" not in text and "\\x1b[31mred" in text


def test_plot_does_not_switch_the_process_backend(report: object, tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    path = tmp_path / "p.png"
    write_plot(report, path)  # type: ignore[arg-type]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == before
    assert "matplotlib.pyplot" not in sys.modules or matplotlib.get_backend() == before


def test_plot_styles_and_labels(report: object, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from alertthrottle.cli import render

    figure = render.hourly_figure(report)  # type: ignore[arg-type]
    axes = figure.axes[0]
    styles = {(line.get_linestyle(), line.get_marker()) for line in axes.get_lines()}
    assert len(styles) == len(axes.get_lines()) == 3
    assert len(axes.get_title()) <= 60
    formatter = axes.yaxis.get_major_formatter()
    assert formatter(12345, 0) == "12,345"


@pytest.mark.parametrize("use_rich", [True, False])
def test_stacked_tables_fold_to_the_terminal_without_splitting_ids_or_numbers(
    report: object, use_rich: bool
) -> None:
    tables = report_tables(report)  # type: ignore[arg-type]
    out = io.StringIO()
    render_tables(tables, out, use_rich=use_rich, width=80)
    lines = out.getvalue().splitlines()
    # Stacked blocks wrap at spaces: every line fits, and ids and numbers stay whole.
    assert all(len(line) <= 80 for line in lines if not re.search(r"[│┃]", line)), [
        line for line in lines if len(line) > 80
    ]
    for cell in cells_of(tables):
        for word in cell.split():
            if re.fullmatch(r"[0-9A-F]{2}(-[0-9A-F]{2}){7}|[\d,.]+%?s?", word):
                assert any(word in line.split() or word in line for line in lines), word
    text = "\n".join(lines)
    assert re.search(r"^  policy proposed$", text, flags=re.M)
    assert re.search(r"^    late: clamp$", text, flags=re.M)
    assert re.search(r"^  source: power-factor-storm", text, flags=re.M)


@pytest.mark.parametrize("use_rich", [True, False])
def test_columns_is_honoured_off_a_terminal(
    report: object, use_rich: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    render_tables(report_tables(report), out, use_rich=use_rich)  # type: ignore[arg-type]
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80
    monkeypatch.setenv("COLUMNS", "junk")
    render_tables(report_tables(report), io.StringIO(), use_rich=use_rich)  # type: ignore[arg-type]


@pytest.mark.parametrize("use_rich", [True, False])
def test_a_long_caption_folds_to_the_width_under_a_table_that_fits(use_rich: bool) -> None:
    caption = "per-episode = one incident per throttling episode (the DCC design); " * 3
    table = Table("Incidents", ("scheme", "incidents"), (("per-episode", "12"),), caption=caption)
    out = io.StringIO()
    render_tables([table], out, use_rich=use_rich, width=80)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    assert " ".join(" ".join(lines).split()).count("(the DCC design)") == 3
