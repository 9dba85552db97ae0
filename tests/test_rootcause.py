"""Root-cause reports: makes ranked per alert code, CSV and JSON, device registries."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import DEVICES, REGISTRY, traffic

from alertthrottle import (
    Alert,
    CapacityGuard,
    CapacityThresholds,
    DeviceInfo,
    PolicyConfig,
    PolicyError,
    PolicySpec,
    Threshold,
    ThrottlePolicy,
    ThrottlingStarted,
    TrafficError,
    Verdict,
    load_device_registry,
    read_traffic,
    root_cause_csv,
    root_cause_json,
    root_cause_report,
    simulate,
    write_traffic,
)

CONFIG = PolicyConfig(Threshold(limit=2, period=30, resume_below=1), exempt_codes={0x8F35})


def _make(info: DeviceInfo | None) -> tuple[str | None, str | None, str | None]:
    info = info or DeviceInfo()
    return (info.manufacturer, info.model, info.firmware)


@settings(deadline=None)
@given(traffic(), st.booleans())
def test_report_recounts_the_replay(alerts: list[Alert], own_make: bool) -> None:
    # With own_make, the records carry the make (as a traffic file would), else the registry.
    records = [(a, REGISTRY.get(a.device_id)) if own_make else a for a in alerts]
    report = root_cause_report(records, CONFIG, None if own_make else REGISTRY)
    policy = ThrottlePolicy(CONFIG)
    throttled: Counter[tuple[object, int]] = Counter()
    episodes: Counter[tuple[object, int]] = Counter()
    sent: dict[tuple[object, int], set[str]] = {}
    for alert in alerts:
        key = (_make(REGISTRY.get(alert.device_id)), alert.code)
        decision = policy.feed(alert)
        sent.setdefault(key, set()).add(alert.device_id)
        throttled[key] += decision.verdict is Verdict.THROTTLE
        episodes[key] += any(isinstance(e, ThrottlingStarted) for e in decision.events)
    assert (report.alerts, report.throttled, report.episodes) == (
        len(alerts),
        policy.stats.throttled,
        policy.stats.episodes,
    )
    assert report.devices == len({a.device_id for a in alerts})
    assert len(report.rows) == len(sent)
    for row in report.rows:
        key = ((row.manufacturer, row.model, row.firmware), row.code)
        assert (row.throttled, row.episodes, row.devices) == (
            throttled[key],
            episodes[key],
            len(sent[key]),
        )
        assert row.devices_affected <= row.devices and row.episodes >= row.devices_affected
    for code in report.codes():
        rows = report.for_code(code)
        assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
        ranks = [(-r.throttled, -r.episodes, -r.devices_affected, -r.alerts) for r in rows]
        assert ranks == sorted(ranks)
        if sum(r.throttled for r in rows):
            assert sum(r.throttled_share for r in rows) == pytest.approx(1, abs=1e-3)
    # The CSV and the JSON say the same as the rows.
    parsed = list(csv.DictReader(io.StringIO(root_cause_csv(report))))
    assert [(int(r["code"], 16), int(r["rank"]), int(r["throttled"])) for r in parsed] == [
        (r.code, r.rank, r.throttled) for r in report.rows
    ]
    document = json.loads(root_cause_json(report))
    assert document["totals"]["throttled"] == report.throttled
    assert [m["throttled"] for c in document["codes"] for m in c["makes"]] == [
        r.throttled for r in report.rows
    ]


def _storm(device: str, start: int, n: int, code: int = 0x8014) -> list[Alert]:
    return [Alert(start + i, device, code) for i in range(n)]


def test_a_storming_firmware_ranks_first_and_unknowns_are_grouped() -> None:
    alerts = sorted(
        _storm(DEVICES[0], 0, 10)  # Acme M1 1.0: 8 throttled
        + _storm(DEVICES[1], 100, 6)  # Acme M1 1.0: 4 throttled
        + _storm(DEVICES[2], 200, 3)  # Acme M1 1.1: 1 throttled
        + _storm(DEVICES[4], 300, 4)  # unknown: 2 throttled
        + _storm(DEVICES[5], 400, 2)  # unknown: none
        + _storm(DEVICES[3], 500, 3, 0x8F35),  # exempt code
        key=lambda a: a.timestamp,
    )
    report = root_cause_report(alerts, CONFIG, REGISTRY)
    assert report.codes() == [0x8014, 0x8F35]
    top, second, third = report.for_code(0x8014)
    assert (top.manufacturer, top.firmware, top.throttled, top.episodes) == ("Acme", "1.0", 12, 2)
    assert (top.devices_affected, top.devices, top.throttled_share) == (2, 2, 0.8)
    assert (second.manufacturer, second.throttled, second.devices) == (None, 2, 2)
    assert (third.firmware, third.throttled) == ("1.1", 1)
    (exempt,) = report.for_code(0x8F35)
    assert (exempt.manufacturer, exempt.alerts, exempt.throttled) == ("Bolt", 3, 0)
    assert root_cause_csv(report).splitlines()[1] == "8014,1,Acme,M1,1.0,12,0.8,2,2,2,16"
    unknown = json.loads(root_cause_json(report))["codes"][0]["makes"][1]
    assert unknown["manufacturer"] is None and unknown["code"] == "8014"


def test_the_records_make_wins_field_by_field() -> None:
    registry = {DEVICES[0]: DeviceInfo("Acme", "M1", "1.0")}
    records = [(a, DeviceInfo(firmware="2.0")) for a in _storm(DEVICES[0], 0, 5)]
    (row,) = root_cause_report(records, CONFIG, registry).rows
    assert (row.manufacturer, row.model, row.firmware) == ("Acme", "M1", "2.0")


def test_a_configured_policy_is_fed_as_it_is() -> None:
    policy = ThrottlePolicy(
        CONFIG, capacity=CapacityGuard(CapacityThresholds(10, 100, 200)), engage_at="red"
    )
    report = root_cause_report(_storm(DEVICES[0], 0, 10), policy)
    assert report.throttled == 0 and policy.stats.total == 10
    with pytest.raises(PolicyError):
        root_cause_report([], {"default": {}})  # type: ignore[arg-type]


def test_load_device_registry(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(
        "device_id,manufacturer,model,firmware\n"
        "00-0d-6f-00-0a-bc-12-00,Acme,M1,1.0\n"
        "\n"
        "000D6F000ABC1201,Acme,,\n"
        "00-0D-6F-00-0A-BC-12-00,Acme,M1,1.0\n"
    )
    assert load_device_registry(path) == {
        DEVICES[0]: DeviceInfo("Acme", "M1", "1.0"),
        DEVICES[1]: DeviceInfo("Acme", None, None),
    }
    (tmp_path / "short.csv").write_text("firmware,device_id\n2.1,00-0D-6F-00-0A-BC-12-02\n")
    assert load_device_registry(tmp_path / "short.csv") == {DEVICES[2]: DeviceInfo(firmware="2.1")}


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("", 1, "header"),
        ("device_id,manufactuer\n", 1, "header"),
        ("manufacturer\nAcme\n", 1, "header"),
        ("device_id,model\nnot-a-device,M1\n", 2, "device_id"),
        ("device_id,model\n00-0D-6F-00-0A-BC-12-00\n", 2, "row"),
        ("device_id,model\n00-0D-6F-00-0A-BC-12-00,A\n00-0D-6F-00-0A-BC-12-00,B\n", 3, "device_id"),
    ],
)
def test_bad_registries_say_file_and_line(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(text)
    with pytest.raises(TrafficError) as info:
        load_device_registry(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(f"{path}:{line}:")


def test_from_a_traffic_file_with_makes(tmp_path: Path) -> None:
    path = tmp_path / "traffic.csv"
    alerts = sorted(_storm(DEVICES[0], 0, 6) + _storm(DEVICES[2], 2, 4), key=lambda a: a.timestamp)
    with open(path, "w", newline="") as out:
        write_traffic(alerts, out, devices=REGISTRY)
    reader = read_traffic(path)
    records = ((alert, reader.devices.get(alert.device_id)) for alert in reader)
    report = root_cause_report(records, CONFIG)
    assert [(r.firmware, r.throttled) for r in report.rows] == [("1.0", 4), ("1.1", 2)]



@settings(max_examples=50)
@given(traffic())
def test_root_cause_totals_equal_a_simulate_run_of_the_same_traffic(alerts: list[Alert]) -> None:
    """One replay loop: the root-cause report and simulate count the same decisions."""
    report = root_cause_report(alerts, CONFIG, REGISTRY)
    totals = simulate(alerts, [PolicySpec(CONFIG)]).policies[0].totals
    assert (report.alerts, report.throttled, report.episodes) == (
        totals.alerts,
        totals.throttled,
        totals.episodes,
    )


def test_registry_ids_in_any_spelling_and_bad_registries_are_refused() -> None:
    alerts = [Alert(t, DEVICES[0], 0x8014) for t in range(4)]
    lower = {DEVICES[0].lower(): DeviceInfo("Acme", "M1", "1.0")}
    [row] = root_cause_report(alerts, CONFIG, lower).rows
    assert (row.manufacturer, row.model, row.firmware) == ("Acme", "M1", "1.0")
    with pytest.raises(PolicyError, match="devices"):
        root_cause_report(alerts, CONFIG, {DEVICES[0]: "Acme"})  # type: ignore[dict-item]
    with pytest.raises(PolicyError, match="devices"):
        root_cause_report(alerts, CONFIG, [DEVICES[0]])  # type: ignore[arg-type]
