"""Parquet and Arrow IPC traffic: the CSV columns, by record batch, with pyarrow."""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ipc = pytest.importorskip("pyarrow.ipc")

from alertthrottle import Alert, DeviceInfo, TrafficError, TrafficReader, cli  # noqa: E402
from alertthrottle._core.columns import shapes_of  # noqa: E402
from alertthrottle._io import batchshapes, columnar, columnarrows, traffic  # noqa: E402

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

    def counted(self: object, name: str, column: object, *rest: object) -> object:
        seen.append(len(column))  # type: ignore[arg-type]
        return original(self, name, column, *rest)  # type: ignore[arg-type]

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


_TIMES = [T0, T0 + 0.5, T0 - 7, 1.5, None, -1, float("nan"), 1e300, T0 * 1000]
_IDS = [DEV, OTHER, DEV.lower(), None, "nope"]
_CODES = [0x8014, 0x8015, 0xFFFF, None, -1, 0x1_0000]
_NAMES = ["DNO", "DNO;SUP", "", ";", None]
_MAKES = ["Acme", "Beta", "", None]


def _columnar_read(path: Path, size: int, **options: object) -> tuple[object, ...]:
    """Alerts by blocks (with the make known per block) and everything the reader tells."""
    reader = TrafficReader(path, **options)  # type: ignore[arg-type]
    seen: list[object] = []
    error = None
    try:
        for block in reader.blocks(size):
            seen.extend((alert, type(alert.timestamp)) for alert in block)
    except TrafficError as exc:
        error = str(exc)
    counts = (reader.rows, reader.skipped, [str(row) for row in reader.skipped_rows])
    times = (reader.earliest, reader.latest, reader.out_of_order)
    return seen, error, counts, reader.devices, times


def _devices_in_order(read: tuple[object, ...]) -> tuple[object, ...]:
    """A read with its devices as (id, make) pairs in the order the reader keeps them."""
    *rest, devices, times = read
    return (*rest, list(devices.items()), times)  # type: ignore[attr-defined]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_TIMES), st.sampled_from(_IDS), st.sampled_from(_CODES),
            st.sampled_from(_NAMES), st.sampled_from(_MAKES),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([1, 3, 512]),
    st.sampled_from(["fail", "skip"]),
    st.booleans(),
    st.sampled_from(["parquet", "arrow", "arrow-dictionary"]),
)  # fmt: skip
def test_parquet_blocks_read_as_the_row_loop(
    rows: list[tuple[object, ...]], size: int, on_error: str, text_codes: bool, fmt: str
) -> None:
    # A batch read from its distinct values, or a block read a column at a time, must
    # tell what the row-by-row loop tells (the makes known in the same order too).
    times, ids, codes, names, makes = (list(column) for column in zip(*rows, strict=True))
    if text_codes:
        codes = [None if code is None else f"{code:X}" for code in codes]  # type: ignore[str-format]
    columns = {"timestamp": pa.array(times, type=pa.float64()), "device_id": pa.array(ids),
               "code": pa.array(codes), "recipients": pa.array(names),
               "manufacturer": pa.array(makes, type=pa.string())}  # fmt: skip
    if fmt == "arrow-dictionary":
        for name in ("device_id", "recipients", "manufacturer"):
            columns[name] = columns[name].dictionary_encode()
        if text_codes:
            columns["code"] = columns["code"].dictionary_encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"day.{fmt.split('-')[0]}"
        if fmt == "parquet":
            pq.write_table(pa.table(columns), path, row_group_size=7)
        else:
            with ipc.new_file(path, pa.table(columns).schema) as out:
                out.write_table(pa.table(columns), max_chunksize=7)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(columnar, "BATCH_ROWS", 7)
            by_batches = _devices_in_order(_columnar_read(path, size, on_error=on_error))
            patch.setattr(columnarrows.ColumnarRows, "_clean_batch", lambda *args: None)
            by_columns = _devices_in_order(_columnar_read(path, size, on_error=on_error))
            patch.setattr(columnarrows.ColumnarRows, "_column_block", lambda *args: None)
            by_rows = _devices_in_order(_columnar_read(path, size, on_error=on_error))
    assert by_batches == by_rows
    assert by_columns == by_rows


