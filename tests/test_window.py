"""The per-key ring buffer, against a plain list of every time pushed."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle._engine.window import KeyWindow


@given(st.integers(2, 6), st.lists(st.integers(0, 5), max_size=30), st.integers(2, 6))
def test_ring_keeps_the_last_size_times_in_order(size, gaps, new_size):
    window = KeyWindow(size)
    pushed: list[float] = []
    now = 0
    for gap in gaps:
        now += gap
        window.push(now)
        pushed.append(now)
        window._check()
        # The ring grows with the times pushed, up to its size, and no further.
        assert len(window.times) == min(size, len(pushed))
        padded = [-math.inf] * size + pushed
        for nth in range(1, size + 1):
            assert window.recent(nth) == padded[-nth]
        assert window.count_after(now - 3) == min(size, sum(1 for t in pushed if t > now - 3))
    window.resize(new_size)
    window._check()
    # Growing cannot recover times the smaller ring had already forgotten.
    padded = [-math.inf] * new_size + pushed[-size:]
    assert [window.recent(n) for n in range(1, new_size + 1)] == [
        padded[-n] for n in range(1, new_size + 1)
    ]
