"""CapacityGuard: exact sliding-window counts, levels, hysteresis, dated falls."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import NaiveGuard

from alertthrottle import (
    CapacityGuard,
    CapacityLevel,
    CapacityThresholds,
    InvalidAlertError,
    LevelChanged,
    PolicyError,
)

GREEN, AMBER, RED = CapacityLevel.GREEN, CapacityLevel.AMBER, CapacityLevel.RED


@st.composite
def thresholds(draw: st.DrawFn) -> CapacityThresholds:
    amber = draw(st.integers(1, 8))
    red = draw(st.integers(amber, 12))
    return CapacityThresholds(
        period=draw(st.sampled_from([1, 2.5, 5, 10])),
        amber=amber,
        red=red,
        amber_clear=draw(st.integers(1, amber)),
        red_clear=draw(st.integers(1, red)),
    )


# Steps: ("observe", dt) or ("advance", dt); times are multiples of 0.5 so sums are exact.
steps = st.lists(
    st.tuples(st.sampled_from(["observe", "observe", "observe", "advance"]),
              st.integers(-2, 8).map(lambda n: n / 2)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(thresholds(), steps)
def test_levels_follow_a_naive_recount(limits: CapacityThresholds, plan: list[tuple[str, float]]):
    guard = CapacityGuard(limits)
    naive = NaiveGuard(limits)
    t = 100.0
    for kind, dt in plan:
        t = max(0.0, t + dt)
        if kind == "observe":
            got, want = list(guard.observe(t)), naive.observe(t)
        else:
            got, want = list(guard.advance(t)), naive.advance(t)
        assert got == want
        guard._check()
        assert guard.level == naive.level
        assert guard.count == naive.count_at(naive.clock)
        for change in got:
            # Every change is forced: rises reach the entered level, falls cross a clear value.
            if change.new > change.old:
                assert change.window_count >= (limits.amber, limits.red)[change.new - 1]
            else:
                assert change.window_count < limits.clear_of(change.old)
                assert change.window_count >= limits.clear_of(change.new)
        ats = [change.at for change in got]
        assert ats == sorted(ats)


def test_hysteresis_example() -> None:
    guard = CapacityGuard(CapacityThresholds(period=10, amber=3, red=5, amber_clear=2, red_clear=4))
    events = [e for t in range(5) for e in guard.observe(t)]
    assert events == [
        LevelChanged(at=2, old=GREEN, new=AMBER, window_count=3),
        LevelChanged(at=4, old=AMBER, new=RED, window_count=5),
    ]
    # At 10 the alert at 0 leaves: 4 remain, not below red_clear=4.
    assert guard.advance(10) == ()
    assert guard.level is RED
    # At 11 three remain: below 4, not below amber_clear=2, so AMBER (although 3 < red).
    assert guard.advance(11) == (LevelChanged(at=11, old=RED, new=AMBER, window_count=3),)
    # A fall is dated at the departure, even when nobody looks until much later.
    assert guard.advance(100) == (LevelChanged(at=13, old=AMBER, new=GREEN, window_count=1),)
    assert guard.count == 0


def test_window_is_half_open_and_late_times_count_at_the_clock() -> None:
    guard = CapacityGuard(CapacityThresholds(period=10, amber=2, red=3))
    assert guard.observe(0) == ()
    assert guard.observe(10) == ()  # the alert at 0 is exactly `period` old: gone
    assert guard.count == 1
    # A late alert counts at the clock (10), so it is in the window with the one at 10.
    assert guard.observe(5) == (LevelChanged(at=10, old=GREEN, new=AMBER, window_count=2),)
    assert guard.advance(3) == ()
    assert guard.clock == 10


def test_jump_straight_to_red_is_one_event() -> None:
    guard = CapacityGuard(CapacityThresholds(period=5, amber=2, red=2))
    guard.observe(0)
    assert guard.observe(0) == (LevelChanged(at=0, old=GREEN, new=RED, window_count=2),)
    assert guard.advance(5) == (LevelChanged(at=5, old=RED, new=GREEN, window_count=0),)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"period": 0, "amber": 1, "red": 2}, "period"),
        ({"period": float("nan"), "amber": 1, "red": 2}, "period"),
        ({"period": 1, "amber": 0, "red": 2}, "amber"),
        ({"period": 1, "amber": 3, "red": 2}, "amber"),
        ({"period": 1, "amber": True, "red": 2}, "amber"),
        ({"period": 1, "amber": 2, "red": 3, "amber_clear": 3}, "amber_clear"),
        ({"period": 1, "amber": 2, "red": 3, "red_clear": 4}, "red_clear"),
    ],
)
def test_bad_thresholds_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as info:
        CapacityThresholds(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_thresholds_round_trip_and_name_key_paths() -> None:
    limits = CapacityThresholds(period=60, amber=1000, red=5000, amber_clear=800)
    assert CapacityThresholds.from_dict(limits.as_dict()) == limits
    with pytest.raises(PolicyError) as info:
        CapacityThresholds.from_dict({"period": 60, "amber": 10, "red": 5}, "capacity.")
    assert info.value.field == "capacity.amber"
    with pytest.raises(PolicyError) as info:
        CapacityThresholds.from_dict({"period": 60, "amber": 10}, "capacity.")
    assert info.value.field == "capacity.red"
    with pytest.raises(PolicyError) as info:
        CapacityThresholds.from_dict({"period": 60, "amber": 1, "red": 2, "orange": 1})
    assert info.value.field == "orange"


def test_bad_inputs() -> None:
    with pytest.raises(PolicyError):
        CapacityGuard({"period": 1})  # type: ignore[arg-type]
    guard = CapacityGuard(CapacityThresholds(period=1, amber=1, red=1))
    with pytest.raises(InvalidAlertError) as info:
        guard.observe(float("nan"))
    assert info.value.field == "at"
    with pytest.raises(InvalidAlertError) as info:
        guard.advance("soon")
    assert info.value.field == "now"
    assert guard.count == 0 and guard.clock is None
