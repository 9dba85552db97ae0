"""feed_columns decides a block of columns exactly as feed_many decides its Alert objects.

Two policies, one fed blocks of :class:`AlertColumns`, the other ``feed_many``
of the same alerts: after every block the decisions, the stats, the snapshot
bytes, the pending counts and the open episodes are the same, and so is a
block stopped by a late alert (``late="reject"``). Streams come from
:mod:`alertthrottle.testing` (integer grid) and from the state tests' helpers
(float times, large epoch times, long gaps, ``advance`` between alerts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from state_helpers import CODES, DEVICES, configs, crowded, streams

from alertthrottle import (
    Alert,
    AlertColumns,
    CapacityGuard,
    CapacityThresholds,
    Decision,
    InvalidAlertError,
    LateAlertError,
    LockedPolicy,
    PolicyConfig,
    Threshold,
    ThrottlePolicy,
)
from alertthrottle._core.columns import shaped_columns, shapes_of
from alertthrottle._core.shapes import ShapeTable
from alertthrottle.testing import alert_streams, policy_configs

late_modes = st.sampled_from(["clamp", "reject"])


def _guard() -> CapacityGuard:
    return CapacityGuard(CapacityThresholds(period=5, amber=3, red=6, amber_clear=2))


def _pair(config: PolicyConfig, **options: Any) -> tuple[ThrottlePolicy, ThrottlePolicy]:
    """Two policies alike; a capacity guard (``guarded``) is made for each."""
    guarded = options.pop("guarded", None)
    if guarded is not None:
        return (
            ThrottlePolicy(config, capacity=_guard(), engage_at=guarded, **options),
            ThrottlePolicy(config, capacity=_guard(), engage_at=guarded, **options),
        )
    return ThrottlePolicy(config, **options), ThrottlePolicy(config, **options)


def _outcome(feed: Any, block: Any) -> tuple[list[Decision], type | None, int]:
    """Decisions of one call, the error it stopped with (if any) and how far it went."""
    try:
        decisions = feed(block)
    except LateAlertError as exc:
        assert exc.index is not None and exc.decisions is not None
        assert len(exc.decisions) == exc.index
        return exc.decisions, LateAlertError, exc.index
    return decisions, None, len(block)


def _told(decision: Decision) -> tuple[object, ...]:
    """Everything a decision says, events in their order (equality leaves some out)."""
    events = tuple((e, getattr(e, "recipients", ())) for e in decision.events)
    return decision.verdict, decision.metadata, decision.late, decision.sampled, events


def _same_state(columns: ThrottlePolicy, alerts: ThrottlePolicy) -> None:
    assert columns.clock == alerts.clock
    assert columns.stats == alerts.stats
    assert columns.snapshot() == alerts.snapshot()
    assert columns.pending_counts() == alerts.pending_counts()
    assert columns.open_episodes() == alerts.open_episodes()
    columns._check()


class _Shapes:
    """Makes blocks of shapes as a reader does: shapes added to a table as they come,
    a new table when one has no room for a block's new shapes (tables of ``size``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.table = ShapeTable(size)
        self.known: dict[tuple[object, ...], int] = {}

    def __call__(self, block: list[Alert]) -> AlertColumns:
        keys = [(alert.device_id, alert.code, alert.recipients) for alert in block]
        new = set(keys) - set(self.known)
        if len(new) > self.table.room:
            self.table = ShapeTable(max(self.size, len(set(keys))))
            self.known = {}
        for key in dict.fromkeys(keys):
            if key not in self.known:
                self.known[key] = self.table.add(*key)
        shapes = [self.known[key] for key in keys]
        return shaped_columns([alert.timestamp for alert in block], shapes, self.table)


def _feed_block(
    columns: ThrottlePolicy,
    alerts: ThrottlePolicy,
    block: list[Alert],
    make: Callable[[list[Alert]], AlertColumns] = AlertColumns.of,
) -> None:
    """Feed ``block`` to both (as columns made by ``make``), the rest of it again after
    each late alert that stops it."""
    while block:
        got, got_error, got_stop = _outcome(columns.feed_columns, make(block))
        want, want_error, want_stop = _outcome(alerts.feed_many, block)
        assert (got_error, got_stop) == (want_error, want_stop)
        assert got == want
        assert [_told(d) for d in got] == [_told(d) for d in want]
        _same_state(columns, alerts)
        block = block[got_stop + 1 :]


