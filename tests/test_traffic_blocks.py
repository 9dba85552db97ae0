"""TrafficReader.blocks(): the same alerts, errors and counts as iterating Alerts.

A block of plain lines is read a column at a time, anything unusual row by
row; these tests hold the column path to the row-by-row one (forced by
switching the column path off) on random and broken files, and blocks of
every size to Alert iteration.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alertthrottle import AlertColumns, DeviceInfo, TrafficError, TrafficReader
from alertthrottle._core.columns import shapes_of
from alertthrottle._io import csvrows, traffic
from alertthrottle._io import lines as lines_module
from alertthrottle._io.lines import MAX_RECORD

DEV = "00-0D-6F-00-0A-BC-12-34"
OTHER = "00-0D-6F-00-0A-BC-12-35"
HEADER = "timestamp,device_id,code,recipients,manufacturer\n"


def state(reader: TrafficReader) -> tuple[object, ...]:
    """Everything a reader tells after a read."""
    return (
        reader.rows,
        reader.skipped,
        [str(row) for row in reader.skipped_rows],
        [(row.line, row.last_line) for row in reader.skipped_rows],
        list(reader.devices.items()),  # in the order the devices came
        (reader.earliest, type(reader.earliest)),
        (reader.latest, type(reader.latest)),
        reader.out_of_order,
    )


def time_order(times: list[float]) -> tuple[object, ...]:
    """Earliest, latest (each with its type) and the alerts out of order, alert by alert."""
    earliest, latest, disorder = None, None, 0
    for t in times:
        if latest is None or t > latest:
            latest = t
        elif t < latest:
            disorder += 1
        if earliest is None or t < earliest:
            earliest = t
    return (earliest, type(earliest)), (latest, type(latest)), disorder


def by_alerts(data: bytes, **options: Any) -> tuple[list[object], object, tuple[object, ...]]:
    """Alert iteration: each alert with its line and its device's make as it arrives."""
    reader = TrafficReader(io.BytesIO(data), name="x.csv", **options)
    seen: list[object] = []
    error = None
    try:
        for alert in reader:
            info = reader.devices.get(alert.device_id)
            seen.append((alert, type(alert.timestamp), reader.line, info))
    except TrafficError as exc:
        error = str(exc)
    times = [item[0].timestamp for item in seen]  # type: ignore[attr-defined]
    assert state(reader)[5:] == time_order(times)
    return seen, error, state(reader)


def by_blocks(
    data: bytes, size: int, **options: Any
) -> tuple[list[object], object, tuple[object, ...]]:
    """blocks(size): the same, the make being the one known when the block arrives."""
    reader = TrafficReader(io.BytesIO(data), name="x.csv", **options)
    seen: list[object] = []
    error = None
    blocks = reader.blocks(size)
    try:
        for block in blocks:
            assert type(block) is AlertColumns and 1 <= len(block) <= size
            for alert in block:
                seen.append((alert, type(alert.timestamp)))
            assert reader.line >= 1
    except TrafficError as exc:
        error = str(exc)
    return seen, error, state(reader)


def careful(data: bytes, **options: Any) -> tuple[list[object], object, tuple[object, ...]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvrows.CsvRows, "_plain_block", lambda *args: None)
        return by_alerts(data, **options)