_GOOD_TIMES = [T0, T0 + 0.5, T0 - 7, T0 + 3600]
_GOOD_IDS = [DEV, OTHER, DEV.lower()]
_GOOD_CODES = [0x8014, 0x8015, 0xFFFF]
_BAD = [("timestamp", None), ("timestamp", float("nan")), ("timestamp", -1.0),
        ("device_id", None), ("device_id", "nope"), ("code", None), ("code", 0x1_0000)]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_GOOD_TIMES), st.sampled_from(_GOOD_IDS),
            st.sampled_from(_GOOD_CODES), st.sampled_from(_NAMES), st.sampled_from(_MAKES),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([1, 3, 512]),
    st.sampled_from(["fail", "skip"]),
    st.booleans(),
    st.none() | st.tuples(st.integers(0, 29), st.sampled_from(_BAD)),
    st.sampled_from([7, 64]),
    st.sampled_from([4, 1 << 17]),
)  # fmt: skip
def test_clean_batches_read_as_the_row_loop(
    rows: list[tuple[object, ...]],
    size: int,
    on_error: str,
    text_codes: bool,
    bad: tuple[int, tuple[str, object]] | None,
    batch: int,
    shapes: int,
) -> None:
    # Batches of good rows (a device under two spellings, makes that change, empty and
    # null recipients and makes) read from their distinct values, one bad value in a
    # dictionary-encoded column or not: as the row-by-row loop reads them.
    names = ("timestamp", "device_id", "code", "recipients", "manufacturer")
    columns = {
        name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)
    }
    if bad is not None:
        row, (name, value) = bad
        columns[name][row % len(rows)] = value
    if text_codes:
        columns["code"] = [None if c is None else f"{c:X}" for c in columns["code"]]  # type: ignore[str-format]
    arrays = {name: pa.array(values) for name, values in columns.items()}
    arrays["timestamp"] = pa.array(columns["timestamp"], type=pa.float64())
    arrays["manufacturer"] = pa.array(columns["manufacturer"], type=pa.string())
    arrays["device_id"] = pa.array(columns["device_id"], type=pa.string()).dictionary_encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.parquet"
        pq.write_table(pa.table(arrays), path, row_group_size=batch)
        with pytest.MonkeyPatch.context() as patch:
            # A shape table of 4 is full often: a batch's shapes then go in a new one, or
            # the batch is read without shapes when more than 4.
            patch.setattr(traffic, "_ROW_CACHE", shapes)
            patch.setattr(columnar, "BATCH_ROWS", batch)
            by_batches = _devices_in_order(_columnar_read(path, size, on_error=on_error))
            patch.setattr(columnarrows.ColumnarRows, "_clean_batch", lambda *args: None)
            patch.setattr(columnarrows.ColumnarRows, "_column_block", lambda *args: None)
            by_rows = _devices_in_order(_columnar_read(path, size, on_error=on_error))
    assert by_batches == by_rows


@pytest.mark.parametrize("recipients", [True, False])
@pytest.mark.parametrize("text_codes", [True, False])
def test_clean_batches_come_in_blocks_with_their_shapes(
    tmp_path: Path, recipients: bool, text_codes: bool
) -> None:
    columns = _day(40)
    if not text_codes:
        columns["code"] = [[0x8014, 0x8015, 0x8F84][i % 3] for i in range(40)]
    if not recipients:
        del columns["recipients"]
    path = tmp_path / "day.parquet"
    pq.write_table(pa.table(columns), path)
    blocks = list(TrafficReader(path).blocks(16))
    shaped = [shapes_of(block) for block in blocks]
    assert all(item is not None for item in shaped)
    table = shaped[0][1]  # type: ignore[index]
    assert len(table) == 3 and all(item[1] is table for item in shaped)  # type: ignore[index]
    assert [i for item in shaped for i in item[0]] == [i % 3 for i in range(40)]  # type: ignore[index]
    assert [alert for block in blocks for alert in block] == list(TrafficReader(path))