def _play(
    columns: ThrottlePolicy,
    alerts: ThrottlePolicy,
    steps: list[Any],
    data: st.DataObject,
    between: Callable[[str, Any], None] | None = None,
    make: Callable[[list[Alert]], AlertColumns] = AlertColumns.of,
) -> None:
    """Feed ``steps`` (``("feed", alert)`` or ``("advance", t)``) to both in blocks cut
    at random (made by ``make``), advancing both at each advance; ``between`` runs after
    each step that ends a block."""
    block: list[Alert] = []
    for kind, value in [*steps, ("end", None)]:
        if kind == "feed":
            block.append(value)
            if data.draw(st.integers(0, 5)) > 0:
                continue
        _feed_block(columns, alerts, block, make)
        block = []
        if kind == "advance":
            assert columns.advance(value) == alerts.advance(value)
            _same_state(columns, alerts)
        if between is not None and kind != "end":
            between(kind, value)


def _reconfigures(
    columns: ThrottlePolicy, alerts: ThrottlePolicy, data: st.DataObject, *, one_in: int
) -> Callable[[str, Any], None]:
    """A ``between`` for :func:`_play` that, once in ``one_in`` steps, reconfigures both
    policies alike (at the step's time, or the clock if later) and compares them."""

    def reconfigure_sometimes(kind: str, value: Any) -> None:
        if data.draw(st.integers(0, one_in - 1)) == 0:
            new = data.draw(configs() | st.just(PolicyConfig()))
            at = max(value if kind == "advance" else value.timestamp, columns.clock or 0)
            assert columns.reconfigure(new, at=at, reason="test") == alerts.reconfigure(
                new, at=at, reason="test"
            )
            _same_state(columns, alerts)

    return reconfigure_sometimes


def _cut(stream: list[Alert], cuts: list[int]) -> list[list[Alert]]:
    """``stream`` in blocks ending at the ``cuts`` (taken modulo its length)."""
    ends = sorted({cut % (len(stream) + 1) for cut in cuts} | {len(stream)})
    blocks, start = [], 0
    for end in ends:
        blocks.append(stream[start:end])
        start = end
    return blocks


@given(
    config=policy_configs(),
    stream=alert_streams(max_size=80),
    cuts=st.lists(st.integers(0, 80), max_size=4),
    late=late_modes,
    guarded=st.sampled_from(["always", "amber", "red"]),
)
def test_a_guarded_policy_decides_as_feed_many(
    config: PolicyConfig, stream: list[Alert], cuts: list[int], late: Any, guarded: Any
) -> None:
    columns, alerts = _pair(config, late=late, guarded=guarded)
    for block in _cut(stream, cuts):
        _feed_block(columns, alerts, block)
    assert columns.capacity is not None and alerts.capacity is not None
    assert columns.capacity.level is alerts.capacity.level


@st.composite
def _long_gaps(draw: st.DrawFn) -> list[Alert]:
    """A grid stream with long quiet spells (keys idle, queues and wheel slots due)."""
    shift = 0.0
    stream = []
    for alert in draw(alert_streams(max_size=80)):
        shift += draw(st.sampled_from([0, 0, 0, 0, 0.5, 40, 1000]))
        stream.append(Alert(alert.timestamp + shift, alert.device_id, alert.code))
    return stream


@given(
    config=policy_configs(),
    stream=alert_streams(max_size=80) | _long_gaps(),
    cuts=st.lists(st.integers(0, 80), max_size=6),
    late=late_modes,
    max_keys=st.none() | st.integers(1, 4),
    size=st.none() | st.integers(1, 8),
)
def test_blocks_decide_as_feed_many(
    config: PolicyConfig,
    stream: list[Alert],
    cuts: list[int],
    late: Any,
    max_keys: int | None,
    size: int | None,
) -> None:
    """Any block split of a stream (long quiet spells too), with any key bound or late mode;
    with a table ``size``, blocks of shapes decided from the shapes: small tables that fill
    and are replaced, codes whose rule is made mid-block, blocks of a table seen before."""
    columns, alerts = _pair(config, late=late, max_keys=max_keys)
    make = AlertColumns.of if size is None else _Shapes(size)
    for block in _cut(stream, cuts):
        _feed_block(columns, alerts, block, make)