stamps = st.sampled_from(
    ["1", "7", "7.0", "1.0", "12", "2.5", "3.25", "1e3", "1.5e3", " 4.5", "5_0.5", "-1", "-1.5",
     "nan", "1.0e99", "x", "", "1.2.3", "2024-01-15T00:00:00+00:00", "2024-01-15T00:00:00.5Z",
     "99999999999", "999999999999", "1705276800000", "1705276800123", "1705276800123.5",
     "1705276800000000", "1705276800000001", "253402300800000", "0.5", "৩"]
)  # fmt: skip
devices = st.sampled_from([DEV, OTHER, DEV.lower(), "00-0D", "", DEV.replace("-", ":")])
codes = st.sampled_from(["8014", "8F35", "0x8015", "80X4", "", "FFFF"])
recipients = st.sampled_from(["DNO", "DNO;SUP", "", ";", "'=X", '"DNO"', '"D,N"'])
makes = st.sampled_from(["", "Acme", "Beta", '"Acme, Inc."', '"Two\nlines"', "Soci\u00e9t\u00e9"])
plain = st.tuples(stamps, devices, codes, recipients, makes).map(lambda cells: ",".join(cells))
# Every cell quoted, as many exports write them: plain when no cell holds a quote, a comma
# or a line break; the others, and quotes almost in place, are read row by row.
quoted = st.tuples(stamps, devices, codes, recipients, makes).map(
    lambda cells: ",".join(f'"{cell}"' for cell in cells)
)
odd = st.sampled_from(
    ["", " ", "1,2", f"1,{DEV},8014,DNO,Acme,extra", f'1,{DEV},8014,"DNO,Acme',
     f"9,{DEV},8014,DNO,Soci\udce9t\udce9", "x" * (MAX_RECORD + 5), f'"3",{DEV},8014,DNO,Acme',
     f'","{DEV}","8014","DNO","Acme""', f'"3","{DEV}","8014","DNO"","',
     f'"3","{DEV}","8014","DNO","Acme","',
     f'"3","{DEV}","8014","DNO"', f'"3","{DEV}","8014","DNO","Acme","x"',
     f'"3","{DEV}"8014","DNO","Acme"',
     f'"3","{DEV}","8014","DNO","Ac\rme"', f' "3","{DEV}","8014","DNO","Acme"']
)  # fmt: skip
endings = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])
lines = st.lists(st.tuples(st.one_of(plain, plain, plain, quoted, odd), endings), max_size=40)


def csv_data(rows: list[tuple[str, str]], last_ending: bool = True) -> bytes:
    text = HEADER + "".join(line + end for line, end in rows)
    if not last_ending:
        text = text.rstrip("\r\n")
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=150, deadline=None)
@given(
    lines,
    st.sampled_from([1, 2, 3, 5, 512]),
    st.sampled_from(["fail", "skip"]),
    st.sampled_from(["s", "s", "ms", "us"]),
    st.booleans(),
)
@example(
    [(f"1,{DEV},8014,DNO,Acme", "\n"), (f"2,{DEV},8014,DNO,Beta", "\n")], 512, "skip", "s", True
)
@example([("1.5", "\n"), (f"2,{DEV},8014,DNO,Acme", "\n")], 2, "fail", "s", False)
# A block whose new rows all have a field too many (or too few), and one of the few.
@example([(f"1,{DEV},8014,DNO,Acme,extra", "\n")], 512, "skip", "s", True)
@example([(f"1,{DEV},8014,DNO", "\n"), (f"2,{DEV},8014,DNO", "\n")], 512, "fail", "s", True)
@example([(f"1,{DEV},8014,DNO,Acme", "\n"), (f"2,{DEV},8014,DNO", "\n")], 512, "skip", "s", True)
# Quotes and commas counted right, yet not every cell quoted: the csv module reads 4 cells.
@example([(f'"3","{DEV}","8014","DNO"","', "\n")], 1, "skip", "s", True)
def test_csv_blocks_read_as_row_by_row(
    rows: list[tuple[str, str]], size: int, on_error: str, time_unit: str, last_ending: bool
) -> None:
    data = csv_data(rows, last_ending)
    options = {"on_error": on_error, "time_unit": time_unit}
    expected, error, after = careful(data, **options)
    seen, block_error, block_after = by_blocks(data, size, **options)
    assert seen == [item[:2] for item in expected]
    assert (block_error, block_after) == (error, after)
    assert by_alerts(data, **options) == (expected, error, after)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(stamps, st.integers(0, 2), st.sampled_from(["", "Acme", "Beta"])),
                max_size=60), st.sampled_from([1, 4, 512]), st.sampled_from([2, 5, 1 << 17]),
       st.booleans())  # fmt: skip
