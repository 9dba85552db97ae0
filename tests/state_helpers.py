"""Hypothesis strategies and drivers shared by the state tests (snapshots, shadows, partitions).

Each strategy mixes :mod:`alertthrottle.testing`'s (integer grid, boundary
heavy) with a local one that adds what state tests need besides: float
times (they must survive JSON exactly), large epoch times, and ``advance``
steps between alerts. Small on purpose: few devices and codes, short periods
and small limits, so that random streams keep running into episodes,
samples, late alerts, idle keys and ties between episode ends.
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
from alertthrottle.testing import alert_streams, policy_configs

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
def _thresholds(draw: st.DrawFn) -> Threshold:
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
def _configs(draw: st.DrawFn) -> PolicyConfig:
    default = draw(st.none() | _thresholds())
    per_code = draw(st.dictionaries(st.sampled_from(CODES[:3]), _thresholds(), max_size=2))
    exempt = draw(st.frozensets(st.sampled_from(CODES), max_size=2)) - per_code.keys()
    return PolicyConfig(default=default, per_code=per_code, exempt_codes=exempt)


@st.composite
def _streams(draw: st.DrawFn, max_size: int = 60) -> list[Step]:
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


@st.composite
def _grid_streams(draw: st.DrawFn) -> list[Step]:
    """alertthrottle.testing's streams, with an ``advance`` now and then between alerts."""
    steps: list[Step] = []
    for alert in draw(alert_streams(devices=DEVICES, codes=CODES)):
        if draw(st.integers(0, 7)) == 0:
            steps.append(("advance", alert.timestamp + draw(st.sampled_from([0, 1, 5, 10]))))
        steps.append(("feed", alert))
    return steps


def configs() -> st.SearchStrategy[PolicyConfig]:
    """Policy configurations: alertthrottle.testing's, or local ones with float periods."""
    return st.one_of(policy_configs(codes=CODES), _configs())


def streams() -> st.SearchStrategy[list[Step]]:
    """Steps of a run: alerts (some late) and advances, on an integer grid or in floats."""
    return st.one_of(_grid_streams(), _streams())


@st.composite
def _crowded_streams(draw: st.DrawFn) -> list[Step]:
    """Two codes, eight devices, short gaps: more keys than a small bound holds.

    With :func:`_crowded_configs`' long periods many keys are in long episodes,
    so evictions keep meeting (and parking) them, and episodes end while parked.
    """
    devices = [*DEVICES, *(f"00-0D-6F-00-00-00-01-0{n}" for n in range(4))]
    steps: list[Step] = []
    t: float = draw(st.sampled_from([0, 1_700_000_000]))
    for _ in range(draw(st.integers(0, 80))):
        if draw(st.integers(0, 9)) == 0:
            t += draw(st.sampled_from([0, 3, 10, 30]))
            steps.append(("advance", t))
            continue
        t += draw(st.sampled_from([0, 0, 0.5, 1, 2]))
        device = draw(st.sampled_from(devices))
        steps.append(("feed", Alert(t, device, draw(st.sampled_from(CODES[:2])))))
    return steps


@st.composite
def _crowded_configs(draw: st.DrawFn) -> PolicyConfig:
    limit = draw(st.integers(1, 3))
    default = Threshold(
        limit,
        draw(st.sampled_from([10, 20, 40])),
        draw(st.integers(1, limit)),
        sample_every=draw(st.none() | st.integers(2, 3)),
    )
    return PolicyConfig(default=default)


def crowded() -> st.SearchStrategy[tuple[PolicyConfig, list[Step]]]:
    """A config and a stream for bounded policies: evictions meet keys in open episodes."""
    return st.tuples(_crowded_configs(), _crowded_streams())


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
