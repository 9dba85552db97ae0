"""Tally: each block's decisions as small ints (or added to the rows' keys) and the
decisions to note, exactly as reading every decision's verdict, events and late."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertthrottle import Decision, ThrottleMetadata, Verdict
from alertthrottle._core.shapes import ShapeTable
from alertthrottle._replay.tables import Counts
from alertthrottle._replay.tally import Tally

VERDICTS = (Verdict.THROTTLE, Verdict.DELIVER, Verdict.EXEMPT)
#: Shared decisions with nothing to report, as the engine hands them out.
SHARED = tuple(Decision(verdict) for verdict in VERDICTS)


def _decision(code: tuple[int, int]) -> Decision:
    """Shared (0), a fresh equal copy (1), late (2) or with events (3), of a verdict."""
    how, verdict = code
    if how == 0:
        return SHARED[verdict]
    if how == 1:
        return Decision(VERDICTS[verdict])
    if how == 2:
        return Decision(VERDICTS[verdict], late=True)
    return Decision(VERDICTS[verdict], events=("started",))  # type: ignore[arg-type]


# Mostly shared THROTTLE, as in a storm; blocks of any length, longer and shorter ones
# one after the other.
codes = st.one_of(st.just((0, 0)), st.tuples(st.integers(0, 3), st.integers(0, 2)))
blocks = st.lists(st.lists(codes, max_size=40), min_size=1, max_size=6)


def _expected(decisions: list[Decision]) -> tuple[list[int], list[Decision]]:
    kinds = [VERDICTS.index(d.verdict) for d in decisions]
    return kinds, [d for d in decisions if d.events or d.late]


@given(blocks=blocks)
def test_kinds_are_each_decisions_verdict_and_noted_are_those_to_note(
    blocks: list[list[tuple[int, int]]],
) -> None:
    tally = Tally(1)
    for block in blocks:
        decisions = [_decision(code) for code in block]
        assert tally.kinds(decisions) == _expected(decisions)


@given(blocks=blocks, index=st.integers(0, 2))
def test_added_kinds_are_each_rows_key_plus_its_verdicts_value(
    blocks: list[list[tuple[int, int]]], index: int
) -> None:
    tally = Tally(3)
    table = ShapeTable(50)
    values = tally.values(index, table)
    for block in blocks:
        decisions = [_decision(code) for code in block]
        keys = [7 * i % 50 for i in range(len(decisions))]
        kinds, noted = _expected(decisions)
        added, got = tally.add_kinds(decisions, keys, values)
        assert list(added) == [k + values[kind] for k, kind in zip(keys, kinds, strict=True)]
        assert got == noted
        assert keys == [7 * i % 50 for i in range(len(decisions))]  # left as they were


def test_a_block_longer_than_any_before_is_read_to_its_end() -> None:
    tally = Tally(1)
    for length in (3, 10, 2, 600):
        decisions = [SHARED[0]] * (length - 1) + [SHARED[1]]
        assert tally.kinds(decisions) == ([0] * (length - 1) + [1], [])


def _shaped_table() -> ShapeTable:
    table = ShapeTable(8)
    for i in range(4):
        table.add(f"00-0D-6F-00-00-00-00-{i:02X}", 0x8F0C + i % 2)
    return table


def test_counts_folded_into_another_counts_are_its_own() -> None:
    # Each shape's device counts are kept from fold to fold: for the Counts folded into.
    table = _shaped_table()
    tally = Tally(1)
    keys = [0, 1, 8 + 2, 16 + 3, 0, 1]  # shapes, then DELIVER and EXEMPT (size 8)
    first, second = Counts(), Counts()
    tally.add_shaped(5, keys, table, first)
    tally.fold(first)
    tally.add_shaped(6, keys, table, second)
    tally.fold(second)
    devices = {
        "00-0D-6F-00-00-00-00-00": [2, 2],
        "00-0D-6F-00-00-00-00-01": [2, 2],
        "00-0D-6F-00-00-00-00-02": [1, 0],
        "00-0D-6F-00-00-00-00-03": [1, 0],
    }
    assert first.devices == second.devices == devices
    assert list(first.devices) == list(devices)
    assert second.hours == {6: {(0x8F0C, ()): [1, 2, 0], (0x8F0D, ()): [0, 2, 1]}}


def test_counts_spanning_hours_are_folded_and_forgotten() -> None:
    table = _shaped_table()
    tally = Tally(1)
    counts = Counts()
    # Rows of hours 5 and 6 (a late one back in 5): keys of another hour than the first.
    tally.add_shaped([5, 6, 5], [0, 1, 8 + 2], table, counts)
    tally.fold(counts)
    assert counts.hours == {5: {(0x8F0C, ()): [1, 1, 0]}, 6: {(0x8F0D, ()): [0, 1, 0]}}
    tally.add_shaped(7, [1], table, counts)
    tally.fold(counts)
    assert counts.hours[7] == {(0x8F0D, ()): [0, 1, 0]}
    assert counts.devices["00-0D-6F-00-00-00-00-01"] == [2, 2]
    # A late row of an hour before the first (negative keys), throttled and delivered.
    tally.add_shaped([9, 8, 8], [2, 3, 8 + 3], table, counts)
    tally.fold(counts)
    assert counts.hours[8] == {(0x8F0D, ()): [1, 1, 0]}
    assert counts.hours[9] == {(0x8F0C, ()): [0, 1, 0]}
    assert counts.devices["00-0D-6F-00-00-00-00-03"] == [2, 1]


def test_a_one_off_decision_does_not_take_the_shared_ones_place() -> None:
    # A delivery with metadata is met once; the shared delivery stays the plain one, so
    # the rows after it are told by identity.
    tally = Tally(1)
    one_off = Decision(Verdict.DELIVER, metadata=ThrottleMetadata(True, 3, 7))
    assert tally.kinds([SHARED[1], one_off]) == ([1, 1], [])
    assert tally.plain == [None, SHARED[1], None]
