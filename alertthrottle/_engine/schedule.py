"""A time-ordered schedule whose entries move later without being touched.

Episode ends and idle-key expiries both drift forward with every alert of
their key. Re-keying a sorted structure on each alert would cost O(log n) per
alert; instead each item sits in a heap once, under the time it was due when
scheduled, and is re-scheduled only when it surfaces early. An alert then
costs O(1) here, and an item costs O(log n) per surfacing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from itertools import count
from typing import Generic, TypeVar

__all__ = ["LazySchedule"]

T = TypeVar("T")


def _entry_order(entry: tuple[float, int, object]) -> tuple[float, int]:
    return entry[0], entry[1]


class LazySchedule(Generic[T]):
    """Items due at times that only ever move later.

    ``due_time(item)`` gives an item's current due time, or ``None`` when it is
    no longer wanted; it must never be earlier than when it was scheduled.
    """

    __slots__ = ("_due_time", "_tiebreak", "heap")

    def __init__(self, due_time: Callable[[T], float | None]) -> None:
        self._due_time = due_time
        #: ``(scheduled time, tiebreak, item)`` entries; ``heap[0][0]`` is a lower
        #: bound of the next due time, which callers may peek at without a call.
        self.heap: list[tuple[float, int, T]] = []
        self._tiebreak = count()

    def __len__(self) -> int:
        return len(self.heap)

    def add(self, item: T, when: float) -> None:
        """Schedule ``item`` at ``when``, its current due time, O(log n)."""
        heapq.heappush(self.heap, (when, next(self._tiebreak), item))

    def pop_due(self, now: float) -> Iterator[tuple[float, T]]:
        """Remove and yield ``(due_time, item)`` for each item due at or before ``now``.

        Items come in order of due time; an item that surfaces early is put back.
        """
        heap = self.heap
        while heap and heap[0][0] <= now:
            when, _, item = heapq.heappop(heap)
            current = self._due_time(item)
            if current is None:
                continue
            if current > when:
                heapq.heappush(heap, (current, next(self._tiebreak), item))
                continue
            yield when, item

    def entries(self) -> list[tuple[float, T]]:
        """``(scheduled time, item)`` for every entry, in the order they would surface.

        Adding them back in this order reproduces the schedule, ties included (snapshots).
        """
        return [(when, item) for when, _, item in sorted(self.heap, key=_entry_order)]

    def retarget(self, convert: Callable[[T], T | None]) -> None:
        """Replace each item by ``convert(item)`` (``None`` drops it); re-file those due earlier.

        For changes that may move due times earlier, which the lazy scheme forbids
        otherwise (a reconfiguration). Entries still filed no later than their due
        time stay as they are, so a change that moves nothing changes nothing (not
        even the order of ties); O(n). The heap list is rebuilt in place, so
        references to it stay valid.
        """
        heap = self.heap
        kept: list[tuple[float, int, T]] = []
        for when, tiebreak, item in heap:
            converted = convert(item)
            if converted is None:
                continue
            current = self._due_time(converted)
            if current is not None:
                kept.append((min(when, current), tiebreak, converted))
        heap[:] = kept
        heapq.heapify(heap)

    def items(self) -> list[T]:
        """Every scheduled item, in no particular order."""
        return [item for _, _, item in self.heap]

    def _check(self) -> None:
        """Assert the heap property and that no entry is later than its item's due time."""
        heap = self.heap
        for index in range(1, len(heap)):
            assert heap[(index - 1) // 2][:2] <= heap[index][:2], index
        for when, _, item in heap:
            current = self._due_time(item)
            assert current is None or current >= when, (when, current)
