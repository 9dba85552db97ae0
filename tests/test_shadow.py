"""Shadow policies: candidates see the live traffic, change nothing, and are tallied."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_helpers import DEVICES, configs, streams

from alertthrottle import (
    Alert,
    Decision,
    PolicyConfig,
    PolicyError,
    ShadowPolicy,
    ShadowTally,
    Threshold,
    ThrottlePolicy,
    ThrottlingStarted,
    Verdict,
)

DEVICE = DEVICES[0]
CODE = 0x8014
LIVE = PolicyConfig(Threshold(limit=3, period=10, resume_below=2))
LOOSE = PolicyConfig(Threshold(limit=5, period=10))
EXEMPT = PolicyConfig(LIVE.default, exempt_codes={CODE})


def alerts(times: Any) -> list[Alert]:
    return [Alert(t, DEVICE, CODE) for t in times]


def test_a_storm_seen_by_two_candidates() -> None:
    shadow = ShadowPolicy(ThrottlePolicy(LIVE), {"loose": LOOSE, "exempt": EXEMPT})
    decisions = shadow.feed_many(alerts([0, 1, 2, 3, 4, 5, 6]))
    assert [d.verdict for d in decisions] == [Verdict.DELIVER] * 3 + [Verdict.THROTTLE] * 4
    shadow.advance(100)
    comparison = shadow.comparison
    assert comparison.live == ShadowTally(
        name="live", config=LIVE, alerts=7, delivered=3, throttled=4, episodes=1, notifications=2
    )
    loose = comparison.candidate("loose")
    assert (loose.delivered, loose.throttled, loose.episodes, loose.notifications) == (5, 2, 1, 2)
    assert (loose.different, loose.delivered_instead, loose.throttled_instead) == (2, 2, 0)
    exempt = comparison.candidate("exempt")
    # EXEMPT is a different verdict from DELIVER, but only THROTTLE keeps an alert back.
    assert (exempt.exempt, exempt.notifications, exempt.different) == (7, 0, 7)
    assert (exempt.delivered_instead, exempt.throttled_instead) == (4, 0)
    json.dumps(comparison.as_dict())
    assert [row["name"] for row in comparison.rows()] == ["live", "loose", "exempt"]
    with pytest.raises(KeyError):
        comparison.candidate("missing")


def test_candidates_start_from_the_live_state() -> None:
    live = ThrottlePolicy(LIVE)
    live.feed_many(alerts([0, 1, 2, 3, 4, 5]))  # episode 1 open, 3 pending
    shadow = ShadowPolicy(live, [LIVE, LOOSE])
    assert list(shadow.candidates) == ["candidate 1", "candidate 2"]
    same, loose = shadow.candidates.values()
    assert same.open_episodes() == live.open_episodes()
    # Under the looser limit the window (2..5) is below resume_below 5: over at once.
    assert loose.open_episodes() == []
    decision = shadow.feed(Alert(6, DEVICE, CODE))
    assert decision.verdict is Verdict.THROTTLE
    candidate = shadow.comparison.candidate("candidate 2")
    assert (candidate.alerts, candidate.delivered, candidate.delivered_instead) == (1, 1, 1)
    assert loose.pending_counts() == {}
    # The live policy is the one given, untouched by its candidates.
    assert shadow.live is live and live.stats.total == 7


@pytest.mark.parametrize(
    "candidates", ["LIVE", [LIVE, "x"], {"": LIVE}, {"live": LIVE}, 3]
)
def test_bad_candidates_are_refused(candidates: Any) -> None:
    with pytest.raises(PolicyError):
        ShadowPolicy(ThrottlePolicy(LIVE), candidates)


def test_errors_stop_everyone_at_the_same_alert() -> None:
    shadow = ShadowPolicy(ThrottlePolicy(LIVE, late="reject"), [LOOSE])
    with pytest.raises(ValueError) as caught:
        shadow.feed_many(alerts([5, 6, 1, 7]))
    assert caught.value.index == 2  # type: ignore[attr-defined]
    assert shadow.comparison.live.alerts == shadow.comparison.candidates[0].alerts == 2
    assert shadow.candidates["candidate 1"].clock == 6


def _tally(decisions: list[Decision], ended: list[Any]) -> tuple[int, ...]:
    verdicts = [d.verdict for d in decisions]
    events = [e for d in decisions for e in d.events] + ended
    return (
        verdicts.count(Verdict.DELIVER),
        verdicts.count(Verdict.THROTTLE),
        verdicts.count(Verdict.EXEMPT),
        sum(isinstance(e, ThrottlingStarted) for e in events),
        len(events),
    )


@given(live=configs(), candidates=st.lists(configs(), max_size=3), steps=streams())
@settings(deadline=None)
def test_shadowing_changes_nothing_and_tallies_what_each_would_do(
    live: PolicyConfig, candidates: list[PolicyConfig], steps: list[Any]
) -> None:
    shadow = ShadowPolicy(ThrottlePolicy(live), candidates)
    alone = [ThrottlePolicy(config) for config in (live, *candidates)]
    decisions: list[list[Decision]] = [[] for _ in alone]
    ended: list[list[Any]] = [[] for _ in alone]
    for kind, value in steps:
        if kind == "feed":
            got = shadow.feed(value)
            for policy, made in zip(alone, decisions, strict=True):
                made.append(policy.feed(value))
            assert got == decisions[0][-1]
        else:
            got_ended = shadow.advance(value)
            results = [policy.advance(value) for policy in alone]
            for result, found in zip(results, ended, strict=True):
                found.extend(result)
            assert got_ended == results[0]
    comparison = shadow.comparison
    for tally, made, found in zip(
        (comparison.live, *comparison.candidates), decisions, ended, strict=True
    ):
        assert _tally(made, found) == (
            tally.delivered,
            tally.throttled,
            tally.exempt,
            tally.episodes,
            tally.notifications,
        )
        pairs = list(zip(made, decisions[0], strict=True))
        assert tally.different == sum(a.verdict is not b.verdict for a, b in pairs)
        assert tally.delivered_instead == sum(
            a.verdict is not Verdict.THROTTLE and b.verdict is Verdict.THROTTLE for a, b in pairs
        )
        assert tally.throttled_instead == sum(
            a.verdict is Verdict.THROTTLE and b.verdict is not Verdict.THROTTLE for a, b in pairs
        )
    assert comparison.live.different == 0
