"""Shared test helpers: comparing decisions and checking the accounting invariants."""

from __future__ import annotations

from collections.abc import Sequence

from alertthrottle import Decision, ThrottlingEnded, ThrottlingStarted, Verdict
from alertthrottle._events import Event


def events_in_canonical_order(events: Sequence[Event]) -> list[Event]:
    """Events with ends at the same instant sorted by sequence id (their order is free)."""
    return sorted(
        events,
        key=lambda e: (e.at, isinstance(e, ThrottlingStarted), e.sequence_id),
    )


def canonical(decision: Decision) -> Decision:
    """A decision with its events in canonical order, for comparing two implementations."""
    return Decision(
        decision.verdict,
        decision.metadata,
        decision.late,
        tuple(events_in_canonical_order(decision.events)),
        decision.sampled,
    )


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
