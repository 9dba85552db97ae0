"""Synthetic scenarios: seeded, deterministic, time-ordered, shaped as documented."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from alertthrottle import Alert, ScenarioError, generate_scenario
from alertthrottle._replay.scenarios import DEFAULT_START, SCENARIOS

SMALL = {
    "power-factor-storm": {"devices": 2000, "storm_devices": 40, "alerts": 20_000},
    "ten-thousand-meters": {"meters": 500},
    "mixed": {"devices": 2000, "alerts": 4000, "storm_alerts": 6000, "outage_devices": 40},
}


def alerts_of(name: str, **kwargs: object) -> list[Alert]:
    return list(generate_scenario(name, **{**SMALL[name], **kwargs}))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_traffic_other_seed_other_traffic(name: str) -> None:
    first = alerts_of(name, seed=7)
    assert first == alerts_of(name, seed=7)
    assert first != alerts_of(name, seed=8)
    traffic = generate_scenario(name, seed=7, **SMALL[name])  # type: ignore[arg-type]
    assert list(traffic) == first  # iterating again regenerates the same alerts
    assert set(traffic.devices) >= {alert.device_id for alert in first}


@pytest.mark.parametrize("name", ["power-factor-storm", "ten-thousand-meters"])
def test_time_ordered_within_the_days(name: str) -> None:
    alerts = alerts_of(name, days=2)
    times = [alert.timestamp for alert in alerts]
    assert times == sorted(times)
    assert times[0] >= DEFAULT_START and times[-1] < DEFAULT_START + 2 * 86_400 + 3600
    # The second day has traffic of its own.
    assert sum(t >= DEFAULT_START + 86_400 for t in times) > len(times) / 3


def test_power_factor_storm_is_mostly_flapping_from_a_few_meters_of_one_make() -> None:
    traffic = generate_scenario("power-factor-storm", **SMALL["power-factor-storm"])
    alerts = list(traffic)
    assert abs(len(alerts) - 20_000) < 1000
    codes = Counter(alert.code for alert in alerts)
    flaps = codes[0x8014] + codes[0x8015]
    assert flaps / len(alerts) > 0.9
    per_device = Counter(alert.device_id for alert in alerts if alert.code in (0x8014, 0x8015))
    top = [device for device, _ in per_device.most_common(40)]
    makes = Counter(traffic.devices[device].firmware for device in top)
    assert makes.most_common(1)[0] == ("1.9.3", makes["1.9.3"]) and makes["1.9.3"] > 25
    # 8014/8015 go to the network operator; 8F84 to the supplier.
    for alert in alerts[:500]:
        if alert.code == 0x8014:
            assert alert.recipients[0].startswith("DNO-") and len(alert.recipients) == 1
        if alert.code == 0x8F84:
            assert alert.recipients[0].startswith("SUPPLIER-")


def test_ten_thousand_meters_sends_exactly_n_bursts() -> None:
    alerts = alerts_of("ten-thousand-meters", alerts_per_meter=7, burst_seconds=60.0, days=2)
    assert len(alerts) == 500 * 7 * 2
    by_device: dict[str, list[float]] = {}
    for alert in alerts:
        by_device.setdefault(alert.device_id, []).append(alert.timestamp)
    assert len(by_device) == 500
    for times in by_device.values():
        day_one = [t for t in times if t < DEFAULT_START + 86_400 + 3600]
        assert len(times) == 14
        assert max(day_one[:7]) - min(day_one[:7]) <= 60


def test_mixed_has_late_alerts_and_an_exempt_outage() -> None:
    alerts = alerts_of("mixed")
    late = sum(b.timestamp < a.timestamp for a, b in itertools.pairwise(alerts))
    assert late > 0
    codes = Counter(alert.code for alert in alerts)
    assert codes[0x8F84] > 1000  # the retry storms
    outage = [a for a in alerts if a.code in (0x8F35, 0x8F36)]
    by_minute = Counter(int(a.timestamp) // 600 for a in outage)
    assert by_minute.most_common(1)[0][1] >= 40  # restored together
    no_late = alerts_of("mixed", late_share=0.0)
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(no_late))


def test_parameters_are_converted_and_checked() -> None:
    traffic = generate_scenario("ten-thousand-meters", meters="3", burst_seconds="5", code="8014")
    assert traffic.parameters["meters"] == 3 and traffic.parameters["code"] == 0x8014
    assert "code=8014" in traffic.description
    assert {a.code for a in traffic} == {0x8014}
    for kwargs, field in [
        ({"meterz": 3}, "meterz"),
        ({"meters": "many"}, "meters"),
        ({"meters": -1}, "meters"),
        ({"meters": 2.5}, "meters"),
        ({"shape": "square"}, "shape"),
        ({"code": "80X4"}, "code"),
        ({"days": 0}, "days"),
    ]:
        with pytest.raises(ScenarioError) as info:
            generate_scenario("ten-thousand-meters", **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(ScenarioError, match="share"):
        generate_scenario("power-factor-storm", storm_share=1.5)
    with pytest.raises(ScenarioError, match="scenario"):
        generate_scenario("nope")


@pytest.mark.slow
def test_full_power_factor_day_has_more_than_two_million_storm_alerts() -> None:
    counts = Counter(alert.code for alert in generate_scenario("power-factor-storm"))
    assert counts[0x8014] + counts[0x8015] > 2_000_000
