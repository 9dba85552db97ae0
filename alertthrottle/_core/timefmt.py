"""Epoch seconds as calendar text: the one place a time becomes a day, an hour or an instant.

Reports, incidents, digests and tables all label times through these, so a
day is spelt the same everywhere (``2024-03-01``; an hour ``2024-03-01 13:00``).
Times are UTC unless a time zone is given.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

__all__ = [
    "DAY",
    "HOUR",
    "day_of",
    "day_text",
    "hour_text",
    "instant_text",
    "seconds_text",
]

#: Seconds in a (UTC) day and hour.
DAY = 86_400
HOUR = 3_600


def day_of(at: float, tz: tzinfo = UTC) -> date:
    """The calendar day, in ``tz``, of epoch seconds ``at``."""
    return datetime.fromtimestamp(at, tz).date()


def day_text(at: float, tz: tzinfo = UTC) -> str:
    """The day of ``at`` as ``YYYY-MM-DD``."""
    return day_of(at, tz).isoformat()


def hour_text(at: float) -> str:
    """The UTC hour of ``at`` as ``YYYY-MM-DD HH:00``."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:00")


def seconds_text(at: float) -> str:
    """``at`` in UTC to the second, ``YYYY-MM-DD HH:MM:SS``, for tables."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def instant_text(at: float, tz: tzinfo = UTC) -> str:
    """``at`` as ISO 8601 with its offset, for JSON and CSV."""
    return datetime.fromtimestamp(at, tz).isoformat()
