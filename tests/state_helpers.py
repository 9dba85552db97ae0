"""Hypothesis strategies and drivers shared by the state tests (snapshots, shadows, partitions).

Small on purpose: few devices and codes, short periods and small limits, so
that random streams keep running into episodes, samples, late alerts, idle
keys and ties between episode ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    Decision,
    PolicyConfig,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
)

DEVICES = (
    "00-0D-6F-00-0A-BC-12-34",
    "00-0D-6F-00-0A-BC-12-35",
    "00-0D-6F-00-0A-BC-12-36",
    "00-0D-6F-00-00-00-00-01",
)
CODES = (0x8014, 0x8015, 0x8F84, 0x8F35)

#: One step of a run: ("feed", Alert) or ("advance", time).
Step = tuple[str, Any]


@st.composite
def thresholds(draw: st.DrawFn) -> Threshold:
    limit = draw(st.integers(1, 4))
    period = draw(st.sampled_from([2, 3, 5, 7.5, 10]))
    resume_below = draw(st.integers(1, limit))
    sampling = draw(st.sampled_from(["none", "every", "interval"]))
    return Threshold(
        limit,
        period,
        resume_below,
        sample_every=draw(st.integers(2, 4)) if sampling == "every" else None,
        sample_interval=draw(st.sampled_from([1, 2.5, 4])) if sampling == "interval" else None,
    )


@st.composite
def configs(draw: st.DrawFn) -> PolicyConfig:
    default = draw(st.none() | thresholds())
    per_code = draw(st.dictionaries(st.sampled_from(CODES[:3]), thresholds(), max_size=2))
    exempt = draw(st.frozensets(st.sampled_from(CODES), max_size=2)) - per_code.keys()
    return PolicyConfig(default=default, per_code=per_code, exempt_codes=exempt)


@st.composite
def streams(draw: st.DrawFn, max_size: int = 60) -> list[Step]:
    """Mostly time-ordered alerts (ties and bursts included), some late, some advances."""
    steps: list[Step] = []
    t: float = draw(st.sampled_from([0, 100, 1_700_000_000]))
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(["alert"] * 8 + ["late", "advance"]))
        if kind == "advance":
            t += draw(st.sampled_from([0, 1, 2.5, 6, 20]))
            steps.append(("advance", t))
            continue
        gap = draw(st.sampled_from([0, 0, 0.5, 1, 1, 2, 3, 12]))
        when = max(0.0, t - 3) if kind == "late" else t + gap
        t = max(t, when)
        recipients = draw(st.sampled_from([(), ("DNO",), ("DNO", "SUP")]))
        device = draw(st.sampled_from(DEVICES))
        code = draw(st.sampled_from(CODES))
        steps.append(("feed", Alert(when, device, code, recipients)))
    return steps


def run_step(policy: ThrottlePolicy, step: Step) -> Decision | list[ThrottlingEnded]:
    kind, value = step
    if kind == "feed":
        return policy.feed(value)
    return policy.advance(value)


def run(policy: ThrottlePolicy, steps: Sequence[Step]) -> list[Decision | list[ThrottlingEnded]]:
    results = []
    for step in steps:
        results.append(run_step(policy, step))
        policy._check()
    return results


def final_state(policy: ThrottlePolicy) -> tuple[object, ...]:
    """Everything observable about a policy at rest."""
    return (
        policy.clock,
        policy.stats,
        policy.pending_counts(),
        policy.open_episodes(),
        policy.config,
    )