@pytest.mark.parametrize(
    "kind", ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float32", "float64"]
)
def test_numbers_read_from_their_buffer_are_to_pylist(kind: str) -> None:
    # Read from the buffer, slices too (an offset into it); with a null, as to_pylist.
    arrow_type = getattr(pa, kind)()
    bits = arrow_type.bit_width
    if pa.types.is_floating(arrow_type):
        values: list[object] = [0.0, -0.0, 1.5, 1e30, float("inf"), 0.25]
    elif pa.types.is_unsigned_integer(arrow_type):
        values = [0, 1, 2, 2**bits - 1, 7, 2 ** (bits - 1)]
    else:
        values = [-(2 ** (bits - 1)), -1, 0, 1, 2 ** (bits - 1) - 1, 5]
    array = pa.array(values * 3, type=arrow_type)
    for part in (array, array.slice(1), array.slice(4, 5), array.slice(3, 0)):
        got, want = columnar.pylist(part), part.to_pylist()
        assert got == want and list(map(type, got)) == list(map(type, want))
        assert str(got) == str(want)  # -0.0 kept
    with_null = pa.array([*values, None], type=arrow_type)
    assert columnar.pylist(with_null) == with_null.to_pylist()
    assert columnar.pylist(with_null.slice(1)) == with_null.to_pylist()[1:]
    assert columnar.pylist(pa.array(["a", None])) == ["a", None]


def test_distinct_combinations_of_columns_too_wide_for_one_key() -> None:
    # Widths whose product passes 2**62 (and 2**31 for a few): the keys so far are
    # encoded before they would overflow, and each row's combination comes back whole.
    widths = [2**31, 3, 2**30, 2**20, 5, 2**40]
    rows = [
        (2**31 - 1, 2, 2**30 - 1, 2**20 - 1, 4, 2**40 - 1),
        (0, 0, 0, 0, 0, 0),
        (2**31 - 1, 2, 2**30 - 1, 2**20 - 1, 4, 2**40 - 1),
        (1234567890, 1, 7, 2**19, 3, 12345678901),
        (2**31 - 2, 2, 2**30 - 1, 2**20 - 1, 4, 2**40 - 1),
        (0, 0, 0, 0, 1, 0),
    ]
    arrays = [pa.array(column, type=pa.int64()) for column in zip(*rows, strict=True)]
    found = columnar._distinct(pa, arrays, widths)
    assert found is not None
    index, digits = found
    distinct = list(dict.fromkeys(rows))
    assert list(zip(*(part.to_pylist() for part in digits), strict=True)) == distinct
    assert index.to_pylist() == [distinct.index(row) for row in rows]
    assert columnar._firsts(pa, index).to_pylist() == [0, 1, 3, 4, 5]


def _by_batches_and_rows(path: Path, **options: object) -> tuple[object, object]:
    """The read of ``path`` by clean batches, and row by row."""
    by_batches = _devices_in_order(_columnar_read(path, 512, **options))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnarrows.ColumnarRows, "_clean_batch", lambda *args: None)
        patch.setattr(columnarrows.ColumnarRows, "_column_block", lambda *args: None)
        by_rows = _devices_in_order(_columnar_read(path, 512, **options))
    return by_batches, by_rows


def test_a_device_whose_make_changes_in_a_batch_keeps_its_last(tmp_path: Path) -> None:
    # Two makes for one device: no (device, make) pairs; each row's make is given in turn.
    path = tmp_path / "day.parquet"
    makes = ["Acme", "Beta", "Acme", None]
    columns = {"timestamp": [float(T0 + i) for i in range(4)], "device_id": [DEV] * 4,
               "code": [0x8014] * 4, "recipients": ["DNO"] * 4, "manufacturer": makes}  # fmt: skip
    pq.write_table(pa.table(columns), path)
    by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    assert by_rows[3] == [(DEV, DeviceInfo(manufacturer="Acme"))]  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "code"), [("int64", -1), ("int16", -0x8000), ("uint64", 2**64 - 1), ("int64", 0x10000)]
)
def test_integer_codes_out_of_range_are_bad_rows(tmp_path: Path, kind: str, code: int) -> None:
    # Codes are combined into a batch's keys as they are only when 0 to 0xFFFF: a negative
    # or a wide one is a bad row, read as the row-by-row loop reads it.
    path = tmp_path / "day.parquet"
    codes = [0x1234, 7, code, 0x1234, 0x7FFF if kind == "int16" else 0xFFFF]
    columns = {
        "timestamp": [float(T0 + i) for i in range(5)],
        "device_id": [DEV, OTHER, DEV, OTHER, DEV],
        "code": pa.array(codes, type=getattr(pa, kind)()),
        "recipients": ["DNO"] * 5,
    }
    pq.write_table(pa.table(columns), path)
    by_batches, by_rows = _by_batches_and_rows(path, on_error="skip")
    assert by_batches == by_rows
    assert by_rows[2][1] == 1  # type: ignore[index]  # one skipped row