@given(
    config=configs(),
    steps=streams(),
    data=st.data(),
    late=late_modes,
    guarded=st.sampled_from([None, None, "always", "amber"]),
)
def test_blocks_between_advance_and_reconfigure(
    config: PolicyConfig, steps: list[Any], data: st.DataObject, late: Any, guarded: Any
) -> None:
    """Float times, large epoch times, ``advance`` and ``reconfigure`` between blocks."""
    columns, alerts = _pair(config, late=late, guarded=guarded)
    _play(columns, alerts, steps, data, _reconfigures(columns, alerts, data, one_in=8))


@given(config=configs(), steps=streams(), data=st.data(), size=st.integers(1, 8))
def test_shaped_blocks_between_advance_and_reconfigure(
    config: PolicyConfig, steps: list[Any], data: st.DataObject, size: int
) -> None:
    """Blocks of shapes with ``reconfigure`` between them: every rule is made anew."""
    columns, alerts = _pair(config)
    reconfigures = _reconfigures(columns, alerts, data, one_in=4)
    _play(columns, alerts, steps, data, reconfigures, _Shapes(size))


def test_a_shaped_block_after_reconfigure_uses_the_new_rules() -> None:
    """The shapes' rules are those in force: a reconfigure between two blocks of one
    table changes the second block's decisions as it changes feed_many's."""
    rows = [Alert(t, DEVICES[0], CODES[0]) for t in range(6)]
    make = _Shapes(4)
    columns, alerts = _pair(PolicyConfig(Threshold(limit=5, period=100)))
    # The second block finds the shape's rule made by the first: planned.
    _feed_block(columns, alerts, rows[:2], make)
    _feed_block(columns, alerts, rows[2:3], make)
    tight = PolicyConfig(Threshold(limit=1, period=100))
    assert columns.reconfigure(tight, at=3, reason="t") == alerts.reconfigure(
        tight, at=3, reason="t"
    )
    block = make(rows[3:])
    assert shapes_of(block) is not None and shapes_of(block)[1] is make.table  # type: ignore[index]
    assert columns.feed_columns(block) == alerts.feed_many(rows[3:])
    assert columns.stats.throttled == alerts.stats.throttled > 0
    _same_state(columns, alerts)


@given(case=crowded(), data=st.data(), max_keys=st.integers(1, 3))
def test_bounded_blocks_decide_as_feed_many(
    case: tuple[PolicyConfig, list[Any]], data: st.DataObject, max_keys: int
) -> None:
    """Evictions meeting keys in open episodes, with blocks between advances."""
    config, steps = case
    columns, alerts = _pair(config, max_keys=max_keys)
    _play(columns, alerts, steps, data)


@given(config=policy_configs(), stream=alert_streams(late=False))
def test_plain_rows_make_no_alert(config: PolicyConfig, stream: list[Alert]) -> None:
    """Only rows whose decision says more than a verdict (or a code's first) make an Alert.

    Without a key bound or a guard, and in time order: a row that gets a shared
    constant decision (not a sample) is decided from the columns.
    """
    made: list[int] = []

    class Counted(AlertColumns):
        __slots__ = ()

        def alert(self, index: int) -> Alert:
            made.append(index)
            return super().alert(index)

    block = AlertColumns.of(stream)
    counted = Counted(block.timestamps, block.device_ids, block.codes, block.recipients)
    policy = ThrottlePolicy(config)
    # feed_columns refuses subclasses: the loop under it is driven directly here.
    decisions: list[Decision] = []
    policy._decide_columns(counted, decisions)
    assert decisions == ThrottlePolicy(config).feed_many(stream)
    firsts = {alert.code: i for i, alert in reversed(list(enumerate(stream)))}
    telling = {
        i
        for i, d in enumerate(decisions)
        if d.events or d.metadata.previously_throttled or d.sampled
    }
    assert set(made) == telling | set(firsts.values())


