"""The replay feeds blocks of alerts with ``feed_many`` (blocks of columns with
``feed_columns``, from a reader) and counts them in bulk: its report is the one the
alert-by-alert loop (still used with observers) gives, exactly."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest

from alertthrottle import (
    Alert,
    AlertColumns,
    InvalidAlertError,
    LateAlertError,
    PolicySpec,
    Replay,
    TrafficError,
    TrafficReader,
    builtin_policy,
    generate_scenario,
    write_traffic,
)
from alertthrottle._core.columns import shaped_columns, shapes_of
from alertthrottle._core.shapes import ShapeTable
from alertthrottle._io import traffic as traffic_module
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


# -- a TrafficReader: blocks of columns (feed_columns), counted from the columns ------------


def _csv(alerts: Sequence[Alert], bad: dict[int, str] | None = None) -> bytes:
    """``alerts`` as a CSV export; ``bad`` puts a raw line before the alert at each index."""
    out = io.StringIO()
    write_traffic(alerts, out)
    header, *lines = out.getvalue().splitlines(keepends=True)
    for at, line in sorted((bad or {}).items(), reverse=True):
        lines.insert(at, line)
    return "".join([header, *lines]).encode()


def _reader(data: bytes, **options: Any) -> TrafficReader:
    return TrafficReader(io.BytesIO(data), name="day.csv", **options)


def _column_reports(
    files: Sequence[bytes], policies: Sequence[PolicySpec], **options: Any
) -> tuple[Report, Report]:
    """The report of ``files`` replayed from readers (in columns), and alert by alert."""
    columns = Replay(policies, **options)
    for data in files:
        columns.run(_reader(data))
    alone = Replay(policies, observers=[_ignore], **options)
    for data in files:
        alone.run(list(_reader(data)))
    return columns.report(), alone.report()


@pytest.mark.parametrize("scenario", ["power-factor-storm", "ten-thousand-meters", "mixed"])
@pytest.mark.parametrize("policies", [1, 2])
def test_column_replay_of_a_reader_is_exact(
    scenario: str, policies: int, fed_columns: list[int]
) -> None:
    traffic = list(generate_scenario(scenario, seed=7, **SIZES[scenario]))
    columns, reference = _column_reports([_csv(traffic)], SPECS[:policies])
    assert sum(fed_columns) == len(traffic) * policies
    assert columns.policies[0].totals.alerts == columns.alerts == len(traffic)
    assert columns == reference


def test_column_replay_is_exact_across_files_late_alerts_and_hours(fed_columns: list[int]) -> None:
    traffic = _mixed(3, 2000)
    # Newest first within stretches: many late alerts, falling back into earlier hours.
    shuffled = [alert for i in range(0, len(traffic), 150) for alert in traffic[i : i + 150][::-1]]
    files = [_csv(shuffled[:500]), _csv(shuffled[500:])]
    columns, reference = _column_reports(files, SPECS)
    assert fed_columns
    assert columns.policies[0].totals.late > 0
    assert len({row.hour for row in columns.policies[0].hourly}) > 1
    assert columns == reference


@pytest.mark.parametrize("table", [1, 40, 1 << 17])
@pytest.mark.parametrize("policies", [1, 2])
def test_column_replay_counted_by_shape_is_exact(
    table: int, policies: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks made of shapes are counted by shape; shape tables of a few rows are full
    # often (a new table, or a block longer than one read row by row, without shapes),
    # so counts by shape and by columns alternate, across hours and late alerts.
    monkeypatch.setattr(traffic_module, "_ROW_CACHE", table)
    traffic = _mixed(5, 2000)
    shuffled = [alert for i in range(0, len(traffic), 120) for alert in traffic[i : i + 120][::-1]]
    files = [_csv(shuffled[:700]), _csv(traffic[:30]), _csv(shuffled[700:])]
    columns, reference = _column_reports(files, SPECS[:policies])
    assert columns.policies[0].totals.late > 0
    assert columns == reference
    assert list(columns.policies[0].busiest) == list(reference.policies[0].busiest)


@pytest.mark.parametrize("table", [7, 40, 1 << 17])
def test_column_replay_in_time_order_counted_by_shape_is_exact(
    table: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No late alert: each block's keys are of its hour, folded with each shape's device
    # counts kept for its table (a new table often: kept counts must not outlive it).
    monkeypatch.setattr(traffic_module, "_ROW_CACHE", table)
    traffic = sorted(_mixed(6, 2500), key=lambda alert: alert.timestamp)
    files = [_csv(traffic[:1300]), _csv(traffic[1300:])]
    columns, reference = _column_reports(files, SPECS[1:])
    assert columns.policies[0].totals.late == 0
    assert columns == reference
    assert list(columns.policies[0].busiest) == list(reference.policies[0].busiest)


@pytest.mark.parametrize("policies", [1, 2])
def test_blocks_of_shapes_across_hour_ends_are_counted_in_their_hours(policies: int) -> None:
    # In time order, blocks (of 97 rows) spanning one or many hour ends, rows at an hour's
    # very start and just before it: each run of an hour is counted in its hour.
    devices = [f"00-0D-6F-00-00-00-00-{i:02X}" for i in range(1, 5)]
    times = sorted(
        {3600 * h + d for h in range(1, 9) for d in (-1, -0.5, 0, 0, 0.25, 7)}
        | {3600.0 + 37.5 * i for i in range(1, 500)}
        | {3600 * h + 5 for h in range(10, 60)}  # one an hour: blocks of many hours
    )
    traffic = [
        Alert(t, devices[i % 4], 0x8F0C if i % 3 else 0x8F35) for i, t in enumerate(times)
    ]
    replay = Replay(SPECS[:policies])
    replay._counts.first = traffic[0].timestamp
    table = ShapeTable()
    known: dict[tuple[object, ...], int] = {}
    for start in range(0, len(traffic), 97):
        part = traffic[start : start + 97]
        for alert in part:
            key = (alert.device_id, alert.code, alert.recipients)
            if key not in known:
                known[key] = table.add(*key)
        shapes = [known[alert.device_id, alert.code, alert.recipients] for alert in part]
        replay._decide_columns(shaped_columns([a.timestamp for a in part], shapes, table))
    alone = Replay(SPECS[:policies], observers=[_ignore])
    alone.run(traffic)
    assert len({row.hour for row in alone.report().policies[0].hourly}) > 50
    assert replay.report() == alone.report()


@pytest.mark.parametrize("table", [3, 1 << 17])
def test_parquet_replay_counted_by_shape_is_exact(
    table: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(traffic_module, "_ROW_CACHE", table)
    traffic = _mixed(9, 1500)
    shuffled = [alert for i in range(0, len(traffic), 120) for alert in traffic[i : i + 120][::-1]]
    path = tmp_path / "day.parquet"
    columns = {
        "timestamp": [a.timestamp for a in shuffled],
        "device_id": [a.device_id for a in shuffled],
        "code": [a.code for a in shuffled],
        "recipients": [";".join(a.recipients) for a in shuffled],
    }
    pq.write_table(pa.table(columns), path, row_group_size=400)
    monkeypatch.setattr("alertthrottle._io.columnar.BATCH_ROWS", 400)
    replay = Replay(SPECS)
    replay.run(TrafficReader(path))
    alone = Replay(SPECS, observers=[_ignore])
    alone.run(list(TrafficReader(path)))
    assert replay.report().policies[0].totals.late > 0
    assert replay.report() == alone.report()


def test_counts_by_shape_hold_one_table_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A reader starts a new shape table when one is full; the counts of the last are
    # folded then, so a replay holds no more tables than the reader does.
    monkeypatch.setattr(traffic_module, "_ROW_CACHE", 200)
    replay = Replay(SPECS[:1])
    tables = set()
    for block in _reader(_csv(_mixed(4, 3000))).blocks(97):
        replay._decide_columns(block)
        tables.update(id(table) for _, table, _ in replay._tally.shaped)
        assert len({id(table) for _, table, _ in replay._tally.shaped}) <= 1
        # Nor the cells of another table than the blocks' own (kept from fold to fold).
        assert replay._tally._cells_table in (None, shapes_of(block)[1])  # type: ignore[index]
    assert len(tables) > 1


def test_counts_by_shape_folded_between_blocks_of_one_table_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each fold extends the cells of the table it folded before with the shapes added
    # since: report at every progress step (every 97 alerts), then compare.
    monkeypatch.setattr(replay_module, "PROGRESS_EVERY", 97)
    traffic = _mixed(4, 3000)
    replay = Replay(SPECS[:1])
    reports: list[int] = []

    def progress(count: int) -> None:
        replay.report()
        reports.append(count)

    replay.run(_reader(_csv(traffic)), progress)
    alone = Replay(SPECS[:1], observers=[_ignore])
    alone.run(list(_reader(_csv(traffic))))
    assert len(reports) > 10
    assert replay.report() == alone.report()


def test_blocks_cut_at_progress_keep_their_shapes() -> None:
    blocks = list(_reader(_csv(_mixed(3, 300))).blocks(97))
    shaped = shapes_of(blocks[0])
    assert shaped is not None
    part = replay_module._rows(blocks[0], 10, 60)
    assert part == replay_module._rows(
        AlertColumns.of(list(blocks[0])), 10, 60
    )
    assert shapes_of(part) == (shaped[0][10:60], shaped[1])


def test_column_replay_with_shadow_candidates_is_exact() -> None:
    traffic = list(
        generate_scenario("power-factor-storm", seed=5, alerts=2000, devices=200, storm_devices=20)
    )
    live, other = SPECS
    candidates = [attrs.evolve(other, name="other", late=live.late)]
    columns, reference = _column_reports([_csv(traffic)], SPECS, candidates=candidates)
    assert columns.shadow is not None
    assert columns == reference


@pytest.mark.parametrize("at", [0, 1, 96, 97, 150, 300, 399])
def test_rows_read_before_a_bad_row_mid_block_are_fed_and_counted(
    at: int, fed_columns: list[int]
) -> None:
    traffic = _mixed(11, 400)
    data = _csv(traffic, {at: "1705276800,00-0D-6F-00-00-00-00-01,zz,\n"})
    replay = Replay(SPECS)
    with pytest.raises(TrafficError, match=f"day.csv:{at + 2}"):
        replay.run(_reader(data))
    assert replay.alerts == at
    assert [policy.stats.total for policy in replay.policies] == [at, at]
    assert replay.report() == _reports([list(_reader(_csv(traffic[:at])))], SPECS)[1]
    # Skipped, the bad row leaves the rest to be counted as alert by alert.
    columns = Replay(SPECS)
    reader = _reader(data, on_error="skip")
    columns.run(reader)
    assert reader.skipped == 1
    alone = Replay(SPECS, observers=[_ignore])
    alone.run(list(_reader(data, on_error="skip")))
    assert columns.report() == alone.report()


def test_a_late_alert_mid_block_under_reject_in_columns() -> None:
    traffic = list(
        generate_scenario("power-factor-storm", seed=2, alerts=300, devices=40, storm_devices=5)
    )
    late = attrs.evolve(traffic[150], timestamp=traffic[149].timestamp - 1)
    data = _csv([*traffic[:150], late, *traffic[151:]])
    strict = attrs.evolve(SPECS[1], late="reject", name="strict")
    replay = Replay([strict])
    with pytest.raises(LateAlertError) as info:
        replay.run(_reader(data))
    # Raised as feeding the alert alone raises it: no index into a block.
    assert info.value.index is None
    assert not getattr(info.value, "__notes__", None)
    assert replay.alerts == replay.policies[0].stats.total == 150
    alone = Replay([strict], observers=[_ignore])
    with pytest.raises(LateAlertError):
        alone.run(list(_reader(data))[:151])
    assert replay.report() == alone.report()


def test_several_policies_one_rejecting_read_from_a_reader_are_fed_alert_by_alert(
    fed_columns: list[int],
) -> None:
    traffic = list(
        generate_scenario("power-factor-storm", seed=2, alerts=300, devices=40, storm_devices=5)
    )
    late = attrs.evolve(traffic[150], timestamp=traffic[149].timestamp - 1)
    data = _csv([*traffic[:150], late, *traffic[151:]])
    strict = attrs.evolve(SPECS[1], late="reject", name="strict")
    replay = Replay([SPECS[0], strict])
    with pytest.raises(LateAlertError):
        replay.run(_reader(data))
    assert not fed_columns
    assert [policy.stats.total for policy in replay.policies] == [151, 150]
    assert replay.alerts == 150


def test_progress_is_reported_at_the_same_counts_from_columns(fed_columns: list[int]) -> None:
    traffic = _mixed(17, 2000)
    files = [_csv(traffic[:650]), _csv(traffic[650:])]
    calls: dict[str, list[int]] = {"columns": [], "alone": []}
    for path, observers in (("columns", ()), ("alone", (_ignore,))):
        replay = Replay(SPECS, observers=observers)
        for data in files:
            # The second file starts between two progress points (650 is no multiple of 300).
            reader = _reader(data)
            replay.run(reader if path == "columns" else list(reader), calls[path].append)
    assert calls["columns"] == calls["alone"] == list(range(300, len(traffic) + 1, 300))
    # Blocks are cut where progress is reported.
    assert max(fed_columns) == 97
    assert 50 in fed_columns


def test_an_empty_reader_counts_nothing() -> None:
    replay = Replay(SPECS)
    replay.run(_reader(_csv([])))
    report = replay.report()
    assert report.alerts == 0
    assert report.first is None
