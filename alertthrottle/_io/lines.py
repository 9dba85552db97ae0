"""A binary stream's lines read as a text wrapper's ``readline(MAX_RECORD + 1)`` reads them.

The CSV and JSON Lines readers take a traffic file's lines in blocks: decoded as UTF-8
a chunk at a time (a byte that is not UTF-8 kept, to be reported as a bad row), cut where
readline cuts, and never longer than :data:`MAX_RECORD` characters, so a line with no
end cannot exhaust memory. What makes a line unreadable (too long, not UTF-8) is here
too.
"""

from __future__ import annotations

import codecs
import functools
import io
from collections.abc import Iterator
from typing import IO

__all__ = ["MAX_RECORD", "Lines", "line_problem", "not_utf8"]

#: The longest line or CSV record (quoted line breaks included) a reader takes, in
#: characters: a longer one is a bad row, read no further than this, so a line with no
#: end (a gzip bomb of one line, a quote that never closes) cannot exhaust memory.
MAX_RECORD = 1 << 16
#: Bytes read at a time: as many as a text wrapper reads (io's chunk size), so a read error
#: comes after the same lines.
_CHUNK = 8192
#: The characters a block's lines may reach before the block is cut short: an overlong line
#: comes in pieces of MAX_RECORD + 1, and a block must not hold many of them.
_BLOCK_TEXT = 1 << 20
#: The line breaks of str.splitlines in ASCII text, besides \n and \r.
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")


class Lines:
    """A binary stream's lines as ``readline(MAX_RECORD + 1)`` on a text wrapper gives them.

    UTF-8 (after any byte-order mark), a byte that is not UTF-8 kept as a surrogate, a
    line ending at ``\\n``, ``\\r\\n`` or ``\\r`` and kept, a longer line in pieces of
    ``MAX_RECORD + 1`` characters. Read a chunk at a time, as the text wrapper reads them,
    so a read error comes after the same lines; :meth:`take` gives many lines at once.
    """

    def __init__(self, binary: IO[bytes]) -> None:
        self._read = getattr(binary, "read1", binary.read)
        decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self._decode = decoder.decode
        self._lines: list[str] = []
        self._next = 0
        self._tail = ""  # the start of a line whose end is not read yet
        self._size = 0  # the characters of the lines in _lines
        self._ended = False

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        if self._next >= len(self._lines) and not self._fill():
            raise StopIteration
        line = self._lines[self._next]
        self._next += 1
        return line

    def take(self, size: int) -> tuple[list[str], Exception | None]:
        """Up to ``size`` lines (fewer at the end, or once past :data:`_BLOCK_TEXT`
        characters), and the error that stopped the reading, if one did."""
        start = self._next
        lines = self._lines[start : start + size]
        self._next = start + len(lines)
        text = 0
        if len(lines) < size:
            text = self._size if start == 0 else sum(map(len, lines))
        try:
            while len(lines) < size and text <= _BLOCK_TEXT and self._fill():
                more = self._lines[: size - len(lines)]
                self._next = len(more)
                lines += more
                # Short of size: all of the chunk's lines, whose length _fill kept.
                if len(lines) < size:
                    text += self._size
        except Exception as exc:  # the caller raises it after the rows before it
            return lines, exc
        return lines, None

    def _fill(self) -> bool:
        """Read on to the next whole line(s), into ``_lines``; False at the end."""
        while not self._ended:
            data = self._read(_CHUNK)
            self._ended = not data
            text = self._tail + self._decode(data, self._ended)
            lines = text.splitlines(True)
            # Regular text: a short stretch that splitlines cuts at readline's breaks only
            # (the last line may be unfinished). Else cut as readline cuts.
            unfinished = not text.endswith("\n")
            if len(text) > MAX_RECORD or not _readline_breaks_only(text, lines, unfinished):
                lines = _readline_pieces(text)
                unfinished = not (lines and _finished(lines[-1]))
            self._tail = lines.pop() if unfinished and lines and not self._ended else ""
            self._size = len(text) - len(self._tail)  # the lines are the text less its tail
            if lines:
                self._lines, self._next = lines, 0
                return True
        return False


def _readline_breaks_only(text: str, lines: list[str], unfinished: bool) -> bool:
    """Whether ``lines``, ``text`` as ``str.splitlines`` cuts it, end where readline in
    universal-newline mode ends them: at ``\n``, ``\r\n`` or ``\r`` (the last may be
    unfinished). splitlines also cuts at other breaks: ``\x0b``, ``\x0c``, ``\x1c`` to
    ``\x1e`` and, beyond ASCII, ``\x85``, ``\u2028`` and ``\u2029``."""
    if text.isascii():
        # Each a fast scan (a count of \r\n in a CRLF file costs several times more).
        return not any(map(text.__contains__, _OTHER_BREAKS))
    # Each \r\n or \n is one break: as many lines as either (less an unfinished last one)
    # leave no room for another break.
    lines_left = len(lines) - unfinished
    if "\r" in text and lines_left == text.count("\r\n"):
        return True
    return lines_left == text.count("\n")


def _finished(piece: str) -> bool:
    """Whether readline would give ``piece`` whatever comes after it."""
    return piece.endswith("\n") or len(piece) > MAX_RECORD


def _readline_pieces(text: str) -> list[str]:
    """``text`` cut as ``readline(MAX_RECORD + 1)`` cuts it (in universal-newline mode)."""
    read = functools.partial(io.StringIO(text, newline="").readline, MAX_RECORD + 1)
    return list(iter(read, ""))


def not_utf8(line: str) -> str | None:
    """Why ``line`` (decoded with surrogateescape) is not UTF-8, or None when it is."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        # surrogateescape turned each undecodable byte into U+DC80..U+DCFF.
        byte = ord(line[exc.start]) - 0xDC00
        return (
            f"has a byte that is not UTF-8 (0x{byte:02X} at character {exc.start + 1}); "
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        )
    return None


def line_problem(line: str, lines: Iterator[str]) -> str | None:
    """Why a line that is long or not ASCII is a bad row (None: it is fine).

    An overlong line is read on to its end, in bounded pieces, and dropped.
    """
    if len(line) > MAX_RECORD and not line.endswith("\n"):
        for more in lines:
            if more.endswith("\n"):
                break
        return f"is longer than {MAX_RECORD:,} characters"
    return None if line.isascii() else not_utf8(line)
