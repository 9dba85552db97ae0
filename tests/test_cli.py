"""The command line, in process (cli.main) and once as ``python -m alertthrottle``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import plain_run_counts

from alertthrottle import (
    ThrottlePolicy,
    builtin_policy,
    cli,
    generate_scenario,
    load_policy,
)
from alertthrottle.cli import render as _render

SMALL_MIXED = ["--scenario", "mixed", "--set", "devices=1500", "--set", "alerts=3000",
               "--set", "storm_alerts=5000", "--set", "outage_devices=30"]  # fmt: skip
DEV = "00-0D-6F-00-0A-BC-12-34"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_simulate_with_no_arguments_is_meaningful(capsys: pytest.CaptureFixture[str]) -> None:
    # How quick it is is measured by benchmarks/replay.py, never asserted here: a wall-clock
    # bound fails on a busy machine and proves nothing on an idle one.
    status, out, _ = run(capsys, "simulate")
    assert status == 0
    for heading in ("Totals", "What notifying would cost", "Per alert code and day",
                    "Per recipient and day", "Busiest devices", "By device make",
                    "Peak hour"):  # fmt: skip
        assert heading in out
    assert "built-in power-factor-storm" in out and "proposed" in out


def test_json_has_totals_per_policy_that_balance(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "simulate", *SMALL_MIXED, "--policy", "dcc-like", "--policy", "proposed", "--json"
    )
    assert status == 0
    data = json.loads(out)
    assert [p["name"] for p in data["policies"]] == ["dcc-like", "proposed"]
    for policy in data["policies"]:
        totals = policy["totals"]
        assert {"alerts", "delivered", "throttled", "exempt", "late", "skipped",
                "episodes"} <= set(totals)  # fmt: skip
        assert totals["delivered"] + totals["throttled"] + totals["exempt"] == totals["alerts"]
        assert totals["alerts"] == data["alerts"]
        assert policy["policy"]["name"] == policy["name"]
        assert sum(row["offered"] for row in policy["by_code"]) == totals["alerts"]
    assert data["policies"][1]["totals"]["throttled"] > data["policies"][0]["totals"]["throttled"]


def test_csv_is_the_per_code_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) == {"policy", "code", "day", "offered", "delivered", "exempt",
                                     "throttled", "suppression_pct", "episodes"}  # fmt: skip
    assert {row["code"] for row in rows} >= {"8014", "8015", "8F84", "8F35"}


def test_generate_then_simulate_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.csv.gz", tmp_path / "b" / "a.csv.gz"
    second.parent.mkdir()
    for path in (first, second):
        status, out, _ = run(capsys, "generate", "ten-thousand-meters", "--set", "meters=300",
                             "--seed", "3", "--out", str(path))  # fmt: skip
        assert status == 0 and "wrote 3,000 alerts" in out
    assert first.read_bytes() == second.read_bytes()
    status, out, _ = run(capsys, "simulate", str(first), "--json")
    data = json.loads(out)
    assert data["alerts"] == 3000 and data["source"] == str(first)
    assert data["policies"][0]["by_make"]  # the make columns came through


def test_generate_jsonl_to_stdout_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "generate", "ten-thousand-meters", "--set", "meters=2",
                         "--format", "jsonl")  # fmt: skip
    lines = out.splitlines()
    assert status == 0 and len(lines) == 20 and json.loads(lines[0])["code"] == "8F84"
    status, out, _ = run(capsys, "generate", "--list")
    assert status == 0 and "storm_share" in out and "ten-thousand-meters" in out
    status, out, _ = run(capsys, "--plain", "generate", "--list")
    assert status == 0 and "┃" not in out and "storm_share=0.95" in out


def test_bad_row_fails_with_location_or_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"timestamp,device_id,code,recipients\n1,{DEV},8014,A\n2,nope,8014,A\n")
    status, _, err = run(capsys, "simulate", str(path))
    assert status == 1
    assert f"{path}:3: device_id: must be an EUI-64" in err
    status, out, _ = run(capsys, "simulate", str(path), "--on-error", "skip", "--json")
    data = json.loads(out)
    assert status == 0 and data["skipped"] == 1 and data["alerts"] == 1
    assert data["skipped_rows"][0].startswith(f"{path}:3: device_id:")
    assert data["policies"][0]["totals"]["skipped"] == 1
    status, out, _ = run(capsys, "simulate", str(path), "--on-error", "skip")
    assert "Skipped rows (1)" in out


def test_stdin_and_several_files_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = tmp_path / "a.csv"
    a.write_text(f"timestamp,device_id,code\n1,{DEV},8014\n5,{DEV},8014\n")
    data = f'{{"timestamp": 3, "device_id": "{DEV}", "code": "8014"}}\n'.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, out, _ = run(capsys, "simulate", str(a), "-", "--json")
    report = json.loads(out)
    assert status == 0 and report["alerts"] == 3 and report["policies"][0]["totals"]["late"] == 0


def test_policy_files_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "tight.toml"
    good.write_text('exempt_codes = ["8F35"]\n[default]\nlimit = 2\nperiod = 600\n')
    status, out, _ = run(capsys, "check-policy", str(good))
    assert status == 0 and out.startswith('name = "tight"\nlate = "clamp"\n')
    assert "[default]\nlimit = 2\nperiod = 600\nresume_below = 2\n" in out
    status, out, _ = run(capsys, "check-policy", str(good), "--json")
    assert json.loads(out)["default"] == {"limit": 2, "period": 600, "resume_below": 2}
    bad = tmp_path / "bad.toml"
    bad.write_text("[per_code.8014]\nlimit = 0\nperiod = 60\n")
    status, _, err = run(capsys, "check-policy", str(bad))
    assert status == 1
    assert f"{bad}: per_code.8014.limit: must be an integer in 1..1,000,000, got 0" in err
    status, _, err = run(capsys, "simulate", *SMALL_MIXED, "--policy", str(bad))
    assert status == 1 and "per_code.8014.limit" in err
    status, _, err = run(capsys, "check-policy", str(tmp_path / "missing.toml"))
    assert status == 1 and "no such policy file" in err
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--policy", str(good),
                         "--policy", str(good), "--json")  # fmt: skip
    assert [p["name"] for p in json.loads(out)["policies"]] == ["tight", "tight#2"]


def test_sweep_grid(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "sweep", *SMALL_MIXED, "--limit", "5,20", "--period",
                         "900,3600", "--resume-below", "2,10", "--json")  # fmt: skip
    assert status == 0
    grid = json.loads(out)["grid"]
    # resume_below=10 is skipped for limit 5.
    assert [(g["limit"], g["period"], g["resume_below"]) for g in grid] == [
        (5, 900, 2), (5, 3600, 2), (20, 900, 2), (20, 900, 10), (20, 3600, 2), (20, 3600, 10),
    ]  # fmt: skip
    assert all(g["recipient_daily"] for g in grid)
    assert grid[0]["suppression_pct"] >= grid[2]["suppression_pct"]
    status, out, _ = run(capsys, "sweep", *SMALL_MIXED, "--limit", "5", "--period", "3600",
                         "--code", "8014,8015")  # fmt: skip
    assert status == 0 and "Sweep over 8014, 8015" in out
    status, out, _ = run(capsys, "sweep", *SMALL_MIXED, "--limit", "5", "--period", "60", "--csv")
    assert out.startswith("limit,period,resume_below,suppression_pct")


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["simulate", "x.csv", "--scenario", "mixed"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--set", "devices=3"])
    status, _, err = run(capsys, "simulate", "--scenario", "mixed", "--set", "devicez=3")
    assert status == 1 and "devicez: is not a parameter of mixed" in err


def test_plain_text_without_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_render, "_rich_available", lambda: False)
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED)
    assert status == 0
    assert "Totals\n" in out and "┃" not in out
    assert "episodes started" in out


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "hourly.png"
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--policy", "dcc-like",
                         "--policy", "proposed", "--plot", str(path))  # fmt: skip
    assert status == 0 and f"plot written to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_dash_m(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "alertthrottle", "check-policy", "dcc-like"],
        capture_output=True, text=True, cwd=root, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'name = "dcc-like"' in result.stdout


def test_candidates_in_json_equal_plain_runs_of_each_candidate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tight = tmp_path / "tight.toml"
    tight.write_text('exempt_codes = ["8F35"]\n[default]\nlimit = 3\nperiod = 900\n')
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--candidate", "dcc-like",
                         "--candidate", str(tight), "--candidate", "proposed",
                         "--json")  # fmt: skip
    assert status == 0
    data = json.loads(out)
    alerts = list(generate_scenario("mixed", devices=1500, alerts=3000, storm_alerts=5000,
                                    outage_devices=30))  # fmt: skip
    assert data["alerts"] == len(alerts)
    live = builtin_policy("proposed")
    live_verdicts = [d.verdict for d in ThrottlePolicy(live.config).feed_many(alerts)]
    shadow = data["shadow"]
    assert shadow["live"]["config"] == live.config.as_dict()
    live_totals = data["policies"][0]["totals"]
    for key in ("delivered", "throttled", "exempt", "episodes"):
        assert shadow["live"][key] == live_totals[key]
    configs = [builtin_policy("dcc-like"), load_policy(tight), live]
    assert [c["name"] for c in shadow["candidates"]] == ["dcc-like", "tight", "proposed"]
    for candidate, spec in zip(shadow["candidates"], configs, strict=True):
        expected = plain_run_counts(spec.config, alerts, live_verdicts)
        assert {key: candidate[key] for key in expected} == expected
        assert candidate["config"] == spec.config.as_dict()
    same = shadow["candidates"][2]
    assert (same["different"], same["delivered_instead"], same["throttled_instead"]) == (0, 0, 0)
    assert shadow["candidates"][0]["delivered_instead"] > 0
    assert shadow["candidates"][1]["throttled_instead"] > 0


def test_candidates_in_the_tables_and_their_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "--plain", "simulate", *SMALL_MIXED, "--policy", "dcc-like",
                         "--candidate", "proposed")  # fmt: skip
    assert status == 0
    section = out.split("Shadow comparison\n", 1)[1].split("\n\n", 1)[0]
    lines = section.splitlines()
    assert lines[0].split() == ["policy", "delivered", "throttled", "exempt", "episodes",
                                "notifications", "different", "delivered", "instead",
                                "throttled", "instead"]  # fmt: skip
    assert lines[2].startswith("live (dcc-like)") and lines[3].startswith("proposed ")
    assert "shadow: proposed" in out
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED)
    assert "Shadow comparison" not in out and "shadow:" not in out
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--json")
    assert "shadow" not in json.loads(out)
    live = tmp_path / "live.toml"
    live.write_text("[default]\nlimit = 3\nperiod = 900\n")
    status, out, _ = run(capsys, "simulate", *SMALL_MIXED, "--candidate", str(live),
                         "--candidate", str(live), "--json")  # fmt: skip
    assert [c["name"] for c in json.loads(out)["shadow"]["candidates"]] == ["live#2", "live#3"]
    rejecting = tmp_path / "rejecting.toml"
    rejecting.write_text('late = "reject"\n[default]\nlimit = 3\nperiod = 900\n')
    status, _, err = run(capsys, "simulate", *SMALL_MIXED, "--candidate", str(rejecting))
    assert status == 1 and "candidates.rejecting.late" in err and "'clamp'" in err
    status, _, err = run(capsys, "simulate", *SMALL_MIXED, "--candidate", "nonesuch")
    assert status == 1 and "nonesuch: no such policy file" in err