@given(
    config=policy_configs(),
    stream=alert_streams(late=False),
    cuts=st.lists(st.integers(0, 80), max_size=4),
    size=st.integers(1, 8),
)
def test_plain_shaped_rows_make_no_alert(
    config: PolicyConfig, stream: list[Alert], cuts: list[int], size: int
) -> None:
    """In blocks of shapes, only rows whose decision says more than a verdict, or whose
    code had no rule when their block began, make an Alert: the shapes' rules are found
    from block to block, on a table seen before or a new one."""
    made: list[int] = []
    offset = 0
    real = AlertColumns.alert

    def counted(self: AlertColumns, index: int) -> Alert:
        made.append(offset + index)
        return real(self, index)

    policy, make = ThrottlePolicy(config), _Shapes(size)
    decisions: list[Decision] = []
    unknown: set[int] = set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AlertColumns, "alert", counted)
        for block in _cut(stream, cuts):
            known = {alert.code for alert in stream[:offset]}
            unknown |= {offset + i for i, alert in enumerate(block) if alert.code not in known}
            decisions += policy.feed_columns(make(block))
            offset += len(block)
    assert decisions == ThrottlePolicy(config).feed_many(stream)
    telling = {
        i
        for i, d in enumerate(decisions)
        if d.events or d.metadata.previously_throttled or d.sampled
    }
    assert set(made) == telling | unknown


def test_a_late_alert_stops_the_block_where_feed_many_stops() -> None:
    config = PolicyConfig(Threshold(limit=1, period=10))
    rows = [Alert(t, DEVICES[0], CODES[0]) for t in (1, 2, 3)]
    rows += [Alert(2, DEVICES[1], CODES[0]), Alert(4, DEVICES[1], CODES[0])]
    columns, alerts = _pair(config, late="reject")
    with pytest.raises(LateAlertError) as got:
        columns.feed_columns(AlertColumns.of(rows))
    with pytest.raises(LateAlertError) as want:
        alerts.feed_many(rows)
    assert got.value.index == want.value.index == 3
    assert got.value.decisions == want.value.decisions
    assert len(got.value.decisions or ()) == 3
    _same_state(columns, alerts)
    assert columns.stats.total == 3 and columns.stats.throttled == 2


@pytest.mark.parametrize("bad", [[Alert(1, DEVICES[0], CODES[0])], None, "columns"])
def test_anything_but_columns_is_refused(bad: Any) -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1, period=10)))
    policy.feed(Alert(0, DEVICES[0], CODES[0]))
    before = policy.snapshot()
    with pytest.raises(InvalidAlertError):
        policy.feed_columns(bad)
    assert policy.snapshot() == before


def test_locked_policy_feeds_columns() -> None:
    config = PolicyConfig(Threshold(limit=1, period=10))
    rows = [Alert(t, DEVICES[0], CODES[0]) for t in (1, 2, 3)]
    locked = LockedPolicy(ThrottlePolicy(config))
    assert locked.feed_columns(AlertColumns.of(rows)) == ThrottlePolicy(config).feed_many(rows)


def test_an_idle_key_not_yet_dropped_reports_its_count() -> None:
    # A's episode ends at 11 (on B's row); at 11.1 A's window is empty but the key is
    # not dropped yet (dropped in batches): its next alert carries the pending count.
    a, b = DEVICES[0], DEVICES[1]
    times = [(0, a), (1, a), (10.5, b), (11.0, b), (11.1, a)]
    rows = [Alert(t, device, CODES[0]) for t, device in times]
    columns, alerts = _pair(PolicyConfig(Threshold(limit=1, period=10)))
    got = columns.feed_columns(AlertColumns.of(rows))
    assert got == alerts.feed_many(rows)
    assert got[-1].metadata.throttled_count == 1 and not got[-1].events
    _same_state(columns, alerts)
