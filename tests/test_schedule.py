"""LazySchedule against a sorted list recomputed from scratch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle._schedule import LazySchedule


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
    due: dict[int, int | None] = {}
    schedule: LazySchedule[int] = LazySchedule(due.get)
    now = 0
    for action, item, amount in steps:
        if action == "add" and due.get(item) is None:
            due[item] = now + amount
            schedule.add(item, now + amount)
        elif action == "delay" and due.get(item) is not None:
            due[item] += amount  # type: ignore[operator]
        elif action == "cancel":
            due[item] = None
        elif action == "pop":
            now += amount
            expected = sorted(
                (when, i) for i, when in due.items() if when is not None and when <= now
            )
            got = list(schedule.pop_due(now))
            assert [when for when, _ in got] == [when for when, _ in expected]
            assert sorted(i for _, i in got) == sorted(i for _, i in expected)
            for _, i in got:
                due[i] = None
        schedule._check()
    assert len(schedule) >= sum(1 for when in due.values() if when is not None)
