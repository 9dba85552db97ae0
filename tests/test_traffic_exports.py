"""Real exports: encodings, compression, time units, stray quotes, hostile lines, empty files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tracemalloc
from pathlib import Path

import pytest

from alertthrottle import Alert, TrafficError, TrafficReader
from alertthrottle._io.lines import MAX_RECORD

DEV = "00-0D-6F-00-0A-BC-12-34"
HEADER = "timestamp,device_id,code,recipients,manufacturer\n"


def rows(*stamps: object) -> str:
    return "".join(f"{t},{DEV},8014,DNO,Acme\n" for t in stamps)


def read(data: bytes, **options: object) -> tuple[list[Alert], TrafficReader]:
    reader = TrafficReader(io.BytesIO(data), name="x.csv", **options)  # type: ignore[arg-type]
    return list(reader), reader


def test_a_byte_that_is_not_utf8_is_a_bad_row_at_its_line() -> None:
    data = (HEADER + rows(1) + f"2,{DEV},8014,DNO,Soci\xe9t\xe9\n" + rows(3)).encode("latin-1")
    with pytest.raises(TrafficError) as info:
        read(data)
    assert str(info.value).startswith("x.csv:3: row: has a byte that is not UTF-8 (0xE9 at")
    alerts, reader = read(data, on_error="skip")
    assert [a.timestamp for a in alerts] == [1, 3]
    assert (reader.rows, reader.skipped) == (3, 1)


def test_non_utf8_inside_a_quoted_record_is_a_bad_row() -> None:
    data = (HEADER + f'2,{DEV},8014,DNO,"two\nlin\xe9s"\n' + rows(3)).encode("latin-1")
    alerts, reader = read(data, on_error="skip")
    assert [a.timestamp for a in alerts] == [3] and reader.skipped == 1
    assert "not UTF-8" in reader.skipped_rows[0].problem


@pytest.mark.parametrize("cut", [10, 40, -9])
def test_a_truncated_gzip_ends_the_read_naming_the_file_and_rows(cut: int) -> None:
    whole = gzip.compress((HEADER + rows(*range(2000))).encode())
    for on_error in ("fail", "skip"):
        reader = TrafficReader(io.BytesIO(whole[:cut]), name="day.csv.gz", on_error=on_error)
        with pytest.raises(TrafficError) as info:
            list(reader)
        message = str(info.value)
        assert message.startswith("day.csv.gz: is a truncated or corrupt gzip file")
        assert f"{reader.rows:,} rows were read before it" in message


def test_a_corrupt_gzip_is_refused_too() -> None:
    whole = bytearray(gzip.compress((HEADER + rows(*range(50))).encode()))
    whole[30] ^= 0xFF
    with pytest.raises(TrafficError, match="truncated or corrupt gzip"):
        read(bytes(whole))


def test_milliseconds_are_refused_with_a_hint_and_read_with_time_unit() -> None:
    data = (HEADER + rows(1_705_276_800_000, 1_705_276_800_500)).encode()
    with pytest.raises(TrafficError) as info:
        read(data)
    assert str(info.value) == (
        "x.csv:2: timestamp: must be before the year 10000; it looks like epoch milliseconds: "
        "read the file with time_unit='ms' (--time-unit ms), got \"1705276800000\""
    )
    alerts, _ = read(data, time_unit="ms")
    assert [a.timestamp for a in alerts] == [1_705_276_800, 1_705_276_800.5]
    assert type(alerts[0].timestamp) is int
    micro = (HEADER + rows(1_705_276_800_000_000)).encode()
    with pytest.raises(TrafficError, match="looks like epoch microseconds"):
        read(micro)
    assert read(micro, time_unit="us")[0][0].timestamp == 1_705_276_800
    assert read(micro, time_unit="ms", on_error="skip")[1].skipped == 1


def test_jsonl_numbers_follow_the_time_unit() -> None:
    line = json.dumps({"timestamp": 1_705_276_800_250, "device_id": DEV, "code": 32788})
    reader = TrafficReader(io.BytesIO(line.encode()), format="jsonl", time_unit="ms")
    assert [a.timestamp for a in reader] == [1_705_276_800.25]


@pytest.mark.parametrize(
    "stamp", ["253402300800", "1" * 5000, "9" * 400, "1e400", "-5", "nan", "0x10"]
)
def test_times_out_of_range_or_absurd_are_bad_rows(stamp: str) -> None:
    alerts, reader = read((HEADER + rows(stamp, 7)).encode(), on_error="skip")
    assert [a.timestamp for a in alerts] == [7]
    assert reader.skipped_rows[0].field == "timestamp"
    assert len(str(reader.skipped_rows[0])) < 300


def test_a_stray_quote_reads_as_the_csv_module_reads_it() -> None:
    text = HEADER + rows(1) + f'2,{DEV},8014,"DNO,Acme\n' + rows(3, 4) + f'5,{DEV},8014,DNO",x,y\n'
    text += rows(6)
    expected = list(csv.reader(io.StringIO(text)))
    assert len(expected) == 4  # header, row 1, the joined record, row 6
    alerts, reader = read(text.encode(), on_error="skip")
    assert [a.timestamp for a in alerts] == [1, 6]
    assert reader.skipped == 1 and reader.skipped_rows[0].line == 3
    assert reader.skipped_rows[0].problem.startswith("has 6 fields")
    # The skipped record names the lines it swallowed: 3 (the quote) to 6 (the next one).
    assert reader.skipped_rows[0].last_line == 6
    assert str(reader.skipped_rows[0]).startswith("x.csv:3-6: row: has 6 fields")
    with pytest.raises(TrafficError) as info:
        read(text.encode())
    assert info.value.line == 3
    assert str(info.value).startswith("x.csv:3-6: row: has 6 fields, the header 5")


def test_a_bad_row_on_one_line_names_that_line_alone() -> None:
    text = HEADER + rows(1) + f'2,{DEV},80X4,"DNO",x\n' + rows(3)
    alerts, reader = read(text.encode(), on_error="skip")
    assert [a.timestamp for a in alerts] == [1, 3]
    assert reader.skipped_rows[0].last_line == 0
    assert str(reader.skipped_rows[0]).startswith("x.csv:3: code: ")


def test_a_quote_that_never_closes_costs_a_bounded_record_not_the_file() -> None:
    many = 20_000
    text = HEADER + f'0,{DEV},8014,"DNO,Acme\n' + rows(*range(1, many))
    alerts, reader = read(text.encode(), on_error="skip")
    assert reader.skipped == 1
    problem = reader.skipped_rows[0].problem
    assert problem.startswith(f"has a quote that does not close within {MAX_RECORD:,}")
    skipped = reader.skipped_rows[0]
    assert skipped.line == 2 and skipped.last_line > 2
    # The record stops at MAX_RECORD characters; the rows after it are read again.
    first = alerts[0].timestamp
    assert MAX_RECORD // len(rows(many)) <= first <= MAX_RECORD // len(rows(1)) + 1
    assert [a.timestamp for a in alerts] == list(range(first, many))


def test_deep_json_and_huge_lines_are_bad_rows() -> None:
    good = json.dumps({"timestamp": 1, "device_id": DEV, "code": 1})
    data = "\n".join(["[" * 60_000, "x" * (5 * MAX_RECORD), good, ""]).encode()
    reader = TrafficReader(io.BytesIO(data), format="jsonl", on_error="skip")
    assert [a.timestamp for a in reader] == [1]
    assert [r.line for r in reader.skipped_rows] == [1, 2]
    assert "nested too deeply" in reader.skipped_rows[0].problem
    assert "longer than" in reader.skipped_rows[1].problem
    csv_data = (HEADER + "1" * (3 * MAX_RECORD) + "\n" + rows(2)).encode()
    alerts, csv_reader = read(csv_data, on_error="skip")
    assert [a.timestamp for a in alerts] == [2] and csv_reader.skipped == 1


class OneEndlessLine(io.RawIOBase):
    """A gzip bomb's payload: 64 MiB without a line break, then a good row."""

    def __init__(self) -> None:
        self.left = 64 << 20
        self.tail = ("\n" + rows(5)).encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.left > 0:
            size = min(len(buffer), self.left)
            buffer[:size] = b"7" * size
            self.left -= size
            return size
        size = min(len(buffer), len(self.tail))
        buffer[:size] = self.tail[:size]
        self.tail = self.tail[size:]
        return size