def test_a_batch_keeps_the_values_of_an_equal_dictionary_only(tmp_path: Path) -> None:
    # Row groups with dictionaries of one size but other values, then equal ones: each
    # batch reads its own dictionary's values.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, "00-0D-6F-00-0A-BC-12-36", "00-0D-6F-00-0A-BC-12-37", DEV, OTHER]
    names = ["A", "B", "C", "D", "A", "B"]
    columns = {"timestamp": [float(T0 + i) for i in range(6)], "device_id": ids,
               "code": ["8014"] * 6, "recipients": names, "manufacturer": names}  # fmt: skip
    pq.write_table(pa.table(columns), path, row_group_size=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BATCH_ROWS", 2)
        by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    alerts = [alert for alert, _ in by_rows[0]]  # type: ignore[index]
    assert [(a.device_id, a.recipients) for a in alerts] == [
        (device, (name,)) for device, name in zip(ids, names, strict=True)
    ]


def test_a_batch_s_new_device_ids_are_taken_as_they_are_only_when_canonical(
    tmp_path: Path,
) -> None:
    # A dictionary's new ids are checked together: taken as they are when all are in
    # canonical spelling, else (other spellings, not text) each parsed, as the rows read.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, DEV.lower(), "00:0d:6f:00:0a:bc:12:36", OTHER, DEV]
    columns = {"timestamp": [float(T0 + i) for i in range(6)], "device_id": ids,
               "code": [0x8014] * 6, "recipients": ["DNO"] * 6}  # fmt: skip
    pq.write_table(pa.table(columns), path)
    by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    alerts = [alert for alert, _ in by_rows[0]]  # type: ignore[index]
    canonical = [DEV, OTHER, DEV, "00-0D-6F-00-0A-BC-12-36", OTHER, DEV]
    assert [alert.device_id for alert in alerts] == canonical
    rows = columnarrows.ColumnarRows(TrafficReader(path))
    assert rows._batch_devices([OTHER, DEV, None]) == [OTHER, DEV]
    with pytest.raises(traffic.InvalidAlertError, match="must be a str"):
        rows._batch_devices([DEV.encode(), None])


def test_a_repeated_dictionary_s_device_ids_are_converted_once(tmp_path: Path) -> None:
    # The batches of a row group share its dictionary (the very list of values): its
    # device ids are converted for the first only.
    path = tmp_path / "day.parquet"
    pq.write_table(pa.table(_day(12)), path)
    given: list[list[str]] = []
    convert = columnarrows.ColumnarRows._batch_devices

    def spy(rows: columnarrows.ColumnarRows, values: list[object]) -> list[str]:
        given.append(convert(rows, values))  # type: ignore[arg-type]
        return given[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BATCH_ROWS", 4)
        patch.setattr(columnarrows.ColumnarRows, "_batch_devices", spy)
        by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    assert len(given) == 3 and given[1] is given[0] and given[2] is given[0]


def test_a_batch_s_shapes_are_added_one_by_one_when_not_all_at_once(tmp_path: Path) -> None:
    # Should the table refuse a batch's new shapes at once, they are added one by one:
    # the same shapes, the same read.
    path = tmp_path / "day.parquet"
    pq.write_table(pa.table(_day(40)), path)

    def refuse(*args: object) -> None:
        raise traffic.InvalidAlertError("shapes", 0, "refused")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic.ShapeTable, "add_many", refuse)
        blocks = list(TrafficReader(path).blocks(16))
        by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    shaped = [shapes_of(block) for block in blocks]
    assert all(item is not None and len(item[1]) == 3 for item in shaped)
    assert [i for item in shaped for i in item[0]] == [i % 3 for i in range(40)]  # type: ignore[index]


def test_two_spellings_of_a_device_are_one_shape_of_a_batch(tmp_path: Path) -> None:
    # Distinct dictionary positions, one (device id, code, recipients): one shape.
    path = tmp_path / "day.parquet"
    ids = [DEV, DEV.lower(), OTHER, DEV.lower(), DEV]
    columns = {"timestamp": [float(T0 + i) for i in range(5)], "device_id": ids,
               "code": ["8014"] * 5, "recipients": ["DNO"] * 5}  # fmt: skip
    pq.write_table(pa.table(columns), path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic.ShapeTable, "add", None)  # added at once, not one by one
        shaped = [shapes_of(block) for block in TrafficReader(path).blocks(512)]
    assert len(shaped) == 1 and shaped[0] is not None
    assert shaped[0][0] == (0, 0, 1, 0, 0) and len(shaped[0][1]) == 2
    assert shaped[0][1].device_ids == [DEV, OTHER]


def test_alert_by_alert_a_clean_batch_gives_each_make_as_its_row_is_read(
    tmp_path: Path,
) -> None:
    # Each device with one make (one without): iterated alert by alert, a device's make is
    # known once its first row is read, as the row-by-row loop tells it.
    path = tmp_path / "day.parquet"
    third, fourth = "00-0D-6F-00-0A-BC-12-36", "00-0D-6F-00-0A-BC-12-37"
    ids = [OTHER, DEV, OTHER, fourth, DEV, third, OTHER]
    makes = {DEV: "Acme", OTHER: "Beta", third: "Acme", fourth: None}
    columns = {"timestamp": [float(T0 + i) for i in range(7)], "device_id": ids,
               "code": [0x8014] * 7, "recipients": ["DNO"] * 7,
               "manufacturer": [makes[device] for device in ids]}  # fmt: skip
    pq.write_table(pa.table(columns), path)

    def read() -> list[tuple[Alert, list[tuple[str, DeviceInfo]]]]:
        reader = TrafficReader(path)
        return [(alert, list(reader.devices.items())) for alert in reader]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic, "BLOCK_ROWS", 3)  # a block's rows are counted from its start
        by_batches = read()
        patch.setattr(columnarrows.ColumnarRows, "_clean_batch", lambda *args: None)
        patch.setattr(columnarrows.ColumnarRows, "_column_block", lambda *args: None)
        by_rows = read()
    assert by_batches == by_rows
    assert [len(devices) for _, devices in by_rows] == [1, 2, 2, 2, 2, 3, 3]
    assert by_rows[-1][1] == [
        (OTHER, DeviceInfo("Beta")), (DEV, DeviceInfo("Acme")), (third, DeviceInfo("Acme")),
    ]  # fmt: skip


