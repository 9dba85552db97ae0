"""IncidentBook: every episode in exactly one incident, under each strategy."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import DAY, DEVICES, RECIPIENTS, REGISTRY, run, traffic

from alertthrottle import (
    Alert,
    CapacityGuard,
    CapacityThresholds,
    DeviceInfo,
    EventError,
    IncidentBook,
    IncidentState,
    PolicyConfig,
    PolicyError,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    incidents_per_recipient,
)
from alertthrottle._ops.incidents import incident_counts


@settings(max_examples=150, deadline=None)
@given(traffic(), st.booleans())
def test_every_episode_is_in_exactly_one_incident_of_each_strategy(
    alerts: list[Alert], routed: bool
) -> None:
    events = run(alerts)
    starts = [e for e in events if isinstance(e, ThrottlingStarted)]
    ends = [e for e in events if isinstance(e, ThrottlingEnded)]
    route = (lambda started: [f"ops-{started.code:04X}"]) if routed else None
    for strategy in IncidentBook.STRATEGIES:
        book = IncidentBook(strategy, devices=REGISTRY, route=route)
        updates = []
        for event in events:
            update = book.apply(event)
            if update is not None:
                updates.append(update)
            book._check()
        incidents = book.incidents()
        episodes = [s for incident in incidents for s in incident.episodes]
        assert sorted(episodes) == [e.sequence_id for e in starts]
        for incident in incidents:
            mine = [e for e in starts if e.sequence_id in incident.episodes]
            assert {book.incident_of(e.sequence_id) for e in mine} == {incident.id}
            assert set(incident.devices) == {e.device_id for e in mine}
            assert set(incident.codes) == {e.code for e in mine}
            assert incident.first_at == min(e.at for e in mine)
            theirs = [e for e in ends if e.sequence_id in incident.episodes]
            assert incident.throttled_count == sum(e.throttled_count for e in theirs)
            assert incident.last_at == max(e.at for e in theirs)
            want = {r for e in mine for r in (route(e) if route else e.recipients)}
            assert set(incident.recipients) == want
            # Every episode ended, so every incident is resolved.
            assert incident.state is IncidentState.RESOLVED and incident.open_episodes == 0
        assert [u.state for u in updates].count(IncidentState.OPENED) == len(incidents)
        # Keys are what the strategy promises.
        if strategy == "per-episode":
            assert len(incidents) == len(starts)
        elif strategy == "per-device-day":
            assert len(incidents) == len(
                {(e.device_id, (e.at // DAY)) for e in starts}
            )
        else:
            for incident in incidents:
                makes = {REGISTRY.get(d, DeviceInfo()) for d in incident.devices}
                assert len(makes) == 1 and len(incident.codes) == 1
    assert incidents_per_recipient(events, devices=REGISTRY, route=route) == {
        strategy: _count(events, strategy, route) for strategy in IncidentBook.STRATEGIES
    }


def _count(events: list[Any], strategy: str, route: Any) -> dict[str, int]:
    book = IncidentBook(strategy, devices=REGISTRY, route=route)  # type: ignore[arg-type]
    book.apply_all(events)
    counts: dict[str, int] = {}
    for incident in book.incidents():
        for recipient in incident.recipients or ("(unrouted)",):
            counts[recipient] = counts.get(recipient, 0) + 1
    return counts


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(DEVICES),
            st.sampled_from([0x8014, 0x8F84]),
            st.integers(0, 3 * DAY) | st.floats(0, 3 * DAY),
            st.sampled_from([*RECIPIENTS, ("DNO-A", "DNO-A")]),  # an Alert may repeat one
        ),
        max_size=40,
    ),
    st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (2, -5))]),
)
def test_incident_counts_are_what_a_book_per_strategy_holds(rows: list[Any], tz: Any) -> None:
    # What a replay's report shows: counted from the starts alone, without keeping incidents.
    starts = [
        ThrottlingStarted(device_id, code, at, i + 1, 3, recipients=recipients)
        for i, (device_id, code, at, recipients) in enumerate(rows)
    ]
    books = [IncidentBook(s, devices=REGISTRY, tz=tz) for s in IncidentBook.STRATEGIES]
    for book in books:
        book.apply_all(starts)
    assert incident_counts(starts, devices=REGISTRY, tz=tz) == {
        book.strategy: (len(book), book.per_recipient()) for book in books
    }


def _storm(device: str, start: int, code: int = 0x8014, recipients: tuple[str, ...] = ("DNO",)):
    return [Alert(start + i, device, code, recipients) for i in range(5)]


def test_per_episode_is_one_incident_per_start_resolved_at_its_end() -> None:
    events = run(_storm(DEVICES[0], 0) + _storm(DEVICES[0], 1000))
    book = IncidentBook("per-episode")
    updates = book.apply_all(events)
    assert [(u.incident_id, u.state) for u in updates] == [
        (1, IncidentState.OPENED),
        (1, IncidentState.RESOLVED),
        (2, IncidentState.OPENED),
        (2, IncidentState.RESOLVED),
    ]
    first = book.incident(1)
    assert first.key == (1,) and first.recipients == ("DNO",) and first.throttled_count == 3
    assert "episode 1" in first.title


def test_per_device_day_groups_a_device_day_and_reopens() -> None:
    # Two episodes of one device on day 0, one on day 1, and one of another device.
    alerts = sorted(
        _storm(DEVICES[0], 100)
        + _storm(DEVICES[0], 5000, 0x8015)
        + _storm(DEVICES[0], DAY + 100)
        + _storm(DEVICES[1], 200, recipients=("SUP",)),
        key=lambda a: a.timestamp,
    )
    book = IncidentBook("per-device-day")
    updates = book.apply_all(run(alerts))
    incidents = book.incidents()
    assert [i.key for i in incidents] == [
        (DEVICES[0], "1970-01-01"),
        (DEVICES[1], "1970-01-01"),
        (DEVICES[0], "1970-01-02"),
    ]
    assert incidents[0].codes == (0x8014, 0x8015) and len(incidents[0].episodes) == 2
    # The first episode resolved it; the second reopened it as an update.
    states = [u.state for u in updates if u.incident_id == 1]
    assert states == [
        IncidentState.OPENED,
        IncidentState.RESOLVED,
        IncidentState.UPDATED,
        IncidentState.RESOLVED,
    ]
    assert book.per_recipient() == {"DNO": 2, "SUP": 1}
    # Days follow the time zone asked for: 23:00 UTC is the next day at UTC+2.
    shifted = IncidentBook("per-device-day", tz=timezone(timedelta(hours=2)))
    shifted.apply_all(run(_storm(DEVICES[0], 23 * 3600)))
    assert shifted.incident(1).key == (DEVICES[0], "1970-01-02")


def test_per_problem_collects_devices_of_one_make_and_code() -> None:
    alerts = sorted(
        [a for d in DEVICES for a in _storm(d, 10 * DEVICES.index(d))],
        key=lambda a: a.timestamp,
    )
    book = IncidentBook(
        "per-problem",
        devices={d.lower(): info for d, info in REGISTRY.items()},  # spellings normalised
        route=lambda started: ["problem-desk"],
    )
    book.apply_all(run(alerts))
    by_key = {i.key: i.devices for i in book.incidents()}
    assert by_key == {
        ("Acme", "M1", "1.0", "8014"): (DEVICES[0], DEVICES[1]),
        ("Acme", "M1", "1.1", "8014"): (DEVICES[2],),
        ("Bolt", None, None, "8014"): (DEVICES[3],),
        (None, None, None, "8014"): (DEVICES[4], DEVICES[5]),
    }
    assert book.per_recipient() == {"problem-desk": 4}
    assert "Acme / M1 / 1.0" in book.incident(1).title


def test_open_incidents_and_updates_while_episodes_run() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=2, period=30)))
    book = IncidentBook("per-problem")
    for alert in _storm(DEVICES[0], 0) + _storm(DEVICES[1], 5):
        book.apply_all(policy.feed(alert).events)
    (incident,) = book.open_incidents()
    assert incident.state is IncidentState.UPDATED and incident.open_episodes == 2
    assert incident.throttled_count == 0  # known when the episodes end


def test_an_end_without_its_start_is_refused() -> None:
    policy = ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=30)),
        capacity=CapacityGuard(CapacityThresholds(period=10, amber=1, red=2)),
    )
    for alert in _storm(DEVICES[0], 0):
        policy.feed(alert)
    book = IncidentBook("per-episode")
    with pytest.raises(EventError) as info:
        book.apply_all(policy.advance(1000))
    assert info.value.field == "sequence_id"
    assert len(book) == 0


def test_attach_with_open_episodes() -> None:
    policy = ThrottlePolicy(
        PolicyConfig(Threshold(limit=2, period=30)),
        capacity=CapacityGuard(CapacityThresholds(period=10, amber=1, red=2)),
    )
    for alert in _storm(DEVICES[0], 0):
        policy.feed(alert)
    book = IncidentBook("per-episode")
    book.apply_all(policy.open_episodes())
    updates = book.apply_all(policy.advance(1000))  # LevelChanged events are skipped
    assert [u.state for u in updates] == [IncidentState.RESOLVED]


def test_bad_streams_and_options() -> None:
    (start,) = [e for e in run(_storm(DEVICES[0], 0)) if isinstance(e, ThrottlingStarted)]
    book = IncidentBook("per-episode")
    book.apply(start)
    with pytest.raises(EventError):
        book.apply(start)
    with pytest.raises(EventError):
        book.apply("event")  # type: ignore[arg-type]
    with pytest.raises(PolicyError) as info:
        IncidentBook("per-storm")  # type: ignore[arg-type]
    assert info.value.field == "strategy"
    with pytest.raises(PolicyError) as info:
        IncidentBook("per-problem", devices={"not a device": DeviceInfo()})
    assert info.value.field == "devices"
    with pytest.raises(PolicyError):
        IncidentBook("per-problem", devices={DEVICES[0]: ("Acme", "M1", "1.0")})  # type: ignore[dict-item]
    bad_route = IncidentBook("per-episode", route=lambda started: [""])
    with pytest.raises(PolicyError):
        bad_route.apply(start)
    assert len(bad_route) == 0
    with pytest.raises(PolicyError):
        book.incident(7)
