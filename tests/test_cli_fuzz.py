"""Hostile files through the whole command line: exit 0, 1 or 2, never a traceback."""

from __future__ import annotations

import contextlib
import gzip
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertthrottle import cli

DEV = "00-0D-6F-00-0A-BC-12-34"
VALID_CSV = (
    "timestamp,device_id,code,recipients,manufacturer,model,firmware\n"
    + "".join(f"{1705276800 + i},{DEV},801{i % 2 + 4},DNO;SUP,Acme,M1,1.{i}\n" for i in range(12))
).encode()
VALID_JSONL = b"".join(
    b'{"timestamp": %d, "device_id": "%s", "code": "8014", "recipients": ["DNO"]}\n'
    % (1705276800 + i, DEV.encode())
    for i in range(12)
)
NASTY = [b'"', b"\n", b"\r", b",", b"\x00", b"\xff", b"\xe9", b"{", b"[" * 50, b"9" * 30, b";",
         b"-", b"1e999", b"nan", b"\x1b[31m", b"[/x]"]  # fmt: skip


def run_cli(data: bytes, name: str, *options: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(["simulate", str(path), "--plain", *options])
            except SystemExit as exc:
                status = int(exc.code or 0)
    assert "Traceback" not in err.getvalue()
    return status


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([VALID_CSV, VALID_JSONL])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "flip", "cut"]))
        if kind == "insert":
            data[at:at] = draw(st.sampled_from(NASTY))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(["t.csv", "t.jsonl", "t.csv.gz", "t.parquet"]))
def test_random_bytes_exit_cleanly(data: bytes, name: str) -> None:
    assert run_cli(data, name) in (0, 1, 2)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutated(),
    st.booleans(),
    st.sampled_from(
        [
            (),
            ("--on-error", "skip"),
            ("--time-unit", "ms"),
            ("--sort",),
            ("--reorder-window", "5", "--on-error", "skip"),
        ]
    ),
)
def test_mutated_valid_files_exit_cleanly(
    data: bytes, zipped: bool, options: tuple[str, ...]
) -> None:
    name = "t.csv"
    if zipped:
        whole = gzip.compress(data, mtime=0)
        data, name = whole[: max(10, len(whole) * 3 // 4)] if len(data) % 2 else whole, "t.csv.gz"
    assert run_cli(data, name, *options) in (0, 1, 2)


POLICY = b'name = "p"\nexempt_codes = ["8F35"]\n[default]\nlimit = 10\nperiod = 3600\n'
DEVICES = f"device_id,manufacturer,model,firmware\n{DEV},Acme,M1,1.0\n".encode()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([("--policy", POLICY), ("--devices", DEVICES)]), st.data())
def test_mutated_policy_and_devices_files_exit_cleanly(
    option: tuple[str, bytes], data: st.DataObject
) -> None:
    flag, content = option
    body = bytearray(content)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body)))
        body[at:at] = data.draw(st.sampled_from([*NASTY, b"=", b"[", b"]", b"\xe9"]))
    with tempfile.TemporaryDirectory() as folder:
        side = Path(folder) / ("p.toml" if flag == "--policy" else "d.csv")
        side.write_bytes(bytes(body))
        status = run_cli(VALID_CSV, "t.csv", flag, str(side))
    assert status in (0, 1, 2)
