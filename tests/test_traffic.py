"""Traffic files: CSV and JSON Lines, gzip, stdin, bad rows, streaming."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alertthrottle import Alert, DeviceInfo, InvalidAlertError, TrafficError, parse_code
from alertthrottle._io.traffic import KEPT_SKIPS, TrafficReader
from alertthrottle._io.trafficerrors import row_error
from alertthrottle._io.trafficwrite import merge_traffic, open_traffic_output, write_traffic

DEV = "00-0D-6F-00-0A-BC-12-34"
OTHER = "00-0D-6F-00-0A-BC-12-35"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_reads_alerts_with_recipients_and_device_info(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "timestamp,device_id,code,recipients,manufacturer,model,firmware\n"
        f"100,{DEV},8014,DNO-10;SUPPLIER-A,Acme,AM-E2,2.4.1\n"
        f"101.5,{DEV.lower()},0x8015,,,,\n"
        f"2024-01-15T00:00:00+00:00,{OTHER},8f84,SUPPLIER-B,,,\n",
    )
    reader = TrafficReader(path)
    alerts = list(reader)
    assert alerts == [
        Alert(100, DEV, 0x8014, ("DNO-10", "SUPPLIER-A")),
        Alert(101.5, DEV, 0x8015),
        Alert(1_705_276_800, OTHER, 0x8F84, ("SUPPLIER-B",)),
    ]
    assert reader.format == "csv"
    assert reader.rows == 3 and reader.skipped == 0
    assert reader.devices == {DEV: DeviceInfo("Acme", "AM-E2", "2.4.1")}


def test_iso_timestamp_needs_an_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", f"timestamp,device_id,code\n2024-01-15T00:00:00,{DEV},8014\n")
    with pytest.raises(TrafficError) as info:
        list(TrafficReader(path))
    assert str(info.value).startswith(f"{path}:2: timestamp: must be timezone-aware")
    zulu = write(tmp_path / "z.csv", f"timestamp,device_id,code\n2024-01-15T01:00:00Z,{DEV},1\n")
    assert [a.timestamp for a in TrafficReader(zulu)] == [1_705_276_800 + 3600]


def test_bad_row_fails_with_file_line_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        f"timestamp,device_id,code,recipients\n1,{DEV},8014,A\n2,{DEV},80X4,A\n3,{DEV},8014,A\n",
    )
    reader = TrafficReader(path)
    seen = []
    with pytest.raises(TrafficError) as info:
        seen.extend(reader)
    exc = info.value
    assert str(exc) == (
        f"{path}:3: code: must be 1 to 4 hexadecimal digits, optionally after '0x', got \"80X4\""
    )
    assert isinstance(exc, InvalidAlertError) and isinstance(exc, ValueError)
    assert (exc.source, exc.line, exc.field, exc.value) == (str(path), 3, "code", "80X4")
    assert len(seen) == 1


def test_skip_counts_every_bad_row_and_keeps_the_first_ten(tmp_path: Path) -> None:
    lines = ["timestamp,device_id,code"]
    for i in range(25):
        lines.append(f"{i},{DEV},8014")
        lines.append(f"-{i + 1},{DEV},8014")  # negative time: bad
    lines.append("99,not-a-device,8014")
    lines.append("100,too,many,fields")
    path = write(tmp_path / "s.csv", "\n".join(lines) + "\n")
    reader = TrafficReader(path, on_error="skip")
    alerts = list(reader)
    assert len(alerts) == 25
    assert reader.skipped == 27
    assert reader.rows == 52
    assert len(reader.skipped_rows) == KEPT_SKIPS
    first = reader.skipped_rows[0]
    assert (first.line, first.field) == (3, "timestamp")
    assert str(first) == f'{path}:3: timestamp: must be finite and >= 0, got "-1"'


def test_missing_header_column_is_fatal_even_when_skipping(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", f"time,device_id,code\n1,{DEV},8014\n")
    with pytest.raises(TrafficError, match=r"h\.csv:1: header: .*missing timestamp"):
        list(TrafficReader(path, on_error="skip"))


@pytest.mark.parametrize(
    ("separator", "named"), [(";", "semicolons"), ("\t", "tabs"), ("|", "'|'")]
)
def test_a_header_split_by_another_separator_says_so(
    tmp_path: Path, separator: str, named: str
) -> None:
    text = separator.join(["Timestamp", "device_id", "code"])
    path = write(tmp_path / "s.csv", f"{text}\n1{separator}{DEV}{separator}8014\n")
    with pytest.raises(TrafficError) as caught:
        list(TrafficReader(path))
    assert f"missing timestamp, device_id, code); its columns seem separated by {named}:" in str(
        caught.value
    )


def test_a_header_missing_a_column_gets_no_separator_hint(tmp_path: Path) -> None:
    # One cell, but the names in it (split by ';') still lack device_id: no hint.
    path = write(tmp_path / "s.csv", "timestamp;code\n1;8014\n")
    with pytest.raises(TrafficError) as caught:
        list(TrafficReader(path))
    assert "separated" not in str(caught.value)


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "b.csv", f"timestamp,device_id,code\n\n1,{DEV},8014\n\n")
    reader = TrafficReader(path)
    assert len(list(reader)) == 1 and reader.rows == 1


def test_jsonl_reads_and_reports_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        f'{{"timestamp": 5, "device_id": "{DEV}", "code": "8014", "recipients": ["DNO-10"],'
        ' "manufacturer": "Acme", "model": null}\n'
        "\n"
        f'{{"timestamp": "1970-01-01T00:00:07+00:00", "device_id": "{DEV}", "code": 32789}}\n'
        "not json\n"
        "[1, 2]\n"
        f'{{"device_id": "{DEV}", "code": "8014"}}\n'
        f'{{"timestamp": 9, "device_id": "{DEV}", "code": "8014", "recipients": "DNO-10"}}\n',
    )
    reader = TrafficReader(path, on_error="skip")
    alerts = list(reader)
    assert alerts == [Alert(5, DEV, 0x8014, ("DNO-10",)), Alert(7, DEV, 0x8015)]
    assert reader.devices == {DEV: DeviceInfo("Acme")}
    assert [(row.line, row.field) for row in reader.skipped_rows] == [
        (4, "row"),
        (5, "row"),
        (6, "timestamp"),
        (7, "recipients"),
    ]
    assert reader.skipped_rows[2].problem == "is required"


def test_jsonl_object_naming_a_field_twice_is_a_bad_row(tmp_path: Path) -> None:
    # json would keep the last value: the first would be lost without a word.
    path = write(
        tmp_path / "t.jsonl",
        f'{{"timestamp": 5, "device_id": "{DEV}", "code": "8014", "timestamp": 6}}\n'
        f'{{"timestamp": 7, "device_id": "{DEV}", "code": "8014", "x": {{"a": 1, "a": 2}}}}\n'
        f'{{"timestamp": 8, "device_id": "{DEV}", "code": "8014", "x": {{"a": 1, "b": 2}}}}\n',
    )
    reader = TrafficReader(path, on_error="skip")
    assert list(reader) == [Alert(8, DEV, 0x8014)]
    assert [(row.line, row.field, row.problem) for row in reader.skipped_rows] == [
        (1, "row", "has the field timestamp twice"),
        (2, "row", "has the field a twice"),
    ]


def test_format_is_sniffed_when_the_name_says_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "traffic.txt", f'{{"timestamp": 1, "device_id": "{DEV}", "code": 1}}\n')
    reader = TrafficReader(path)
    assert len(list(reader)) == 1 and reader.format == "jsonl"


def test_gzip_is_read_transparently_from_files_and_streams(tmp_path: Path) -> None:
    data = f"timestamp,device_id,code\n1,{DEV},8014\n2,{DEV},8015\n".encode()
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(data))
    assert len(list(TrafficReader(path))) == 2
    # A gzipped stream without a telling name is recognised by its magic bytes.
    assert len(list(TrafficReader(io.BytesIO(gzip.compress(data))))) == 2


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"timestamp,device_id,code\n1,{DEV},8014\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    reader = TrafficReader("-")
    assert list(reader) == [Alert(1, DEV, 0x8014)] and reader.name == "<stdin>"


class EndlessCSV(io.RawIOBase):
    """A stream that never ends: a reader that loaded it whole would never return."""

    def __init__(self) -> None:
        self.n = 0
        self.pending = b"timestamp,device_id,code\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            self.pending += f"{self.n},{DEV},8014\n".encode()
            self.n += 1
        size = len(buffer)
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def test_reading_is_a_stream() -> None:
    source = EndlessCSV()
    first = list(itertools.islice(TrafficReader(source, format="csv"), 1000))
    assert [a.timestamp for a in first] == list(range(1000))
    assert source.n < 100_000


def test_reader_iterates_once(tmp_path: Path) -> None:
    reader = TrafficReader(write(tmp_path / "t.csv", "timestamp,device_id,code\n"))
    assert list(reader) == []
    with pytest.raises(TrafficError, match="only once"):
        list(reader)


def test_merge_traffic_orders_by_time() -> None:
    a = [Alert(t, DEV, 1) for t in (1, 4, 9)]
    b = [Alert(t, OTHER, 1) for t in (2, 3, 10)]
    assert [x.timestamp for x in merge_traffic(a, b)] == [1, 2, 3, 4, 9, 10]


def test_gz_output_is_reproducible(tmp_path: Path) -> None:
    alerts = [Alert(1, DEV, 0x8014, ("A", "B"))]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        with open_traffic_output(tmp_path / folder / "t.csv.gz") as out:
            write_traffic(alerts, out)
    written = (tmp_path / "a" / "t.csv.gz").read_bytes()
    assert written == (tmp_path / "b" / "t.csv.gz").read_bytes()
    assert list(TrafficReader(tmp_path / "a" / "t.csv.gz")) == alerts


names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters=";\"'"),
    min_size=1,
    max_size=8,
).filter(lambda s: s.strip() == s)
alerts_strategy = st.builds(
    Alert,
    timestamp=st.one_of(
        st.integers(0, 253_402_300_799), st.floats(0, 2e9, allow_nan=False, allow_infinity=False)
    ),
    device_id=st.integers(0, 2**64 - 1).map(
        lambda n: "-".join(f"{n:016X}"[i : i + 2] for i in range(0, 16, 2))
    ),
    code=st.integers(0, 0xFFFF),
    recipients=st.lists(names, max_size=3).map(tuple),
)
infos = st.builds(
    DeviceInfo,
    st.one_of(st.none(), names.map(lambda s: s + ", x")),
    st.one_of(st.none(), names),
    st.one_of(st.none(), names),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(alerts_strategy, max_size=20), infos, st.sampled_from(["csv", "jsonl"]))
def test_write_then_read_round_trips(alerts: list[Alert], info: DeviceInfo, fmt: str) -> None:
    devices = {alert.device_id: info for alert in alerts[:3]}
    out = io.StringIO()
    assert write_traffic(alerts, out, format=fmt, devices=devices) == len(alerts)  # type: ignore[arg-type]
    reader = TrafficReader(io.BytesIO(out.getvalue().encode()), format=fmt)  # type: ignore[arg-type]
    assert list(reader) == alerts
    expected = {d: i for d, i in devices.items() if i != DeviceInfo()}
    assert reader.devices == expected


def test_quoted_cells_may_hold_commas_and_line_breaks(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.csv",
        "timestamp,device_id,code,recipients,manufacturer\n"
        f'1,{DEV},8014,A,"Acme, Inc."\n'
        f'2,{DEV},8014,A,"Two\nlines"\n'
        f"3,{DEV},80X4,A,\n",
    )
    reader = TrafficReader(path, on_error="skip")
    assert [a.timestamp for a in reader] == [1, 2]
    assert reader.devices[DEV] == DeviceInfo("Two\nlines")
    # The record after a two-line one is reported at its own line.
    assert reader.skipped_rows[0].line == 5


def _reference_csv(text: str) -> tuple[list[Alert], int, dict[str, DeviceInfo]]:
    """What a CSV reads as, by the csv module and Alert's own checks: alerts, bad rows, makes."""
    records = csv.reader(io.StringIO(text, newline=""))
    columns = next(records)
    alerts, bad, devices = [], 0, {}
    for record in records:
        if not record:
            continue
        row = dict(zip(columns, record, strict=True))
        stamp = row["timestamp"]
        try:
            try:
                timestamp: float = int(stamp) if stamp.isdecimal() else float(stamp)
            except ValueError:
                raise InvalidAlertError("timestamp", stamp, "not a number") from None
            names = tuple(row["recipients"].split(";")) if row["recipients"] else ()
            if not all(names):
                raise InvalidAlertError("recipients", names, "empty name")
            alert = Alert(timestamp, row["device_id"], parse_code(row["code"]), names)
        except InvalidAlertError:
            bad += 1
            continue
        alerts.append(alert)
        if row["manufacturer"]:
            devices[alert.device_id] = DeviceInfo(row["manufacturer"])
    return alerts, bad, devices


