"""The command line on messy real exports: errors, order, late alerts, options, interrupts."""

from __future__ import annotations

import csv
import importlib
import io
import json
from pathlib import Path

import pytest

from alertthrottle import cli

DEV = "00-0D-6F-00-0A-BC-12-34"
OTHER = "00-0D-6F-00-0A-BC-12-35"
HEADER = "timestamp,device_id,code,recipients\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def traffic(tmp_path: Path, stamps: list[int], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{t},{DEV},8014,DNO\n" for t in stamps))
    return path


def test_a_bad_byte_fails_with_file_line_or_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + f"1,{DEV},8014,Soci\xe9t\xe9\n2,{DEV},8014,DNO\n").encode("latin-1"))
    status, _, err = run(capsys, "simulate", str(path), "--plain")
    assert status == 1 and f"{path}:2: row: has a byte that is not UTF-8" in err
    assert "Traceback" not in err
    status, out, _ = run(capsys, "simulate", str(path), "--plain", "--on-error", "skip")
    assert status == 0 and "skipped rows" in out


def test_milliseconds_get_a_hint_and_time_unit_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = traffic(tmp_path, [1_705_276_800_000 + i for i in range(0, 5000, 1000)])
    status, _, err = run(capsys, "simulate", str(path))
    assert status == 1 and "--time-unit ms" in err and err.count("\n") == 1
    status, out, _ = run(capsys, "simulate", str(path), "--time-unit", "ms", "--json")
    data = json.loads(out)
    assert status == 0 and data["alerts"] == 5 and data["first"].startswith("2024-01-15T00:00:00")


def test_unsorted_traffic_warns_with_the_share_and_the_true_span(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newest_first = list(range(1_705_276_800 + 999, 1_705_276_800 - 1, -1))
    path = traffic(tmp_path, newest_first)
    status, out, err = run(capsys, "simulate", str(path), "--json")
    assert status == 0
    assert "999 of 1,000 alerts (99.9%) came out of time order" in err
    assert "--sort" in err and "--reorder-window" in err
    assert max(len(line) for line in err.splitlines()) <= 80, err
    data = json.loads(out)
    assert data["first"].startswith("2024-01-15T00:00:00")
    assert data["last"].startswith("2024-01-15T00:16:39")
    for option in (["--sort"], ["--reorder-window", "1000"]):
        status, out, err = run(capsys, "simulate", str(path), "--json", *option)
        assert status == 0 and "time order" not in err
        assert json.loads(out)["policies"][0]["totals"]["late"] == 0


def test_reorder_window_smaller_than_the_disorder_leaves_late_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = traffic(tmp_path, [100, 200, 300, 150, 290])
    status, out, err = run(capsys, "simulate", str(path), "--json", "--reorder-window", "20")
    assert status == 0 and "1 of 5 alerts" in err
    assert json.loads(out)["policies"][0]["totals"]["late"] == 1


def test_a_reject_policy_names_file_line_and_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "strict.toml"
    policy.write_text('name = "strict"\nlate = "reject"\n[default]\nlimit = 5\nperiod = 60\n')
    path = traffic(tmp_path, [10, 20, 15, 30])
    status, _, err = run(capsys, "simulate", str(path), "--policy", str(policy))
    assert status == 1
    assert f"{path}:4: timestamp: is late for policy strict" in err
    status, out, _ = run(capsys, "simulate", str(path), "--policy", str(policy), "--json",
                         "--on-error", "skip")  # fmt: skip
    data = json.loads(out)
    assert status == 0 and data["alerts"] == 3 and data["skipped"] == 1
    assert data["skipped_rows"][0].startswith(f"{path}:4: timestamp: is late for policy strict")


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("option", ["--plain", "--json", "--csv"])
def test_output_options_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], where: str, option: str
) -> None:
    command = ["simulate", "--scenario", "ten-thousand-meters", "--set", "meters=50"]
    argv = [option, *command] if where == "before" else [*command, option]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    if option == "--json":
        json.loads(out)
    elif option == "--csv":
        assert out.startswith("policy,code,day")
    else:
        assert "Totals\n" in out and "┃" not in out


def test_csv_before_a_command_without_csv_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--csv", "check-policy", "proposed"])
    assert info.value.code == 2


