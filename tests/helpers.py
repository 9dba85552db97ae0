"""Shared test helpers: comparing decisions and checking the accounting invariants."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from alertthrottle import Decision, Stats, ThrottlingEnded, ThrottlingStarted, Verdict
from alertthrottle._events import Event


def events_in_canonical_order(events: Sequence[Event]) -> list[Event]:
    """Events with ends at the same instant sorted by sequence id (their order is free)."""
    return sorted(
        events,
        key=lambda e: (e.at, isinstance(e, ThrottlingStarted), e.sequence_id),
    )


def canonical(decision: Decision) -> tuple[object, ...]:
    """Everything a decision says, events in canonical order, for comparing two implementations.

    Includes what equality leaves out (``sampled``, the events' ``recipients``).
    """
    return (
        decision.verdict,
        decision.metadata,
        decision.late,
        decision.sampled,
        tuple(
            (e, getattr(e, "recipients", ())) for e in events_in_canonical_order(decision.events)
        ),
    )


def totals(stats: Stats) -> tuple[int, ...]:
    """Every field of ``stats``, informational ones included."""
    return attrs.astuple(stats)


def check_events_in_time_order(events: Sequence[Event]) -> None:
    """Events of one policy never go back in time."""
    times = [event.at for event in events]
    assert times == sorted(times), times


def reported_counts(decisions: Sequence[Decision]) -> int:
    """Throttled alerts reported on delivered decisions."""
    return sum(d.metadata.throttled_count for d in decisions if d.verdict is Verdict.DELIVER)


def ended(decisions: Sequence[Decision]) -> list[ThrottlingEnded]:
    """Every ThrottlingEnded carried by ``decisions``."""
    return [e for d in decisions for e in d.events if isinstance(e, ThrottlingEnded)]
