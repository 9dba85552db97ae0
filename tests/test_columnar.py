"""Parquet and Arrow IPC traffic: the CSV columns, by record batch, with pyarrow."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ipc = pytest.importorskip("pyarrow.ipc")

from alertthrottle import Alert, DeviceInfo, TrafficError, TrafficReader, cli  # noqa: E402
from alertthrottle._io import columnar  # noqa: E402

DEV = "00-0D-6F-00-0A-BC-12-34"
OTHER = "00-0D-6F-00-0A-BC-12-35"
T0 = 1_705_276_800


def table(**columns: object) -> object:
    return pa.table(columns)


def test_parquet_with_string_codes_and_numeric_times(tmp_path: Path) -> None:
    path = tmp_path / "day.parquet"
    pq.write_table(
        table(
            timestamp=[T0, T0 + 1.5, T0 + 3],
            device_id=[DEV, DEV.lower(), OTHER],
            code=["8014", "0x8015", "8F84"],
            recipients=["DNO-10;SUP-A", None, "SUP-B"],
            manufacturer=["Acme", None, None],
        ),
        path,
    )
    reader = TrafficReader(path)
    assert list(reader) == [
        Alert(T0, DEV, 0x8014, ("DNO-10", "SUP-A")),
        Alert(T0 + 1.5, DEV, 0x8015),
        Alert(T0 + 3, OTHER, 0x8F84, ("SUP-B",)),
    ]
    assert reader.format == "parquet" and reader.rows == 3
    assert reader.devices == {DEV: DeviceInfo("Acme")}


def test_arrow_timestamps_int_codes_and_recipient_lists(tmp_path: Path) -> None:
    stamps = pa.array(
        [datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 1, 15, 0, 0, 0, 250_000, tzinfo=UTC)],
        type=pa.timestamp("ms", tz="UTC"),
    )
    data = pa.table(
        {
            "timestamp": stamps,
            "device_id": [DEV, DEV],
            "code": pa.array([0x8014, 0x8015], type=pa.int32()),
            "recipients": [["DNO-10", "SUP-A"], []],
        }
    )
    for name, write in (("t.arrow", ipc.new_file), ("t.arrows", ipc.new_stream)):
        path = tmp_path / name
        with pa.OSFile(str(path), "wb") as sink, write(sink, data.schema) as writer:
            writer.write_table(data)
        alerts = list(TrafficReader(path))
        assert alerts == [
            Alert(T0, DEV, 0x8014, ("DNO-10", "SUP-A")),
            Alert(T0 + 0.25, DEV, 0x8015),
        ]


def test_naive_arrow_timestamps_are_utc_and_the_format_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "export.bin"
    stamps = pa.array([datetime(2024, 1, 15)], type=pa.timestamp("us"))
    pq.write_table(pa.table({"timestamp": stamps, "device_id": [DEV], "code": ["8014"]}), path)
    reader = TrafficReader(path)
    assert [a.timestamp for a in reader] == [T0] and reader.format == "parquet"


def test_time_unit_applies_to_numeric_columns(tmp_path: Path) -> None:
    path = tmp_path / "ms.parquet"
    pq.write_table(table(timestamp=[T0 * 1000 + 500], device_id=[DEV], code=[1]), path)
    with pytest.raises(TrafficError, match=r"ms\.parquet:1: timestamp: .*--time-unit ms"):
        list(TrafficReader(path))
    assert [a.timestamp for a in TrafficReader(path, time_unit="ms")] == [T0 + 0.5]


def test_bad_rows_are_numbered_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(
        table(
            timestamp=[1, None, 3, 4, 5],
            device_id=[DEV, DEV, None, "nope", DEV],
            code=["8014", "8014", "8014", "8014", "80X4"],
        ),
        path,
    )
    reader = TrafficReader(path, on_error="skip")
    assert [a.timestamp for a in reader] == [1]
    assert [(r.line, r.field) for r in reader.skipped_rows] == [
        (2, "timestamp"), (3, "device_id"), (4, "device_id"), (5, "code"),
    ]  # fmt: skip
    assert reader.skipped_rows[0].problem == "is missing (null)"
    with pytest.raises(TrafficError, match=r"bad\.parquet:2: timestamp: is missing"):
        list(TrafficReader(path))


def test_batches_stream_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BATCH_ROWS", 100)
    path = tmp_path / "big.parquet"
    n = 1000
    pq.write_table(
        table(timestamp=list(range(n)), device_id=[DEV] * n, code=["8014"] * n),
        path,
        row_group_size=100,
    )
    seen = []
    original = columnar.ColumnarTable._values

    def counted(self: object, name: str, column: object, unit: str) -> list[object]:
        seen.append(len(column))  # type: ignore[arg-type]
        return original(self, name, column, unit)  # type: ignore[arg-type]

    monkeypatch.setattr(columnar.ColumnarTable, "_values", counted)
    assert [a.timestamp for a in TrafficReader(path)] == list(range(n))
    assert max(seen) == 100


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"time": [1], "device_id": [DEV], "code": ["1"]}, "missing timestamp"),
        ({"timestamp": [1], "device_id": [DEV], "code": [1.5]}, "column code: must hold"),
    ],
)
def test_whole_file_problems_are_one_line(tmp_path: Path, columns: dict, message: str) -> None:  # type: ignore[type-arg]
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(TrafficError, match=message) as info:
        list(TrafficReader(path, on_error="skip"))
    assert str(info.value).startswith(f"{path}: ")


def test_a_truncated_parquet_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(table(timestamp=[1, 2], device_id=[DEV, DEV], code=["1", "2"]), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(TrafficError, match="is not a readable parquet file"):
        list(TrafficReader(path))
    with pytest.raises(TrafficError, match="<stream>: is not a readable parquet file"):
        list(TrafficReader(io.BytesIO(b"PAR1garbage"), on_error="skip"))


def test_simulate_reads_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "day.parquet"
    n = 50
    pq.write_table(
        table(timestamp=[T0 + i for i in range(n)], device_id=[DEV] * n, code=["8014"] * n),
        path,
    )
    assert cli.main(["simulate", str(path), "--json"]) == 0
    assert '"alerts": 50' in capsys.readouterr().out


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/London"])
@pytest.mark.parametrize(
    ("unit", "per_second"), [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)]
)
def test_arrow_timestamps_of_every_unit_and_zone(
    tmp_path: Path, unit: str, per_second: int, tz: str | None
) -> None:
    # Nanoseconds since 1970 pass 2**53: read as epoch seconds, not refused as a whole file.
    values = [T0 * per_second, (T0 + 2) * per_second + per_second // 4]
    stamps = pa.array(values, type=pa.timestamp(unit, tz=tz))
    data = pa.table({"timestamp": stamps, "device_id": [DEV, DEV], "code": ["8014", "8014"]})
    path = tmp_path / "t.parquet"
    pq.write_table(data, path)
    times = [a.timestamp for a in TrafficReader(path)]
    assert times == pytest.approx([T0, T0 + 2 + (0.25 if unit != "s" else 0)], abs=1e-6)


def test_parquet_from_a_pipe_says_to_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "day.parquet"
    pq.write_table(table(timestamp=[T0], device_id=[DEV], code=["8014"]), path)

    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

        def seek(self, *args: object) -> int:
            raise io.UnsupportedOperation("Illegal seek")

    with pytest.raises(TrafficError, match="Parquet cannot be read from a pipe") as info:
        list(TrafficReader(Pipe(path.read_bytes())))
    assert "Illegal seek" not in str(info.value)


def _day(n: int) -> dict[str, list[object]]:
    """Columns of ``n`` good rows over three devices, a little out of time order."""
    devices = [DEV, OTHER, DEV.lower().replace("-", ":")]
    return {
        "timestamp": [T0 + i - (3 if i % 17 == 5 else 0) + (0.5 if i % 3 else 0) for i in range(n)],
        "device_id": [devices[i % 3] for i in range(n)],
        "code": [["8014", "0x8015", "8F84"][i % 3] for i in range(n)],
        "recipients": [["", "DNO-10;SUP-A", "SUP-B"][i % 3] for i in range(n)],
        "manufacturer": [["Acme", None, "Acme"][i % 3] for i in range(n)],
    }


def test_a_bad_row_in_a_batch_is_skipped_as_in_csv(tmp_path: Path) -> None:
    columns = _day(300)
    columns["device_id"][150] = "nope"
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    text = tmp_path / "bad.csv"
    lines = ["timestamp,device_id,code,recipients,manufacturer"]
    rows = zip(*columns.values(), strict=True)
    lines += [",".join(str(cell or "") for cell in row) for row in rows]
    text.write_text("\n".join(lines) + "\n")
    parquet, csv = TrafficReader(path, on_error="skip"), TrafficReader(text, on_error="skip")
    assert list(parquet) == list(csv) and len(list(TrafficReader(path, on_error="skip"))) == 299
    assert parquet.devices == csv.devices and parquet.skipped == csv.skipped == 1
    (row,) = parquet.skipped_rows
    (csv_row,) = csv.skipped_rows
    assert (row.line, row.field, row.problem, row.value) == (
        151, "device_id", csv_row.problem, csv_row.value,
    )  # fmt: skip
    assert csv_row.line == 152  # after the header line
