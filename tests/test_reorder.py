"""reorder: a bounded buffer that puts nearly ordered alert streams back in time order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertthrottle import Alert, PolicyError, reorder

DEV = "00-0D-6F-00-0A-BC-12-34"


@st.composite
def disordered(draw: st.DrawFn) -> tuple[list[Alert], int]:
    """A stream in which every alert is at most ``window`` seconds older than the newest before."""
    window = draw(st.integers(0, 50))
    steps = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 60)), max_size=60))
    newest, alerts = 0, []
    for number, (ahead, back) in enumerate(steps):
        newest += ahead
        t = max(0, newest - min(back, window))
        alerts.append(Alert(t, DEV, number % 3, (f"r{number}",)))
    return alerts, window


@settings(max_examples=300, deadline=None)
@given(disordered())
def test_disorder_within_the_window_comes_out_sorted(case: tuple[list[Alert], int]) -> None:
    alerts, window = case
    assert list(reorder(alerts, window=window)) == sorted(alerts, key=lambda a: a.timestamp)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 100), max_size=40), st.integers(0, 30))
def test_nothing_is_lost_or_invented_whatever_the_disorder(times: list[int], window: int) -> None:
    alerts = [Alert(t, DEV, 1, (f"r{i}",)) for i, t in enumerate(times)]
    out = list(reorder(alerts, window=window))
    assert sorted(out, key=repr) == sorted(alerts, key=repr)


def test_memory_holds_one_window() -> None:
    held = []

    def stream() -> object:
        for t in range(10_000):
            yield Alert(t, DEV, 1)

    out = reorder(stream(), window=5)  # type: ignore[arg-type]
    for alert in out:
        held.append(alert.timestamp)
        if alert.timestamp == 5000:
            break
    # An alert comes out once the stream is more than 5 s past it: 7 alerts read ahead.
    assert held[-1] == 5000


def test_an_alert_later_than_the_window_comes_out_late() -> None:
    alerts = [Alert(t, DEV, 1) for t in (10, 20, 30, 12, 40)]
    assert [a.timestamp for a in reorder(alerts, window=5)] == [10, 20, 12, 30, 40]


@pytest.mark.parametrize("window", [-1, float("nan"), float("inf"), 10**9, "5", True])
def test_bad_windows_are_refused_before_reading(window: object) -> None:
    with pytest.raises(PolicyError, match="window"):
        reorder(iter(()), window=window)  # type: ignore[arg-type]