def test_repeated_rows_read_as_row_by_row(
    picks: list[tuple[str, int, str]], size: int, table: int, one_make: bool
) -> None:
    # Rows from a few devices, so the column path meets rows it remembers; shape tables
    # of a few rows are full often (a new one is started, or a longer block read row by
    # row); one make per device, or a device's make changing.
    pool = [DEV, OTHER, DEV.lower()]
    text = HEADER + "".join(
        f"{t},{pool[i]},8014,DNO,{'Acme' if one_make else make}\n" for t, i, make in picks
    )
    data = text.encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(traffic, "_ROW_CACHE", table)
        expected, error, after = careful(data, on_error="skip")
        seen, block_error, block_after = by_blocks(data, size, on_error="skip")
        alone = by_alerts(data, on_error="skip")
    assert seen == [item[:2] for item in expected]
    assert (block_error, block_after) == (error, after)
    assert alone == (expected, error, after)


@pytest.mark.parametrize("size", [2, 3, 512])
@pytest.mark.parametrize(
    "odd",
    [
        f'5,{DEV},8014,DNO,"Beta"',  # a quoted row: read row by row, another make
        f'5,{DEV},8014,DNO,"Acme"',  # the same make, quoted
        f"x,{OTHER},8015,DNO,Gamma",  # a bad time: its new shape is not read
        f"5,{OTHER},zz,DNO,Gamma",  # a bad code after a new shape
        f"1e999,{OTHER},8015,DNO,Gamma",  # a time out of range
    ],
)
def test_makes_given_by_shape_follow_rows_read_one_by_one(odd: str, size: int) -> None:
    rows = [f"1,{DEV},8014,DNO,Acme", f"2,{OTHER},8014,DNO,Gamma", odd,
            f"6,{OTHER},8015,DNO,Gamma", f"7,{DEV},8014,DNO,Acme", f"8,{OTHER},8015,DNO,Gamma",
            f"9,{OTHER},8016,DNO,Gamma", f"10,{DEV},8014,DNO,Acme"]  # fmt: skip
    data = (HEADER + "".join(row + "\n" for row in rows)).encode()
    expected, error, after = careful(data, on_error="skip")
    seen, block_error, block_after = by_blocks(data, size, on_error="skip")
    assert seen == [item[:2] for item in expected]
    assert (block_error, block_after) == (error, after)


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize(
    "odd",
    [
        # A new shape whose row is not read (a time out of range), alone or with a bad row.
        [f"9.9e999,{OTHER},8015,DNO,Gamma"],
        [f"9.9e999,{OTHER},8015,DNO,Gamma", f"2.5,{DEV},zz,DNO,Acme"],
        [f"2.5,{DEV},8014,DNO,Acme", f"9.9e999,{OTHER},8015,DNO,Gamma", f"3.5,{DEV},zz,DNO,X"],
    ],
)
def test_a_shape_added_for_a_row_not_read_gives_its_make_later(odd: list[str], size: int) -> None:
    rows = [f"1.5,{DEV},8014,DNO,Acme", *odd, f"6.5,{DEV},8014,DNO,Acme",
            f"7.5,{OTHER},8015,DNO,Gamma", f"8.5,{DEV},8014,DNO,Acme"]  # fmt: skip
    data = (HEADER + "".join(row + "\n" for row in rows)).encode()
    expected, error, after = careful(data, on_error="skip")
    seen, block_error, block_after = by_blocks(data, size, on_error="skip")
    assert seen == [item[:2] for item in expected]
    assert (block_error, block_after) == (error, after)