def test_an_endless_line_is_read_with_bounded_memory() -> None:
    reader = TrafficReader(
        io.BufferedReader(_Chain(HEADER.encode(), OneEndlessLine())), format="csv",
        on_error="skip",
    )  # fmt: skip
    tracemalloc.start()
    try:
        alerts = list(reader)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a.timestamp for a in alerts] == [5] and reader.skipped == 1
    assert peak < 8 << 20


class _Chain(io.RawIOBase):
    def __init__(self, head: bytes, rest: io.RawIOBase) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size] = self.head[:size]
            self.head = self.head[size:]
            return size
        return self.rest.readinto(buffer)


@pytest.mark.parametrize("fmt", ["csv", None])
def test_an_empty_file_is_refused_clearly(tmp_path: Path, fmt: str | None) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(TrafficError) as info:
        list(TrafficReader(path, format=fmt, on_error="skip"))  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{path}: is empty")


def test_an_empty_json_lines_file_is_no_alerts(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(TrafficReader(path)) == []


def test_errors_show_the_cell_text_not_a_repr() -> None:
    data = (HEADER + f"1,{DEV},80X4,DNO,Acme\n").encode()
    with pytest.raises(TrafficError) as info:
        read(data)
    assert str(info.value).endswith('got "80X4"')
    assert "'" not in str(info.value).rsplit("got", 1)[1]


def test_bad_options_are_library_errors() -> None:
    for options in ({"on_error": "ignore"}, {"format": "xml"}, {"time_unit": "h"}):
        with pytest.raises(TrafficError) as info:
            TrafficReader(io.BytesIO(b""), name="x.csv", **options)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError)
        assert str(info.value).startswith("x.csv: ")


def test_order_is_watched_while_reading() -> None:
    alerts, reader = read((HEADER + rows(5, 3, 9, 1, 9)).encode())
    assert len(alerts) == 5
    assert (reader.earliest, reader.latest, reader.out_of_order) == (1, 9, 2)
