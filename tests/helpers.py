"""Shared test helpers: comparing decisions and checking the accounting invariants."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from alertthrottle import (
    Alert,
    Decision,
    Event,
    LateMode,
    PolicyConfig,
    Stats,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    Verdict,
)


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


def plain_run_counts(
    config: PolicyConfig, alerts: Sequence[Alert], live: Sequence[Verdict], late: LateMode = "clamp"
) -> dict[str, int]:
    """What a plain ThrottlePolicy run of ``config`` gives, counted as a ShadowTally counts.

    ``live`` is the live policy's verdict for each alert; the differences are
    counted against it, independently of ShadowPolicy.
    """
    policy = ThrottlePolicy(config, late=late)
    decisions = policy.feed_many(alerts)
    verdicts = [d.verdict for d in decisions]
    episode_events = (ThrottlingStarted, ThrottlingEnded)
    events = [e for d in decisions for e in d.events if isinstance(e, episode_events)]
    pairs = list(zip(verdicts, live, strict=True))
    return {
        "alerts": len(alerts),
        "delivered": policy.stats.delivered,
        "throttled": policy.stats.throttled,
        "exempt": policy.stats.exempt,
        "episodes": policy.stats.episodes,
        "notifications": len(events),
        "different": sum(mine is not theirs for mine, theirs in pairs),
        "delivered_instead": sum(
            theirs is Verdict.THROTTLE and mine is not Verdict.THROTTLE for mine, theirs in pairs
        ),
        "throttled_instead": sum(
            mine is Verdict.THROTTLE and theirs is not Verdict.THROTTLE for mine, theirs in pairs
        ),
    }