def test_a_file_with_every_cell_quoted_reads_as_its_plain_twin_a_block_at_a_time() -> None:
    rows = [(f"{t}", DEV if t % 2 else OTHER, "8014", "DNO;SUP", "Acme") for t in range(1, 300)]
    plain_text = HEADER + "".join(",".join(row) + "\r\n" for row in rows)
    quoted_text = HEADER + "".join(",".join(f'"{c}"' for c in row) + "\r\n" for row in rows)
    plain_reader = TrafficReader(io.BytesIO(plain_text.encode()), name="x.csv")
    quoted_reader = TrafficReader(io.BytesIO(quoted_text.encode()), name="x.csv")
    blocks = list(quoted_reader.blocks(100))
    assert all(shapes_of(block) is not None for block in blocks)  # not row by row
    assert blocks == list(plain_reader.blocks(100))
    assert state(quoted_reader) == state(plain_reader)


def test_plain_blocks_come_with_their_rows_shapes() -> None:
    rows = "".join(f"{1000 + t},{(DEV, OTHER)[t % 2]},8014,DNO,Acme\n" for t in range(10))
    blocks = list(TrafficReader(io.BytesIO((HEADER + rows).encode())).blocks(4))
    shaped = [shapes_of(block) for block in blocks]
    assert [shapes for shapes, _ in shaped] == [(0, 1, 0, 1), (0, 1, 0, 1), (0, 1)]  # type: ignore[misc]
    assert shaped[0][1] is shaped[2][1]  # type: ignore[index]
    assert shaped[0][1].device_ids == [DEV, OTHER]  # type: ignore[index]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 511, 512, 513, 1000])
def test_blocks_of_any_size_are_the_alerts_in_order(size: int) -> None:
    rows = "".join(f"{1000 + t}.5,{(DEV, OTHER)[t % 2]},8014,DNO,Acme\n" for t in range(1000))
    data = (HEADER + rows).encode()
    alerts = list(TrafficReader(io.BytesIO(data)))
    blocks = list(TrafficReader(io.BytesIO(data)).blocks(size))
    assert [len(block) for block in blocks[:-1]] == [size] * (len(blocks) - 1)
    assert [alert for block in blocks for alert in block] == alerts


def test_line_is_the_line_of_the_alert_just_yielded() -> None:
    text = (
        HEADER + f"1,{DEV},8014,DNO,Acme\n\n"
        f'2,{DEV},8014,DNO,"Two\nlines"\n'
        f"3,{DEV},80X4,DNO,\n"
        f"4,{DEV},8014,DNO,\n"
    )  # fmt: skip
    reader = TrafficReader(io.BytesIO(text.encode()), on_error="skip")
    assert [(alert.timestamp, reader.line) for alert in reader] == [(1, 2), (2, 4), (4, 7)]


def test_a_make_arrives_with_its_alert_not_before() -> None:
    # A device's make changes within one block: each alert sees the make of its own row.
    text = HEADER + "".join(f"{t},{DEV},8014,DNO,{make}\n" for t, make in enumerate("ABCA"))
    reader = TrafficReader(io.BytesIO(text.encode()))
    seen = [reader.devices[alert.device_id].manufacturer for alert in reader]
    assert seen == ["A", "B", "C", "A"]
    reader = TrafficReader(io.BytesIO(text.encode()))
    assert [len(block) for block in reader.blocks()] == [4]
    assert reader.devices == {DEV: DeviceInfo("A")}


def test_blocks_refuse_a_bad_size() -> None:
    reader = TrafficReader(io.BytesIO(HEADER.encode()))
    with pytest.raises(ValueError, match="size"):
        next(reader.blocks(0))


def test_a_read_error_comes_after_the_rows_before_it() -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.data = (HEADER + "".join(f"{t},{DEV},8014,DNO,\n" for t in range(3000))).encode()

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if not self.data:
                raise OSError(5, "Input/output error")
            size = min(len(buffer), len(self.data), 4096)
            buffer[:size] = self.data[:size]
            self.data = self.data[size:]
            return size

    reader = TrafficReader(io.BufferedReader(Failing()), name="x.csv")
    seen = []
    with pytest.raises(TrafficError, match="Input/output error") as info:
        seen.extend(reader)
    # The last line was whole: every row was read, and counted, before the error.
    assert [alert.timestamp for alert in seen] == list(range(3000))
    assert "after 3,000 rows" in str(info.value)