def test_a_repeated_dictionary_s_device_ids_are_checked_for_two_spellings_once(
    tmp_path: Path,
) -> None:
    # Whether two of a batch's ids are one device is found once per dictionary: row groups
    # of one spelling each, then of two (each device with one make: pairs are kept only
    # when no device is there under two spellings).
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, OTHER, DEV, DEV, DEV.lower(), DEV.lower(), DEV]
    columns = {"timestamp": [float(T0 + i) for i in range(8)], "device_id": ids,
               "code": [0x8014] * 8, "recipients": ["DNO"] * 8,
               "manufacturer": ["Acme"] * 8}  # fmt: skip
    table = pa.table(columns)
    with pq.ParquetWriter(path, table.schema) as out:
        out.write_table(table.slice(0, 4))
        out.write_table(table.slice(4))
    checked: list[list[object]] = []
    each_once = batchshapes._each_once

    def spy(values: list[object]) -> bool:
        if isinstance(values[0], str):  # device ids (not codes, recipient lists)
            checked.append(values)
        return each_once(values)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BATCH_ROWS", 2)
        patch.setattr(batchshapes, "_each_once", spy)
        by_batches, by_rows = _by_batches_and_rows(path)
    assert by_batches == by_rows
    assert checked == [[DEV, OTHER], [DEV, DEV]]


@pytest.mark.parametrize(
    ("times", "ordered"),
    [
        ([T0, T0, T0 + 0.5, T0 + 9], True),
        ([T0 + 1, T0, T0 + 2, T0 + 3], False),
        ([T0, T0 + 1, float("nan"), T0 + 3], False),
        ([T0, None, T0 + 2, T0 + 3], False),
        ([T0 + 3], True),
    ],
)
def test_a_batch_whose_times_are_in_order_is_known_so(
    tmp_path: Path, times: list[float | None], ordered: bool
) -> None:
    # Told by Arrow for the batch: its blocks' time range and disorder are then found
    # without a sort, as the sort finds them.
    path = tmp_path / "day.parquet"
    n = len(times)
    columns = {"timestamp": pa.array(times, type=pa.float64()), "device_id": [DEV] * n,
               "code": [0x8014] * n, "recipients": ["DNO"] * n}  # fmt: skip
    pq.write_table(pa.table(columns), path)
    (batch,) = columnar.open_columnar(path, "parquet").batches()
    assert batch.ordered is ordered
    sorts: list[object] = []

    def spy(values: list[float]) -> list[float]:
        sorts.append(values)
        return sorted(values)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic, "sorted", spy, raising=False)
        read = _devices_in_order(_columnar_read(path, 512, on_error="skip"))
    assert read == _by_batches_and_rows(path, on_error="skip")[1]
    assert bool(sorts) is not ordered