csv_cells = st.tuples(
    st.sampled_from([DEV, OTHER, "00-0D"]),
    st.sampled_from(["8014", "8F35", "80X4"]),
    st.sampled_from(["A", "A;B", "", ";"]),
    st.sampled_from(["", "Acme", '"Acme, Inc."']),
    st.sampled_from(["\n", "\r\n"]),
)
csv_stamps = st.sampled_from(["1", "7", "2.5", "1e3", '"3"', "-1", "nan", "x"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(csv_cells, min_size=1, max_size=3),
    st.lists(st.tuples(csv_stamps, st.integers(0, 2)), max_size=30),
    st.booleans(),
)
# Repeats the search may miss: a quoted, a bad and a good timestamp on a remembered row,
# and a device whose make changes and changes back.
@example([(DEV, "8014", "A", "", "\n")], [("1", 0), ('"3"', 0), ("x", 0), ("2.5", 0)], True)
@example(
    [(DEV, "8014", "A", "Acme", "\n"), (DEV, "8014", "A", '"Acme, Inc."', "\n")],
    [("1", 0), ("2", 1), ("3", 0)],
    True,
)
def test_csv_rows_read_as_the_csv_module_and_alert_read_them(
    pool: list[tuple[str, ...]], picks: list[tuple[str, int]], time_first: bool
) -> None:
    # Rows drawn from a pool of at most three, so they repeat with other timestamps: the
    # reader remembers a row by the text after its timestamp, and must read repeats
    # exactly as it read the first.
    rows = [(stamp, *pool[i % len(pool)]) for stamp, i in picks]
    # With the timestamp last the reader does not remember rows: the ordinary path.
    header = ["timestamp", "device_id", "code", "recipients", "manufacturer"]
    order = range(5) if time_first else (1, 2, 3, 4, 0)
    lines = [",".join(header[i] for i in order) + "\n"]
    for *cells, end in rows:
        lines.append(",".join(cells[i] for i in order) + end)
    text = "".join(lines)
    reader = TrafficReader(io.BytesIO(text.encode()), format="csv", on_error="skip")
    expected, bad, devices = _reference_csv(text)
    assert list(reader) == expected
    assert (reader.rows, reader.skipped, reader.devices) == (len(rows), bad, devices)


def test_a_row_error_shows_any_value_without_raising() -> None:
    # repr() refuses an int past 4300 digits; the message shortens it instead.
    error = row_error("day.csv", 7, "code", 10**5000, "is not an alert code")
    assert str(error).startswith("day.csv:7: code: is not an alert code, got <int of ")


def test_blocks_are_the_alerts_of_the_file_in_order(tmp_path):
    from alertthrottle import AlertColumns

    path = tmp_path / "t.csv"
    rows = [f"{t},00-0D-6F-00-0A-BC-12-34,8014" for t in range(7)]
    path.write_text("timestamp,device_id,code\n" + "\n".join(rows) + "\n", encoding="utf-8")
    expected = list(TrafficReader(path))
    blocks = list(TrafficReader(path).blocks(3))
    assert [len(block) for block in blocks] == [3, 3, 1]
    assert all(type(block) is AlertColumns for block in blocks)
    assert [alert for block in blocks for alert in block] == expected


def test_blocks_end_at_a_bad_row_before_its_error(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["1,00-0D-6F-00-0A-BC-12-34,8014", "2,00-0D-6F-00-0A-BC-12-34,8014", "3,x,8014"]
    path.write_text("timestamp,device_id,code\n" + "\n".join(rows) + "\n", encoding="utf-8")
    blocks = TrafficReader(path).blocks(10)
    assert [a.timestamp for a in next(blocks)] == [1, 2]
    with pytest.raises(TrafficError, match=":4: device_id"):
        next(blocks)
