"""Issue 4 on the command line: ``report``, incidents and capacity in ``simulate``, policy files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from alertthrottle import (
    CapacityThresholds,
    PolicyError,
    PolicySpec,
    TrafficReader,
    builtin_policy,
    generate_scenario,
    incidents_per_recipient,
    parse_policy,
    root_cause_report,
)
from alertthrottle._ops.rootcause import CSV_FIELDS
from alertthrottle.cli import main

SMALL_MIXED = ["--scenario", "mixed", "--set", "devices=1500", "--set", "alerts=3000",
               "--set", "storm_alerts=5000", "--set", "outage_devices=30"]  # fmt: skip
DEVS = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(4)]

GUARDED = """
name = "guarded"
engage_at = "amber"

[default]
limit = 3
period = 60

[capacity]
period = 10
amber = 5
red = 8
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def storm_file(path: Path, *, makes: bool) -> Path:
    """Devices 0 and 1 storm 8014 (12 alerts each); device 2 sends two alerts."""
    lines = ["timestamp,device_id,code,recipients" + (",manufacturer,model,firmware" if makes
                                                      else "")]  # fmt: skip
    rows = []
    for i in range(12):
        rows.append((100 + i, DEVS[0], "A;B", "Acme,AM-E2,"))
        rows.append((100 + i, DEVS[1], "A", ",,"))
    rows += [(200, DEVS[2], "B", "Cobalt,CX-3,4.0.2"), (300, DEVS[2], "B", "Cobalt,CX-3,4.0.2")]
    for t, device, recipients, make in sorted(rows):
        lines.append(f"{t},{device},8014,{recipients}" + (f",{make}" if makes else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def registry_file(path: Path) -> Path:
    path.write_text(
        "device_id,manufacturer,model,firmware\n"
        f"{DEVS[0]},Other,X-1,1.9.3\n"
        f"{DEVS[1]},Brightwatt,BW-100,1.9.3\n"
    )
    return path


POLICY = """
[default]
limit = 3
period = 60
"""


# -- report ------------------------------------------------------------------------------


def test_report_json_equals_the_library_on_the_same_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "day.csv"
    status, _, _ = run(capsys, "generate", "mixed", *SMALL_MIXED[2:], "--out", str(path))
    assert status == 0
    status, out, _ = run(capsys, "report", str(path), "--json", "--policy", "proposed")
    assert status == 0
    data = json.loads(out)
    reader = TrafficReader(path)
    records = ((alert, reader.devices.get(alert.device_id)) for alert in reader)
    direct = root_cause_report(records, builtin_policy("proposed").build()).as_dict()
    assert data["totals"] == direct["totals"] and data["codes"] == direct["codes"]
    assert data["source"] == str(path) and data["skipped"] == 0
    assert data["totals"]["throttled"] > 0
    # The scenario's faulty firmware leads its power-factor storm.
    (code,) = [c for c in data["codes"] if c["code"] == "8014"]
    assert code["makes"][0]["firmware"] == "1.9.3"


def test_report_of_a_scenario_equals_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "report", *SMALL_MIXED, "--json", "--policy", "dcc-like")
    assert status == 0
    traffic = generate_scenario("mixed", devices=1500, alerts=3000, storm_alerts=5000,
                                outage_devices=30)  # fmt: skip
    records = ((alert, traffic.devices.get(alert.device_id)) for alert in traffic)
    direct = root_cause_report(records, builtin_policy("dcc-like").config).as_dict()
    assert json.loads(out)["codes"] == direct["codes"]


def test_devices_file_fills_the_makes_the_traffic_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traffic = storm_file(tmp_path / "t.csv", makes=True)
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    registry = registry_file(tmp_path / "devices.csv")
    status, out, _ = run(capsys, "report", str(traffic), "--policy", str(policy), "--json")
    makes = {(m["manufacturer"], m["model"], m["firmware"]): m
             for m in json.loads(out)["codes"][0]["makes"]}  # fmt: skip
    assert status == 0
    assert set(makes) == {("Acme", "AM-E2", None), (None, None, None), ("Cobalt", "CX-3", "4.0.2")}
    status, out, _ = run(capsys, "report", str(traffic), "--policy", str(policy), "--json",
                         "--devices", str(registry))  # fmt: skip
    rows = json.loads(out)["codes"][0]["makes"]
    # The traffic's own parts win; the registry fills the firmware and the unknown device.
    assert [(m["manufacturer"], m["model"], m["firmware"], m["throttled"]) for m in rows] == [
        ("Acme", "AM-E2", "1.9.3", 9),
        ("Brightwatt", "BW-100", "1.9.3", 9),
        ("Cobalt", "CX-3", "4.0.2", 0),
    ]
    assert rows[0]["episodes"] == 1 and rows[0]["throttled_share"] == 0.5


def test_report_csv_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = storm_file(tmp_path / "t.csv", makes=True)
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    status, out, _ = run(capsys, "report", str(traffic), "--policy", str(policy), "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and tuple(rows[0]) == CSV_FIELDS
    assert [(r["rank"], r["manufacturer"], r["throttled"]) for r in rows] == [
        ("1", "Acme", "9"), ("2", "", "9"), ("3", "Cobalt", "0")
    ]  # fmt: skip
    status, out, _ = run(capsys, "--plain", "report", str(traffic), "--policy", str(policy),
                         "--top", "1")  # fmt: skip
    assert status == 0
    assert "8014: 18 held back, 2 episodes, 26 alerts" in out
    assert "Acme" in out and "Cobalt" not in out and "2 more makes (--top 0 shows all)" in out


def test_report_needs_traffic_and_names_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report"])
    assert exit_info.value.code == 2
    assert "report needs TRAFFIC files or --scenario NAME" in capsys.readouterr().err
    traffic = storm_file(tmp_path / "t.csv", makes=False)
    bad = tmp_path / "devices.csv"
    bad.write_text("device_id,colour\n")
    status, _, err = run(capsys, "report", str(traffic), "--devices", str(bad))
    assert status == 1 and f"{bad}:1: header: unknown column" in err
    status, _, err = run(capsys, "report", str(traffic), "--devices", str(tmp_path / "none.csv"))
    assert status == 1 and "none.csv" in err


# -- simulate: incidents -----------------------------------------------------------------


def test_simulate_incidents_equal_the_library_on_the_replays_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--policy", "dcc-like",
                         "--policy", "proposed", "--json")  # fmt: skip
    assert status == 0
    data = json.loads(out)
    traffic = generate_scenario("mixed", devices=1500, alerts=3000, storm_alerts=5000,
                                outage_devices=30)  # fmt: skip
    for report, name in zip(data["policies"], ["dcc-like", "proposed"], strict=True):
        policy = builtin_policy(name).build()
        events = [event for alert in traffic for event in policy.feed(alert).events]
        direct = incidents_per_recipient(events, devices=traffic.devices)
        incidents = report["incidents"]
        assert list(incidents) == ["per-episode", "per-device-day", "per-problem"]
        for strategy, counts in direct.items():
            assert incidents[strategy]["per_recipient"] == counts
        assert incidents["per-episode"]["incidents"] == report["totals"]["episodes"]
        totals = [incidents[s]["incidents"] for s in incidents]
        assert totals == sorted(totals, reverse=True)
        assert totals[-1] >= 1 or name == "dcc-like"  # its 100 an hour is never reached here
        assert report["capacity"] is None
    status, out, _ = run(capsys, "--plain", "simulate", *SMALL_MIXED)
    assert "Incidents per recipient" in out and "per-device-day" in out
    assert "System capacity" not in out


def test_simulate_devices_file_groups_problems_by_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traffic = storm_file(tmp_path / "t.csv", makes=False)
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    args = ["simulate", str(traffic), "--policy", str(policy), "--json"]
    status, out, _ = run(capsys, *args)
    problems = json.loads(out)["policies"][0]["incidents"]["per-problem"]
    # No makes: both storming devices are one unknown problem, for A and B.
    assert status == 0 and problems == {"incidents": 1, "per_recipient": {"A": 1, "B": 1}}
    status, out, _ = run(capsys, *args, "--devices", str(registry_file(tmp_path / "d.csv")))
    report = json.loads(out)["policies"][0]
    assert report["incidents"]["per-problem"] == {"incidents": 2,
                                                 "per_recipient": {"A": 2, "B": 1}}  # fmt: skip
    assert {row["manufacturer"] for row in report["by_make"]} == {"Other", "Brightwatt", None}


# -- capacity in policy files and simulate ----------------------------------------------


def test_simulate_reports_capacity_level_changes_and_time_at_red(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One alert a second from 0 to 7: AMBER at 4 (5 in the window), RED at 7 (8); then the
    # window empties one a second from 10: AMBER at 10 (7 left), GREEN at 13 (4 < 5).
    path = tmp_path / "t.csv"
    rows = [f"{t},{DEVS[t % 4]},8F35" for t in range(8)] + [f"100,{DEVS[0]},8F35"]
    path.write_text("timestamp,device_id,code\n" + "\n".join(rows) + "\n")
    policy = tmp_path / "guarded.toml"
    policy.write_text(GUARDED)
    status, out, _ = run(capsys, "simulate", str(path), "--policy", str(policy), "--json")
    assert status == 0
    report = json.loads(out)["policies"][0]
    assert report["capacity"] == {
        "engage_at": "amber",
        "level_changes": 4,
        "red_entries": 1,
        "seconds_amber": 6.0,
        "seconds_red": 3.0,
        "final_level": "GREEN",
        "peak_window": 8,
    }
    assert report["policy"]["capacity"]["red_clear"] == 8
    status, out, _ = run(capsys, "--plain", "simulate", str(path), "--policy", str(policy))
    section = out[out.index("System capacity") :]
    line = next(line for line in section.splitlines() if line.startswith("guarded "))
    assert "AMBER >=5, RED >=8 alerts in 10s; throttling engaged at amber" in line
    assert line.split()[-6:] == ["4", "1", "0m06s", "0m03s", "GREEN", "8"]


def test_policy_file_capacity_round_trips_and_check_policy_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = parse_policy(GUARDED + "amber_clear = 4\n")
    assert spec.capacity == CapacityThresholds(10, 5, 8, amber_clear=4)
    assert spec.engage_at == "amber"
    built = spec.build()
    assert built.engage_at == "amber" and built.capacity is not None
    assert built.capacity.thresholds == spec.capacity
    assert spec.build().capacity is not built.capacity  # each policy gets its own guard
    assert parse_policy(spec.to_toml()) == spec
    assert PolicySpec.from_dict(spec.as_dict()) == spec
    plain = parse_policy(POLICY)
    assert "capacity" not in plain.as_dict() and "engage_at" not in plain.as_dict()
    assert "capacity" not in plain.to_toml() and plain.build().capacity is None
    path = tmp_path / "guarded.toml"
    path.write_text(spec.to_toml())
    status, out, _ = run(capsys, "check-policy", str(path))
    assert status == 0 and 'engage_at = "amber"' in out and "[capacity]" in out
    assert "# capacity: AMBER >=5 (left <4), RED >=8 alerts in 10s; throttling engaged at amber" \
        in out  # fmt: skip
    status, out, _ = run(capsys, "check-policy", str(path), "--json")
    assert json.loads(out)["capacity"] == {"period": 10, "amber": 5, "red": 8,
                                           "amber_clear": 4, "red_clear": 8}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("[capacity]\nperiod = 10\namber = 5\nred = 0\n", "capacity.red", "integer >= 1"),
        ("[capacity]\nperiod = 10\namber = 9\nred = 8\n", "capacity.amber", "must be <= red"),
        ("[capacity]\nperiod = 10\namber = 5\nred = 8\nred_clear = 9\n", "capacity.red_clear",
         "must be <= red"),
        ("[capacity]\nperiod = -1\namber = 5\nred = 8\n", "capacity.period", "seconds > 0"),
        ("[capacity]\namber = 5\nred = 8\n", "capacity.period", "is required"),
        ("[capacity]\nperiod = 1\namber = 5\nred = 8\nyellow = 6\n", "capacity.yellow",
         "unknown key"),
        ("capacity = 3\n", "capacity", "must be a table"),
        ('engage_at = "red"\n', "engage_at", "needs a [capacity] table"),
        ('engage_at = "orange"\n[capacity]\nperiod = 1\namber = 5\nred = 8\n', "engage_at",
         "'always', 'amber' or 'red'"),
    ],
)  # fmt: skip
def test_capacity_errors_name_the_key_path(text: str, field: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert info.value.field == field and message in str(info.value)


def test_sweep_keeps_the_base_policys_capacity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traffic = storm_file(tmp_path / "t.csv", makes=False)
    policy = tmp_path / "guarded.toml"
    args = ["sweep", str(traffic), "--limit", "2,3", "--period", "60", "--json"]
    # Two devices storming never make 500 alerts in 10 s: with the base's engage_at = "amber"
    # nothing is throttled at any grid point; without the guard the storm is.
    policy.write_text(GUARDED.replace("amber = 5", "amber = 500").replace("red = 8", "red = 800"))
    status, out, _ = run(capsys, *args, "--policy", str(policy))
    assert status == 0
    assert [row["throttled"] for row in json.loads(out)["grid"]] == [0, 0]
    policy.write_text(POLICY)
    status, out, _ = run(capsys, *args, "--policy", str(policy))
    assert [row["throttled"] for row in json.loads(out)["grid"]] == [20, 18]
