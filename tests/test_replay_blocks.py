"""The replay feeds blocks of alerts with ``feed_many`` and counts them in bulk: its report
is the one the alert-by-alert loop (still used with observers) gives, exactly."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs
import pytest

from alertthrottle import (
    Alert,
    InvalidAlertError,
    LateAlertError,
    PolicySpec,
    Replay,
    TrafficError,
    builtin_policy,
    generate_scenario,
)
from alertthrottle._replay import replay as replay_module
from alertthrottle._replay.report import Report

SPECS = [builtin_policy("dcc-like"), builtin_policy("proposed")]
SIZES: dict[str, dict[str, int]] = {
    "power-factor-storm": {"alerts": 3000, "devices": 300, "storm_devices": 20},
    "ten-thousand-meters": {"meters": 300, "alerts_per_meter": 10},
    "mixed": {"alerts": 3000, "devices": 300, "storm_devices": 20, "storm_alerts": 1500,
              "retry_devices": 10, "outage_devices": 10},
}  # fmt: skip


def _mixed(seed: int, alerts: int) -> list[Alert]:
    return list(generate_scenario("mixed", seed=seed, **{**SIZES["mixed"], "alerts": alerts}))


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 97 alerts, so a small scenario crosses many block and progress boundaries."""
    monkeypatch.setattr(replay_module, "PROGRESS_EVERY", 300)
    monkeypatch.setattr(replay_module, "_BLOCK", 97)


def _ignore(alert: Alert, decisions: object) -> None:
    """An observer that keeps nothing: it makes the replay decide alert by alert."""


def _reports(
    runs: Sequence[Sequence[object]],
    policies: Sequence[PolicySpec],
    **options: object,
) -> tuple[Report, Report]:
    """The report of ``runs`` replayed in blocks, and alert by alert."""
    reports = []
    for observers in ((), (_ignore,)):
        replay = Replay(policies, observers=observers, **options)  # type: ignore[arg-type]
        for alerts in runs:
            replay.run(alerts)  # type: ignore[arg-type]
        reports.append(replay.report())
    return reports[0], reports[1]


@pytest.mark.parametrize("scenario", ["power-factor-storm", "ten-thousand-meters", "mixed"])
@pytest.mark.parametrize("policies", [1, 2])
def test_block_replay_of_the_scenarios_is_exact(scenario: str, policies: int) -> None:
    traffic = list(generate_scenario(scenario, seed=7, **SIZES[scenario]))
    blocks, reference = _reports([traffic], SPECS[:policies])
    assert blocks.policies[0].totals.alerts == len(traffic)
    assert blocks == reference


def test_block_replay_is_exact_across_runs_late_alerts_and_hours() -> None:
    traffic = _mixed(3, 2000)
    # Newest first within stretches: many late alerts, falling back into earlier hours.
    shuffled = [alert for i in range(0, len(traffic), 150) for alert in traffic[i : i + 150][::-1]]
    blocks, reference = _reports([shuffled[:500], shuffled[500:]], SPECS)
    assert blocks.policies[0].totals.late > 0
    assert blocks == reference


def test_block_replay_with_shadow_candidates_is_exact() -> None:
    traffic = list(
        generate_scenario("power-factor-storm", seed=5, alerts=2000, devices=200, storm_devices=20)
    )
    live, other = SPECS
    candidates = [attrs.evolve(other, name="other", late=live.late)]
    blocks, reference = _reports([traffic], SPECS, candidates=candidates)
    assert blocks.shadow is not None
    assert blocks == reference


def _failing(alerts: list[Alert], at: int) -> Iterator[Alert]:
    """The alerts, as a reader gives them, up to a bad row at index ``at``."""
    yield from alerts[:at]
    raise TrafficError("day.csv", at + 2, "code", "zz", "must be hexadecimal")


@pytest.mark.parametrize("at", [1, 96, 97, 150, 300])
def test_alerts_read_before_a_reader_error_mid_block_are_fed_and_counted(at: int) -> None:
    traffic = _mixed(11, 400)
    replay = Replay(SPECS)
    with pytest.raises(TrafficError):
        replay.run(_failing(traffic, at))
    assert replay.alerts == at
    assert [policy.stats.total for policy in replay.policies] == [at, at]
    blocks, reference = _reports([traffic[:at]], SPECS)
    assert replay.report() == blocks == reference


@pytest.mark.parametrize("at", [1, 40, 97, 200])
def test_an_alert_every_policy_refuses_mid_block_leaves_the_ones_before_it(at: int) -> None:
    traffic: list[object] = _mixed(13, 400)
    traffic.insert(at, "not an alert")
    replay = Replay(SPECS)
    with pytest.raises(InvalidAlertError) as info:
        replay.run(traffic)  # type: ignore[arg-type]
    # Raised as feeding the alert alone raises it: no index into a block.
    assert info.value.index is None
    assert not getattr(info.value, "__notes__", None)
    assert [policy.stats.total for policy in replay.policies] == [at, at]
    assert replay.alerts == at
    assert replay.report() == _reports([traffic[:at]], SPECS)[1]


def test_a_late_alert_mid_block_under_reject_with_several_policies() -> None:
    # Policies that reject late alerts are fed alert by alert: the ones before the
    # rejecting policy decided the late alert, as the loop always did.
    traffic = list(
        generate_scenario("power-factor-storm", seed=2, alerts=300, devices=40, storm_devices=5)
    )
    late = attrs.evolve(traffic[150], timestamp=traffic[149].timestamp - 1)
    alerts = [*traffic[:150], late, *traffic[151:]]
    strict = attrs.evolve(SPECS[1], late="reject", name="strict")
    replay = Replay([SPECS[0], strict])
    with pytest.raises(LateAlertError):
        replay.run(alerts)
    assert [policy.stats.total for policy in replay.policies] == [151, 150]
    assert replay.alerts == 150
    alone = Replay([strict])
    with pytest.raises(LateAlertError) as info:
        alone.run(alerts)
    assert alone.alerts == 150
    assert info.value.index is None
    assert alone.report().policies[0] == _reports([traffic[:150]], [strict])[0].policies[0]
