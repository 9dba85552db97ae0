"""Spreadsheet-safe CSV cells and terminal-safe text (alertthrottle._core.text)."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle._core.text import spreadsheet_safe, terminal_safe, write_csv


def test_formula_cells_are_neutralised() -> None:
    for cell in ["=HYPERLINK(\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]:
        assert spreadsheet_safe(cell) == "'" + cell


def test_numbers_and_plain_text_pass_unchanged() -> None:
    assert spreadsheet_safe(-3) == -3
    assert spreadsheet_safe(2.5) == 2.5
    assert spreadsheet_safe("Acme Meters") == "Acme Meters"
    assert spreadsheet_safe(None) == ""


@given(st.lists(st.lists(st.text(), min_size=3, max_size=3), max_size=5))
def test_write_csv_keeps_columns_whatever_the_cells(rows: list[list[str]]) -> None:
    out = io.StringIO()
    write_csv(out, ["a", "b", "c"], rows)
    read = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert read[0] == ["a", "b", "c"]
    assert len(read) == len(rows) + 1
    for written, original in zip(read[1:], rows, strict=True):
        assert written == [str(spreadsheet_safe(cell)) for cell in original]


def test_terminal_safe_escapes_controls_but_keeps_layout() -> None:
    assert terminal_safe("a\x1b[31mred\x07\rb") == "a\\x1b[31mred\\x07\\x0db"
    assert terminal_safe("tab\tline\n") == "tab\tline\n"


@given(st.text())
def test_terminal_safe_leaves_no_control_character(text: str) -> None:
    assert all(ch in "\t\n" or ch.isprintable() or ord(ch) > 0x9F for ch in terminal_safe(text))