def test_negative_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["simulate", "--busiest", "-1"], ["report", "--scenario", "mixed", "--top", "-2"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2


def test_ctrl_c_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    cli_main = importlib.import_module("alertthrottle.cli.main")
    monkeypatch.setattr(cli_main.Replay, "run", interrupted)
    status, _, err = run(capsys, "simulate")
    assert status == 130 and err == "alertthrottle: interrupted\n"


def test_an_empty_policy_warns_that_it_throttles_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "empty.toml"
    policy.write_text('name = "nothing"\n')
    path = traffic(tmp_path, [1, 2, 3])
    status, _, err = run(capsys, "simulate", str(path), "--policy", str(policy), "--plain")
    assert status == 0 and "policy nothing throttles nothing" in err


def test_an_empty_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    status, _, err = run(capsys, "simulate", str(path))
    assert (
        status == 1
        and err
        == f"alertthrottle: error: {path}: is empty: a traffic file "
        "starts with a header line (CSV) or a JSON object per line\n"
    )


def test_toml_errors_say_line_and_column_and_bad_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[default]\nlimit = = 3\n')
    status, _, err = run(capsys, "check-policy", str(bad))
    assert status == 1 and "line 3, column 9" in err
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Soci\xe9t\xe9"\n'.encode("latin-1"))
    status, _, err = run(capsys, "check-policy", str(latin))
    assert status == 1 and "not UTF-8 (0xE9 at line 1, column 13)" in err


def test_a_devices_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = tmp_path / "devices.csv"
    devices.write_bytes(f"device_id,manufacturer\n{DEV},Soci\xe9t\xe9\n".encode("latin-1"))
    path = traffic(tmp_path, [1, 2])
    status, _, err = run(capsys, "report", str(path), "--devices", str(devices))
    assert status == 1 and f"{devices}:2: row: has a byte that is not UTF-8" in err


def test_sweep_csv_is_written_by_the_csv_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "".join(f'{t},{DEV},8014,"=evil,ops"\n' for t in range(40)))
    status, out, _ = run(capsys, "sweep", str(path), "--limit", "5", "--period", "60", "--csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["busiest_recipient"] == "'=evil,ops"
    assert len(rows[0]) == 11


def test_plot_is_checked_before_the_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    cli_main = importlib.import_module("alertthrottle.cli.main")
    replayed = []
    monkeypatch.setattr(cli_main.Replay, "run", lambda *a, **k: replayed.append(1))
    target = tmp_path / "missing" / "p.png"
    status, out, err = run(capsys, "simulate", "--plot", str(target))
    assert status == 1 and "does not exist" in err and not replayed and out == ""


def test_a_failed_plot_keeps_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    cli_main = importlib.import_module("alertthrottle.cli.main")

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(cli_main, "write_plot", broken)
    path = traffic(tmp_path, [1, 2, 3])
    status, out, err = run(capsys, "simulate", str(path), "--json", "--plot",
                           str(tmp_path / "p.png"))  # fmt: skip
    assert status == 1 and json.loads(out)["alerts"] == 3
    assert (
        err.strip() == f"alertthrottle: error: plot not written to {tmp_path / 'p.png'}: disk full"
    )


def test_generate_out_is_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_main = importlib.import_module("alertthrottle.cli.main")
    target = tmp_path / "day.csv.gz"
    target.write_bytes(b"the previous file")
    real = cli_main.write_traffic

    def interrupted(alerts: object, out: io.StringIO, **kwargs: object) -> int:
        out.write("timestamp,device_id,code\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "write_traffic", interrupted)
    status, _, err = run(capsys, "generate", "mixed", "--out", str(target))
    assert status == 130 and err == "alertthrottle: interrupted\n"
    assert target.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv.gz"]
    monkeypatch.setattr(cli_main, "write_traffic", real)
    status, out, _ = run(capsys, "generate", "mixed", "--set", "devices=500", "--out", str(target))
    assert status == 0 and out.startswith("wrote ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv.gz"]


@pytest.mark.parametrize(
    "settings",
    [
        ["devices=10", "storm_devices=100"],
        ["devices=100", "storm_devices=80", "retry_devices=30"],
    ],
)
def test_contradictory_scenario_parameters_are_refused(
    capsys: pytest.CaptureFixture[str], settings: list[str]
) -> None:
    name = "power-factor-storm" if len(settings) == 2 else "mixed"
    argv = ["simulate", "--scenario", name]
    for item in settings:
        argv += ["--set", item]
    status, _, err = run(capsys, *argv)
    assert status == 1 and "must be at most devices" in err


def test_progress_shows_a_percentage_when_the_size_is_known(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    render = importlib.import_module("alertthrottle.cli.render")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with render.progress_reporter(screen, total=1000, position=lambda: 500) as update:
        assert update is not None
        update(65_536)
    assert "50%" in screen.getvalue()


def test_json_and_csv_together_are_a_usage_error_wherever_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = traffic(tmp_path, [1, 2])
    with pytest.raises(SystemExit) as info:
        cli.main(["--json", "simulate", str(path), "--csv"])
    assert info.value.code == 2 and "--json and --csv" in capsys.readouterr().err


def test_plot_onto_an_input_file_is_refused_before_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = traffic(tmp_path, [1, 2])
    before = path.read_bytes()
    status, out, err = run(capsys, "simulate", str(path), "--plot", str(path))
    assert status == 1 and out == "" and "is an input of this run" in err
    assert path.read_bytes() == before


def test_generate_out_has_the_usual_permissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    out = tmp_path / "t.csv"
    mask = os.umask(0o022)
    try:
        status, _, _ = run(capsys, "generate", "ten-thousand-meters", "--set", "meters=2",
                           "--out", str(out))  # fmt: skip
    finally:
        os.umask(mask)
    assert status == 0 and out.stat().st_mode & 0o777 == 0o644


def test_generate_list_reads_at_80_columns_and_takes_plain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "generate", "--list", "--plain")
    assert status == 0 and "scenario ," not in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert any(line.split()[:1] == ["storm_devices=3000"] for line in out.splitlines())
    with pytest.raises(SystemExit) as info:
        cli.main(["--json", "generate", "--list"])
    assert info.value.code == 2


def test_report_with_a_reject_policy_skipping_late_alerts_does_not_call_them_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = traffic(tmp_path, [10, 5, 20])
    policy = tmp_path / "strict.toml"
    policy.write_text('late = "reject"\n[default]\nlimit = 5\nperiod = 60\n')
    status, out, err = run(capsys, "report", str(path), "--policy", str(policy),
                           "--on-error", "skip", "--json")  # fmt: skip
    assert status == 0 and json.loads(out)["skipped"] == 1
    assert "replayed late" not in err


def test_policy_file_errors_say_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[default]\nlimit = = 3\n')
    status, _, err = run(capsys, "check-policy", str(bad))
    assert status == 1
    assert err == (
        f"alertthrottle: error: {bad}:3: toml: is not valid TOML at line 3, column 9 "
        "(invalid value), got 'limit = = 3'\n"
    )
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Soci\xe9t\xe9"\n'.encode("latin-1"))
    status, _, err = run(capsys, "simulate", str(traffic(tmp_path, [1])), "--policy", str(latin))
    assert status == 1 and f"error: {latin}:1: toml: has a byte that is not UTF-8" in err
    assert "got 'latin'" not in err and err.count(str(latin)) == 1


def test_a_devices_file_byte_error_shows_the_row_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = tmp_path / "devices.csv"
    devices.write_bytes(f"device_id,manufacturer\n{DEV},Soci\xe9t\xe9\n".encode("latin-1"))
    status, _, err = run(capsys, "simulate", str(traffic(tmp_path, [1])), "--devices", str(devices))
    assert status == 1 and f'got "{DEV},Soci\\xe9t\\xe9"' in err and "'0xE9'" not in err
    assert "(0xE9 at character 29)" in err


def test_a_json_number_of_thousands_of_digits_is_worded_for_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(f'{{"timestamp": {"9" * 5000}, "device_id": "{DEV}", "code": "8014"}}\n')
    status, _, err = run(capsys, "simulate", str(path))
    assert status == 1 and "has a number of more than 4,300 digits" in err
    assert "set_int_max_str_digits" not in err


def test_an_empty_policy_warns_in_check_policy_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    status, _, err = run(capsys, "check-policy", str(empty))
    assert status == 0 and "policy empty throttles nothing" in err


def test_tables_name_each_policys_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "made.csv"
    rows = "".join(f"{t},{DEV},8014,DNO,Acme,AM-1,1.0\n" for t in range(1, 30))
    path.write_text("timestamp,device_id,code,recipients,manufacturer,model,firmware\n" + rows)
    status, out, _ = run(capsys, "simulate", str(path), "--plain",
                         "--policy", "dcc-like", "--policy", "proposed")  # fmt: skip
    for title in ("Per alert code and day", "Busiest devices", "By device make"):
        table = out[out.index(title) :].split("\n\n")[0]
        assert "dcc-like: episodes" in table and "proposed: episodes" in table, title
    assert status == 0


def test_a_file_with_a_header_and_no_rows_shows_no_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "simulate", str(traffic(tmp_path, [])), "--plain")
    assert status == 0 and "- UTC" not in out


def test_format_takes_the_columnar_formats_the_docs_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    path = tmp_path / "export.bin"
    pq.write_table(pa.table({"timestamp": [1], "device_id": [DEV], "code": ["8014"]}), path)
    status, out, _ = run(capsys, "simulate", str(path), "--format", "parquet", "--json")
    assert status == 0 and json.loads(out)["alerts"] == 1


def test_rich_tables_into_a_closed_pipe_exit_0(tmp_path: Path) -> None:
    import subprocess
    import sys

    pytest.importorskip("rich")
    process = subprocess.Popen(
        [sys.executable, "-m", "alertthrottle", "generate", "--list"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(5)
    process.stdout.close()
    assert process.wait(timeout=60) == 0 and b"Traceback" not in process.stderr.read()


def test_generate_out_that_cannot_be_written_names_the_file_not_a_temporary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target in (tmp_path / "missing" / "t.csv", tmp_path):
        status, _, err = run(capsys, "generate", "ten-thousand-meters", "--set", "meters=2",
                             "--out", str(target))  # fmt: skip
        assert status == 1 and err.startswith(f"alertthrottle: error: {target}: cannot be written")
        assert ".tmp" not in err and "Errno" not in err
    assert list(tmp_path.iterdir()) == []