def test_text_times_are_not_taken_as_in_order(tmp_path: Path) -> None:
    path = tmp_path / "day.parquet"
    columns = {"timestamp": ["2024-01-15T00:00:00Z", "2024-01-15T00:00:01Z"],
               "device_id": [DEV] * 2, "code": [0x8014] * 2}  # fmt: skip
    pq.write_table(pa.table(columns), path)
    (batch,) = columnar.open_columnar(path, "parquet").batches()
    assert not batch.ordered


def _shaped_read(path: Path, batch_rows: int = 2) -> tuple[list[int], list[object]]:
    """Each row's shape index and the table's shapes, read by batches of ``batch_rows`` (and
    the read checked against the row-by-row loop)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BATCH_ROWS", batch_rows)
        by_batches, by_rows = _by_batches_and_rows(path, on_error="skip")
        assert by_batches == by_rows
        shaped = [shapes_of(block) for block in TrafficReader(path).blocks(512)]
    tables = {id(item[1]): item[1] for item in shaped if item is not None}
    assert len(tables) == 1 and all(item is not None for item in shaped)
    (table,) = tables.values()
    rows = [i for item in shaped for i in item[0]]  # type: ignore[index]
    return rows, list(zip(table.device_ids, table.codes, table.recipients, strict=True))


def _write(path: Path, groups: list[dict[str, list[object]]]) -> None:
    """Row groups of these columns (a timestamp column added), each its own dictionaries."""
    tables = []
    for group in groups:
        n = len(group["device_id"])
        times = [float(T0 + len(tables) * 10 + i) for i in range(n)]
        tables.append(pa.table({"timestamp": times, **group}))
    with pq.ParquetWriter(path, tables[0].schema) as out:
        for table in tables:
            out.write_table(table)


def test_a_batch_of_other_dictionaries_finds_the_shapes_added_by_key(tmp_path: Path) -> None:
    # Shapes added by key (the first row group's), then a dictionary of other positions:
    # its shapes are found by value, none added twice.
    third = "00-0D-6F-00-0A-BC-12-36"
    path = tmp_path / "day.parquet"
    first = {"device_id": [DEV, OTHER, DEV, OTHER], "code": [0x8014] * 4, "recipients": ["A"] * 4}
    second = {"device_id": [OTHER, third, DEV], "code": [0x8014] * 3, "recipients": ["A"] * 3}
    _write(path, [first, second])
    rows, table = _shaped_read(path)
    assert rows == [0, 1, 0, 1, 1, 2, 0]
    assert table == [(DEV, 0x8014, ("A",)), (OTHER, 0x8014, ("A",)), (third, 0x8014, ("A",))]


@pytest.mark.parametrize(
    ("codes", "names"),
    [
        (["8014", "0x8014", "8015", "8014"], ["A;B"] * 4),
        (["8014"] * 4, ["A;B", "A; B", "C", "A;B"]),
    ],
)
def test_two_spellings_of_a_code_or_recipients_are_one_shape(
    tmp_path: Path, codes: list[str], names: list[str]
) -> None:
    # Distinct positions of one value: the batch's new shapes are found by value.
    path = tmp_path / "day.parquet"
    _write(path, [{"device_id": [DEV] * 4, "code": codes, "recipients": names}])
    rows, table = _shaped_read(path)
    assert rows == [0, 0, 1, 0] and len(table) == 2


def test_a_device_whose_make_changes_gives_its_new_shape_once(tmp_path: Path) -> None:
    path = tmp_path / "day.parquet"
    makes = ["Acme", "Beta", None, "Acme"]
    _write(path, [{"device_id": [DEV] * 4, "code": [0x8014] * 4, "manufacturer": makes}])
    rows, table = _shaped_read(path, 4)
    assert rows == [0, 0, 0, 0] and table == [(DEV, 0x8014, ())]


def test_shapes_without_keys_are_found_by_value(tmp_path: Path) -> None:
    # Keys too wide (made so here): every batch's shapes are found by value.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, DEV, OTHER, OTHER, DEV]
    _write(path, [{"device_id": ids, "code": [0x8014, 7] * 3, "recipients": ["A"] * 6}])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "_KEY_LIMIT", 1 << 17)  # three device ids by the codes pass it
        rows, table = _shaped_read(path)
        finder = _read_finder(path)
    assert rows == [0, 1, 0, 1, 2, 3] and len(table) == 4
    assert not finder._keyed


def test_keys_of_shapes_are_forgotten_when_too_many(tmp_path: Path) -> None:
    # Keys forgotten while the table keeps its shapes: found by value after, none twice.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, OTHER, DEV, DEV, "00-0D-6F-00-0A-BC-12-36", OTHER, DEV]
    _write(path, [{"device_id": ids, "code": [0x8014] * 8, "recipients": ["A"] * 8}])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batchshapes, "_SHAPE_KEYS", 2)
        rows, table = _shaped_read(path)
        patch.setattr(columnar, "BATCH_ROWS", 2)
        finder = _read_finder(path)
    assert rows == [0, 1, 1, 0, 0, 2, 1, 0] and len(table) == 3
    assert 0 < len(finder._keyed) <= 2


def test_shapes_of_a_scope_without_keys_are_not_taken_as_keyed(tmp_path: Path) -> None:
    # A row group too wide for keys (made so here), then one with keys: the shapes the
    # first added have no key, so the second's are found by value, none added twice.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, "00-0D-6F-00-0A-BC-12-36", "00-0D-6F-00-0A-BC-12-37"]
    _write(path, [{"device_id": ids, "code": [0x8014] * 4},
                  {"device_id": [DEV, OTHER, DEV, OTHER], "code": [0x8014] * 4}])  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "_KEY_LIMIT", 4 << 16)  # five positions by the codes pass it
        rows, table = _shaped_read(path)
    assert rows == [0, 1, 2, 3, 0, 1, 0, 1] and len(table) == 4


def test_new_shapes_by_key_are_added_one_by_one_when_not_all_at_once(tmp_path: Path) -> None:
    # Should the table refuse a batch's new shapes at once, they are added one by one.
    path = tmp_path / "day.parquet"
    ids = [DEV, OTHER, OTHER, DEV, "00-0D-6F-00-0A-BC-12-36"]
    _write(path, [{"device_id": ids, "code": [0x8014] * 5, "recipients": ["A"] * 5}])

    def refuse(*args: object) -> None:
        raise traffic.InvalidAlertError("shapes", 0, "refused")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic.ShapeTable, "add_many", refuse)
        rows, table = _shaped_read(path)
    assert rows == [0, 1, 1, 0, 2] and len(table) == 3


def _read_finder(path: Path) -> batchshapes.BatchShapes:
    """Read ``path`` by blocks; the shape finder of the read (its columnar rows' own)."""
    made: list[columnarrows.ColumnarRows] = []
    init = columnarrows.ColumnarRows.__init__

    def kept(rows: columnarrows.ColumnarRows, reader: TrafficReader) -> None:
        init(rows, reader)
        made.append(rows)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnarrows.ColumnarRows, "__init__", kept)
        list(TrafficReader(path).blocks(512))
    (rows,) = made
    return rows._finder


