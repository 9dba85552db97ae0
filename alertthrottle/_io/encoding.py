"""Where a whole file's bytes stop being UTF-8: line, column and row, for the message."""

from __future__ import annotations

__all__ = ["BadByte"]


class BadByte:
    """The byte that stopped ``data`` decoding as UTF-8 (``error``): its value, its
    line and column (from 1) and the bytes of its line, for a message worded for the file."""

    __slots__ = ("byte", "column", "line", "row")

    def __init__(self, data: bytes, error: UnicodeDecodeError) -> None:
        start = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        self.byte = data[error.start]
        self.line = data.count(b"\n", 0, error.start) + 1
        self.column = error.start - start + 1
        self.row = data[start : len(data) if end < 0 else end]

