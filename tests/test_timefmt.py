"""Epoch seconds as calendar text: one spelling of a day, an hour and an instant."""

from __future__ import annotations

from datetime import date, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle._core.timefmt import (
    DAY,
    HOUR,
    day_of,
    day_text,
    hour_text,
    instant_text,
    seconds_text,
)


def test_the_spellings() -> None:
    at = 19_783 * DAY + 13 * HOUR + 5 * 60 + 7.5
    assert day_of(at) == date(2024, 3, 1)
    assert day_text(at) == "2024-03-01"
    assert hour_text(at) == "2024-03-01 13:00"
    assert seconds_text(at) == "2024-03-01 13:05:07"
    assert instant_text(at) == "2024-03-01T13:05:07.500000+00:00"


def test_a_time_zone_moves_the_day() -> None:
    east = timezone(timedelta(hours=11))
    assert day_text(DAY - 1) == "1970-01-01"
    assert day_text(DAY - 1, east) == "1970-01-02"
    assert instant_text(0, east) == "1970-01-01T11:00:00+11:00"


@given(st.integers(0, 253402300799))
def test_days_and_hours_start_where_integer_division_says(at: int) -> None:
    assert day_text(at) == day_text(at // DAY * DAY)
    assert hour_text(at) == hour_text(at // HOUR * HOUR)
    assert hour_text(at).startswith(day_text(at))