def _by_key_read(path: Path) -> tuple[list[int], list[object], batchshapes.BatchShapes, int]:
    """:func:`_shaped_read`, with the shape finder of a read of its own by batches of 2 and
    how many times it looked shapes up by value."""
    by_value = batchshapes.BatchShapes._by_value
    calls: list[object] = []

    def spy(*args: object) -> None:
        calls.append(args)
        by_value(*args)  # type: ignore[arg-type]

    rows, table = _shaped_read(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BATCH_ROWS", 2)
        patch.setattr(batchshapes.BatchShapes, "_by_value", spy)
        finder = _read_finder(path)
    return rows, table, finder, len(calls)


def test_shapes_are_found_by_key_in_a_dictionary_of_other_order(tmp_path: Path) -> None:
    # Row groups of one device dictionary, each with its own recipients (in another
    # order): the keys known are moved to the new positions.
    path = tmp_path / "day.parquet"
    first = {"device_id": [DEV, OTHER, DEV, DEV], "recipients": ["A", "B", "B", "A"]}
    second = {"device_id": [DEV, OTHER, DEV, OTHER], "recipients": ["B", "A", "A", "B"]}
    for group in (first, second):
        group["code"] = [0x8014] * 4
    _write(path, [first, second])
    rows, table, finder, by_value = _by_key_read(path)
    assert rows == [0, 1, 2, 0, 2, 3, 0, 1] and len(table) == 4
    assert by_value == 0
    assert sorted(finder._keyed.values()) == [0, 1, 2, 3]


def test_shapes_are_found_by_value_in_a_dictionary_of_other_devices(tmp_path: Path) -> None:
    # Another device dictionary: its shapes are found by value (the keys not moved).
    third = "00-0D-6F-00-0A-BC-12-36"
    path = tmp_path / "day.parquet"
    first = {"device_id": [DEV, OTHER, DEV, DEV], "recipients": ["A", "B", "B", "A"]}
    second = {"device_id": [third, DEV, DEV, third], "recipients": ["B", "A", "B", "A"]}
    for group in (first, second):
        group["code"] = [0x8014] * 4
    _write(path, [first, second])
    rows, table, _, by_value = _by_key_read(path)
    assert rows == [0, 1, 2, 0, 3, 0, 2, 4]
    assert [shape[0] for shape in table] == [DEV, OTHER, DEV, third, third]
    assert by_value == 2


def test_keys_are_not_moved_between_codes_as_they_are_and_a_dictionary() -> None:
    devices: list[object] = [DEV, None]
    finder = columnarrows.ColumnarRows(TrafficReader("day.parquet"))._finder
    finder._scope, finder._values = (devices, None), ([DEV], [], None)
    finder._keyed.update({5: 0})
    assert finder._moved((devices, ["8014", None]), ([DEV], [0x8014], None)) is None
    assert finder._moved((devices, None), ([DEV], [0x8015], None)) == {5: 0}


def test_keys_too_wide_for_their_scope_are_not_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "_KEY_LIMIT", 1 << 20)  # 16 positions by the codes pass it
    old, new = ([None] * 2, None, [None]), ([None] * 16, None, [None])
    assert columnar.moved_keys([1, 2], old, new, [None] * 3) == [None] * 2
    assert columnar.moved_keys([1, 2], old, old, [None] * 3) == [1, 2]


