"""How a traffic reader words a bad row or a bad file, and the skipped rows it keeps.

Every format's reader (and :func:`~.trafficwrite.write_traffic`, which refuses a format)
says ``file:line: field: problem, got value`` with the value as the file has it, so the
messages read alike whichever format a row came from.
"""

from __future__ import annotations

import attrs

from .._core.errors import TrafficError, shown

__all__ = ["SkippedRow", "cell_shown", "file_error", "row_error"]


@attrs.frozen(slots=True)
class SkippedRow:
    """A row left out of a replay with ``on_error="skip"``, and why."""

    source: str
    line: int
    field: str
    problem: str
    value: str
    """The offending value as the file has it (shortened to 60 characters)."""
    last_line: int = 0
    """The record's last line when it ran over several (a stray quote joins the lines up to
    the next quote into one record), else 0."""

    def __str__(self) -> str:
        where = _where(self.source, self.line, self.last_line)
        return f"{where}: {self.field}: {self.problem}, got {self.value}"


def cell_shown(value: object) -> str:
    """A value as an error shows it: a cell's text in quotes, anything else as Python has it."""
    if isinstance(value, str):
        # Bytes that are not UTF-8 (read with surrogateescape) are shown as \xNN.
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if not value.strip():
            return "an empty cell" if not value else f'"{value}"'
        text = value.rstrip("\r\n")
        return f'"{text}"' if len(text) <= 60 else f'"{text[:57]}..."'
    text = shown(value)  # never raises, even for a huge int or a broken repr
    return text if len(text) <= 60 else text[:57] + "..."


def _where(source: str, line: int, last_line: int = 0) -> str:
    """``file:line``, ``file:first-last`` for a record over several lines, ``file`` for none."""
    if not line:
        return source
    return f"{source}:{line}-{last_line}" if last_line > line else f"{source}:{line}"


def row_error(
    source: str, line: int, field: str, value: object, problem: str, last_line: int = 0
) -> TrafficError:
    """A :class:`TrafficError` worded for the file: the cell's text, not a Python repr.

    ``line`` is where the record starts; ``last_line`` where it ends, if on another line.
    """
    error = TrafficError(source, line, field, value, problem)
    error.args = (
        f"{_where(source, line, last_line)}: {field}: {problem}, got {cell_shown(value)}",
    )
    return error


def file_error(source: str, line: int, problem: str) -> TrafficError:
    """A problem with the whole file (at ``line``, 0 for none): ``file: problem``."""
    error = TrafficError(source, line, "file", None, problem)
    error.args = (f"{source}:{line}: {problem}" if line else f"{source}: {problem}",)
    return error
