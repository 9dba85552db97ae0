"""What every format's rows collaborator holds of its :class:`~.traffic.TrafficReader`.

The reader owns the state all formats share (the rows read, the skipped rows, the caches
of values read once); a format's rows object holds the reader's caches (never rebound)
and the methods that check and fill them, so its per-row paths reach them in one
lookup. The reader keeps no reference to a rows object (it lives as long as one read),
so no cycle keeps the reader's caches alive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .lines import line_problem

if TYPE_CHECKING:
    from .traffic import TrafficReader

__all__ = ["FormatRows"]


class FormatRows:
    """The reader, its caches and checks, and the time unit (fixed once the read starts)."""

    __slots__ = (
        "_bad",
        "_code",
        "_codes",
        "_device_ids",
        "_device_info",
        "_devices",
        "_reader",
        "_recipient_list",
        "_recipients",
        "_seconds",
        "time_unit",
    )

    def __init__(self, reader: TrafficReader) -> None:
        self._reader = reader
        self._bad = reader._bad
        self._codes = reader._codes
        self._code = reader._code
        self._recipients = reader._recipients
        self._recipient_list = reader._recipient_list
        self._device_ids = reader._device_ids
        self._devices = reader._devices
        self._device_info = reader._device_info
        self._seconds = reader._seconds
        self.time_unit = reader.time_unit

    def _refused(self, line: str, lines: Iterator[str], number: int) -> bool:
        """Whether ``line`` (overlong, or not ASCII) is a bad row; then it is counted as a
        row read and reported at ``number``. (An overlong line is read on to its end.)"""
        problem = line_problem(line, lines)
        if problem is None:
            return False
        self._reader.rows += 1
        self._bad(number, "row", line[:60], problem)
        return True