def test_a_shape_whose_key_was_left_out_is_not_added_again(tmp_path: Path) -> None:
    # Recipients "C" gone from the second row group's dictionary and back in the third's:
    # the key of (DEV, C) was left out when moved, so the third's shapes go by value.
    path = tmp_path / "day.parquet"
    groups = [["A", "C"], ["A", "A"], ["C", "A"]]
    _write(path, [{"device_id": [DEV] * 2, "code": [0x8014] * 2, "recipients": names}
                  for names in groups])  # fmt: skip
    rows, table, _, by_value = _by_key_read(path)
    assert rows == [0, 1, 0, 0, 1, 0] and len(table) == 2
    assert by_value == 1


def test_empty_recipients_are_one_value_with_a_null_row_s(tmp_path: Path) -> None:
    # Empty recipients read as () as a null would: the batch's new shapes are still added
    # by key (a null row's position is in no batch with shapes).
    path = tmp_path / "day.parquet"
    names = ["", "A", ""]
    _write(path, [{"device_id": [DEV, OTHER, DEV], "code": [0x8014] * 3, "recipients": names}])
    rows, table, _, by_value = _by_key_read(path)
    assert rows == [0, 1, 0] and table[0] == (DEV, 0x8014, ())
    assert by_value == 0


def test_empty_recipients_keep_their_key_in_a_dictionary_of_other_order(tmp_path: Path) -> None:
    # Recipients "" read as () as a null row's would: moved to the position of "", not to
    # the null row's (the shape would then be added again).
    path = tmp_path / "day.parquet"
    groups = [["", "A", "", "A"], ["A", "", "A", ""]]
    _write(path, [{"device_id": [DEV, DEV, OTHER, OTHER], "code": [0x8014] * 4, "recipients": names}
                  for names in groups])  # fmt: skip
    rows, table, _, by_value = _by_key_read(path)
    assert rows == [0, 1, 2, 3, 1, 0, 3, 2] and len(table) == 4
    assert by_value == 0
