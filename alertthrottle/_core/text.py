"""Text that leaves the library: spreadsheet-safe CSV cells and terminal-safe strings.

Every CSV the library writes goes through :func:`write_csv`, and everything it
prints goes through :func:`terminal_safe`, so a hostile device id, make or
recipient cannot run a formula in a spreadsheet or drive a terminal.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

# OWASP's list: a cell starting with one of these is read as a formula by
# Excel, LibreOffice or Google Sheets (tab and CR hide the sign from the eye).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# C0 and C1 controls except tab and newline, and DEL: enough for escape
# sequences, bells and carriage-return overprinting.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def spreadsheet_safe(value: object) -> str | int | float:
    """Return ``value`` as a CSV cell that a spreadsheet shows as text, never runs.

    Numbers pass unchanged (a negative count is data, not a formula); a string
    that starts with ``= + - @``, tab or CR gets a leading ``'``, as OWASP advises.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(out: IO[str], header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """Write ``header`` and ``rows`` to ``out`` with the csv module, every cell made safe.

    Quoting is the csv module's (a comma, quote or line break in a cell never
    shifts a column); cells pass through :func:`spreadsheet_safe`. Rows end in
    CRLF, as RFC 4180 says: with a bare LF terminator the csv module would
    leave a lone CR in a cell unquoted, and readers split the row there.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])


def terminal_safe(text: str) -> str:
    """Return ``text`` with control characters shown as ``\\xNN`` escapes.

    Tabs and newlines stay; escape sequences, bells, backspaces and carriage
    returns cannot reach the terminal.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
