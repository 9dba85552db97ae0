"""LazySchedule against a sorted list recomputed from scratch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle._engine.schedule import LazySchedule


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "delay", "cancel", "pop"]),
            st.integers(0, 5),
            st.integers(0, 20),
        ),
        max_size=60,
    )
)
def test_pops_due_items_in_order_of_current_due_time(steps):
    # The contract: an item is added once, and its due time only moves later
    # (or it is cancelled), as an episode's end does. Items are never re-added.
    due: dict[int, int | None] = {}
    schedule: LazySchedule[int] = LazySchedule(due.get)
    now = 0
    for action, pick, amount in steps:
        live = sorted(item for item, when in due.items() if when is not None)
        if action == "add":
            item = len(due)
            due[item] = now + amount
            schedule.add(item, now + amount)
        elif action == "delay" and live:
            item = live[pick % len(live)]
            due[item] += amount  # type: ignore[operator]
        elif action == "cancel" and live:
            due[live[pick % len(live)]] = None
        elif action == "pop":
            now += amount
            expected = sorted(
                (when, item) for item, when in due.items() if when is not None and when <= now
            )
            got = list(schedule.pop_due(now))
            assert [when for when, _ in got] == [when for when, _ in expected]
            assert sorted(item for _, item in got) == sorted(item for _, item in expected)
            for _, item in got:
                due[item] = None
        schedule._check()
    assert len(schedule) >= sum(1 for when in due.values() if when is not None)