class Failing(io.RawIOBase):
    """``data``, then an error where it ends (a disk or a gzip stream that fails)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.data:
            raise OSError(5, "Input/output error")
        size = min(len(buffer), len(self.data), self.step)
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


def readline_pieces(data: bytes, step: int, fail: bool) -> tuple[list[str], bool]:
    """What ``readline(MAX_RECORD + 1)`` on a text wrapper gives, up to any read error."""
    raw: io.RawIOBase = Failing(data, step) if fail else io.BytesIO(data)
    text = io.TextIOWrapper(
        io.BufferedReader(raw), encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    pieces: list[str] = []
    try:
        while piece := text.readline(lines_module.MAX_RECORD + 1):
            pieces.append(piece)
    except OSError:
        return pieces, True
    return pieces, False


def chunked_pieces(data: bytes, step: int, fail: bool, take: int) -> tuple[list[str], bool]:
    raw: io.RawIOBase = Failing(data, step) if fail else io.BytesIO(data)
    lines = lines_module.Lines(io.BufferedReader(raw))
    pieces: list[str] = []
    while True:
        if take:
            more, error = lines.take(take)
            pieces += more
            if error is not None:
                assert isinstance(error, OSError)
                return pieces, True
            if not more:
                return pieces, False
        else:
            try:
                pieces += lines
            except OSError:
                return pieces, True
            return pieces, False


text_parts = st.sampled_from(
    ["a", "bc", ",", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u00e9",
     "\ufeff", "x" * 9, "y" * 30]
)  # fmt: skip
raw_parts = st.one_of(
    text_parts.map(lambda part: part.encode()),
    st.sampled_from([b"\xe9", b"\xff\xfe", b"\xc3", b"\xef\xbb\xbf"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(raw_parts, max_size=60),
    st.booleans(),
    st.sampled_from([1, 2, 3, 7, 64]),
    st.sampled_from([0, 1, 3, 100]),
    st.booleans(),
)
def test_lines_are_read_as_readline_reads_them(
    parts: list[bytes], bom: bool, step: int, take: int, fail: bool
) -> None:
    # Small chunks and a small MAX_RECORD put chunk and piece boundaries everywhere.
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines_module, "MAX_RECORD", 12)
        patch.setattr(lines_module, "_CHUNK", step)
        expected = readline_pieces(data, step, fail)
        assert chunked_pieces(data, step, fail, take) == expected


crlf_parts = st.sampled_from(
    ["ab,c\r\n", "ab,c\r\n", "d", "\r\n", "\r", "\n", "\x0b", "\x85", "\u00e9"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(crlf_parts, max_size=60), st.sampled_from([1, 2, 5, 64]), st.sampled_from([0, 3]))
def test_crlf_lines_are_read_as_readline_reads_them(parts: list[str], step: int, take: int) -> None:
    # Mostly \r\n line ends, with now and then a break of another kind, and a chunk
    # boundary anywhere (between a \r and its \n too).
    data = "".join(parts).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines_module, "_CHUNK", step)
        assert chunked_pieces(data, step, False, take) == readline_pieces(data, step, False)


@pytest.mark.parametrize(
    "text",
    ["a\r\nb\r\n", "a\r\nb", "a\r\nb\r", "a\r\nb\nc\r\n", "a\r\nb\rc\r\n", "a\rb\r\n",
     "a\r\n\x0bb\r\n", "\u00e9\r\nb\n", "\u00e9\nb\n", "a\r\n\u2028\r\n", "a\rb\rc",
     "a\r\rb\r\n\r", "a\r\n\x1cb\r", "a\rb\x0c\r\n", "\r\n\r\n\n\r"],
)  # fmt: skip
def test_crlf_text_is_cut_at_every_break(text: str) -> None:
    data = text.encode()
    for step in (1, 2, 3, 8192):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(lines_module, "_CHUNK", step)
            assert chunked_pieces(data, step, False, 0) == readline_pieces(data, step, False)


def summed_take(lines: lines_module.Lines, size: int) -> list[str]:
    """take() with the block's text measured by summing its lines' lengths."""
    start = lines._next
    taken = lines._lines[start : start + size]
    lines._next = start + len(taken)
    text = sum(map(len, taken))
    while len(taken) < size and text <= lines_module._BLOCK_TEXT and lines._fill():
        more = lines._lines[: size - len(taken)]
        lines._next = len(more)
        taken += more
        text += sum(map(len, more))
    return taken


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["ab\n", "c\r\n", "x" * 9 + "\n", "y" * 30, "\r", "\n"]), max_size=80),
    st.sampled_from([1, 3, 7, 64]),
    st.sampled_from([1, 2, 5, 100]),
    st.sampled_from([0, 10, 40]),
)
def test_take_stops_past_the_block_text_as_summed(
    parts: list[str], step: int, size: int, limit: int
) -> None:
    # take() knows each chunk's text from _fill instead of summing the lines it takes.
    data = "".join(parts).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines_module, "_CHUNK", step)
        patch.setattr(lines_module, "_BLOCK_TEXT", limit)
        ours = lines_module.Lines(io.BytesIO(data))
        summed = lines_module.Lines(io.BytesIO(data))
        next(ours, None), next(summed, None)  # a header read first: takes start mid-chunk
        while True:
            taken, error = ours.take(size)
            assert error is None
            assert taken == summed_take(summed, size)
            if not taken:
                break


def test_an_error_comes_after_the_lines_readline_gives_before_it() -> None:
    data = (HEADER + "".join(f"{t},{DEV},8014,DNO,Acme\n" for t in range(3000))).encode()
    for cut in (100, 8191, 8192, 8193, 50_000, len(data) - 3):
        for step in (4096, 8192, 65536):
            expected = readline_pieces(data[:cut], step, fail=True)
            assert chunked_pieces(data[:cut], step, True, take=512) == expected
            assert chunked_pieces(data[:cut], step, True, take=0) == expected


@pytest.mark.parametrize("size", [1, 512])
@pytest.mark.parametrize("stamps", [["1", "7", "7.0"], ["1.0", "1", "7.0", "7"], ["7", "1.0", "1"]])
def test_the_time_range_keeps_the_first_of_equal_times(stamps: list[str], size: int) -> None:
    # 7 and 7.0 are equal times of different types: the one read first is the one kept.
    data = (HEADER + "".join(f"{t},{DEV},8014,DNO,\n" for t in stamps)).encode()
    reader = TrafficReader(io.BytesIO(data))
    for _ in reader.blocks(size):
        pass
    times = [int(t) if t.isdecimal() else float(t) for t in stamps]
    assert state(reader)[5:] == time_order(times)


_whole = st.one_of(
    st.integers(0, 3 * 10**17).map(str),
    st.sampled_from(
        ["0", "000", "1705276800", "1705276800000", "1705276800123", "1705276800000000"]
    ),
)
_decimal = st.integers(0, 10**15).map(lambda n: f"{n}.5")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_whole, min_size=1, max_size=30) | st.lists(_decimal, min_size=1, max_size=30),
    st.sampled_from([1, 3, 512]),
    st.sampled_from(["s", "ms", "us"]),
    st.sampled_from(["fail", "skip"]),
)
def test_numeric_times_in_any_unit_read_as_row_by_row(
    stamps: list[str], size: int, unit: str, on_error: str
) -> None:
    """Blocks of whole or decimal numbers (a column the fast path converts in one pass):
    the same seconds, of the same type (int when whole seconds), and the same errors."""
    data = csv_data([(f"{stamp},{DEV},8014,DNO,Acme", "\n") for stamp in stamps])
    options = {"on_error": on_error, "time_unit": unit}
    expected, error, after = careful(data, **options)
    seen, block_error, block_after = by_blocks(data, size, **options)
    assert seen == [item[:2] for item in expected]
    assert (block_error, block_after) == (error, after)
