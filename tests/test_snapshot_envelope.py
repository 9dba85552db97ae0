"""The snapshot envelope and file: signatures, unknown fields, gzip bombs, atomic saves."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_snapshot import example_policy, reseal

from alertthrottle import SnapshotError, ThrottlePolicy
from alertthrottle._engine import snapshot

KEY = b"a secret of the adapter"


# -- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_a_signed_snapshot_restores_with_its_key(compress: bool) -> None:
    policy = example_policy()
    data = policy.snapshot(compress=compress, key=KEY)
    restored = ThrottlePolicy.restore(data, key=KEY)
    assert restored.snapshot() == policy.snapshot()
    # Signing is deterministic, and a restored policy signs alike.
    assert restored.snapshot(compress=compress, key=KEY) == data
    # Without a key, a signed snapshot still restores (the SHA-256 is checked).
    assert ThrottlePolicy.restore(data).snapshot() == policy.snapshot()


def test_a_key_refuses_unsigned_and_wrongly_signed_snapshots() -> None:
    policy = example_policy()
    with pytest.raises(SnapshotError, match="unsigned") as info:
        ThrottlePolicy.restore(policy.snapshot(), key=KEY)
    assert info.value.field == "hmac_sha256"
    with pytest.raises(SnapshotError, match="another key") as info:
        ThrottlePolicy.restore(policy.snapshot(key=b"another secret"), key=KEY)
    assert info.value.field == "hmac_sha256"


def test_a_forged_state_with_a_recomputed_checksum_is_refused_with_a_key() -> None:
    # The SHA-256 is integrity only: anyone can recompute it after an edit.
    document = json.loads(example_policy().snapshot(key=KEY))
    document["state"]["stats"]["late"] = 1
    forged = reseal(document)
    assert ThrottlePolicy.restore(forged).stats.late == 1
    with pytest.raises(SnapshotError, match="forged") as info:
        ThrottlePolicy.restore(forged, key=KEY)
    assert info.value.field == "hmac_sha256"


def test_a_signature_is_bound_to_the_version() -> None:
    document = json.loads(example_policy().snapshot(key=KEY))
    document["version"] = 0
    with pytest.raises(SnapshotError):
        ThrottlePolicy.restore(reseal(document), key=KEY)


@pytest.mark.parametrize("signature", [12, "é" * 64, "00" * 32, None])
def test_odd_signatures_are_refused_with_a_key(signature: object) -> None:
    document = json.loads(example_policy().snapshot(key=KEY))
    document["hmac_sha256"] = signature
    if signature is None:
        del document["hmac_sha256"]
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(reseal(document), key=KEY)
    assert info.value.field == "hmac_sha256"


@pytest.mark.parametrize("key", [b"", "text", 42, [1]])
def test_keys_must_be_non_empty_bytes(key: Any) -> None:
    policy = example_policy()
    data = policy.snapshot()
    with pytest.raises(SnapshotError) as info:
        policy.snapshot(key=key)
    assert info.value.field == "key"
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(data, key=key)
    assert info.value.field == "key"


def test_save_and_load_with_a_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.snap"
    policy = example_policy()
    policy.save(path, compress=True, key=KEY)
    assert ThrottlePolicy.load(path, key=KEY).snapshot() == policy.snapshot()
    with pytest.raises(SnapshotError):
        ThrottlePolicy.load(path, key=b"wrong")


# -- unknown fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ([], "comment"),
        (["state"], "state.owner"),
        (["state", "stats"], "state.stats.dropped"),
        (["state", "keys", 0], "state.keys[0].note"),
        (["state", "keys", 0, "episode"], "state.keys[0].episode.why"),
        (["state", "schedule"], "state.schedule.more"),
        (["state", "config_history", 0], "state.config_history[0].by"),
    ],
)
def test_unknown_fields_are_refused(where: list[Any], field: str) -> None:
    document = json.loads(example_policy().snapshot())
    target = document
    for step in where:
        target = target[step]
    target[field.rsplit(".", 1)[-1]] = "extra"
    with pytest.raises(SnapshotError, match="is not a field") as info:
        ThrottlePolicy.restore(reseal(document))
    assert info.value.field == field


# -- gzip ----------------------------------------------------------------------------------


def _bomb(expanded: int) -> bytes:
    """A gzip of ``expanded`` zero bytes, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(expanded >> 20)]
    return b"".join([*parts, packer.flush()])


def test_a_gzip_bomb_is_refused_without_expanding_it() -> None:
    bomb = _bomb(512 << 20)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match="gzip bomb") as info:
            ThrottlePolicy.restore(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.field == "data"
    # At most the cap (100 times the input) and one step of decompression.
    assert peak < 100 * len(bomb) + (4 << 20)


def test_gzip_members_and_damage() -> None:
    data = example_policy().snapshot()
    # Two gzip members make one stream, as gzip.decompress reads them.
    halves = gzip.compress(data[:100], mtime=0) + gzip.compress(data[100:], mtime=0)
    assert ThrottlePolicy.restore(halves).snapshot() == data
    packed = gzip.compress(data, mtime=0)
    for bad in (packed[:-9], packed + b"junk", packed[:20] + bytes(20) + packed[40:]):
        with pytest.raises(SnapshotError) as info:
            ThrottlePolicy.restore(bad)
        assert info.value.field == "data"


# -- what Python runs out of ----------------------------------------------------------------


def test_numbers_too_large_for_a_float_are_a_snapshot_error() -> None:
    document = json.loads(example_policy().snapshot())
    document["state"]["clock"] = 10**400
    document["state"]["keys"][0]["times"] = [10**400 - 3, 10**400 - 2, 10**400 - 1, 10**400]
    with pytest.raises(SnapshotError):
        ThrottlePolicy.restore(reseal(document))


def test_deep_nesting_is_a_snapshot_error() -> None:
    document = json.loads(example_policy().snapshot())
    document["state"]["config_history"][0]["reason"] = json.loads("[" * 900 + "]" * 900)
    data = reseal(document).replace(b'"reason":[', b'"reason":' + b"[" * 100_000, 1)
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(data)
    assert info.value.field == "data"


@pytest.mark.parametrize("error", [OverflowError, MemoryError, RecursionError])
def test_resource_errors_while_restoring_become_snapshot_errors(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    data = example_policy().snapshot()

    def run_out(*_args: object) -> ThrottlePolicy:
        raise error("out of it")

    monkeypatch.setattr(snapshot, "_load_state", run_out)
    with pytest.raises(SnapshotError, match=error.__name__) as info:
        ThrottlePolicy.restore(data)
    assert info.value.field == "data"


# -- saving --------------------------------------------------------------------------------

_STUCK_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path[:0] = {paths!r}
    from test_snapshot import example_policy

    policy = example_policy()
    real_replace = os.replace

    def stuck(source, target):
        print("written", flush=True)
        time.sleep(60)

    os.replace = stuck
    policy.feed(__import__("alertthrottle").Alert(6, policy.open_episodes()[0].device_id, 0x8014))
    policy.save(sys.argv[1])
    """
)


def test_a_writer_killed_mid_save_leaves_the_old_file_and_its_temporary_goes_later(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.snap"
    policy = example_policy()
    policy.save(path)
    before = path.read_bytes()
    tests = str(Path(__file__).parent)
    script = _STUCK_WRITER.format(paths=[tests, *sys.path])
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "written\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".policy.snap.{writer.pid}.")
    assert path.read_bytes() == before
    assert ThrottlePolicy.load(path).stats.total == 6
    policy.save(path)
    assert os.listdir(tmp_path) == ["policy.snap"]


def test_temporaries_of_live_writers_and_other_targets_stay(tmp_path: Path) -> None:
    path = tmp_path / "policy.snap"
    now = time.time()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = tmp_path / f".policy.snap.{int(gone.stdout)}.abcd1234.tmp"
    live = tmp_path / f".policy.snap.{os.getpid()}.abcd1234.tmp"
    other = tmp_path / ".policy.snap.1.abcd1234.tmp.x"
    sibling = tmp_path / ".policy.snap.9.99999999.abcd1234.tmp"  # target "policy.snap.9"
    old = tmp_path / ".policy.snap.abcd1234.tmp"  # an older version's name, an hour old
    young = tmp_path / ".policy.snap.efgh5678.tmp"
    for file in (dead, live, other, sibling, old, young):
        file.write_bytes(b"partial")
    os.utime(old, (now - 7200, now - 7200))
    example_policy().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["policy.snap", live.name, other.name, sibling.name, young.name]
    )


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "policy.snap"
    policy = example_policy()
    policy.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    policy.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_through_a_symlink_replaces_its_target(tmp_path: Path) -> None:
    real = tmp_path / "data" / "policy.snap"
    real.parent.mkdir()
    link = tmp_path / "current.snap"
    link.symlink_to(real)
    policy = example_policy()
    policy.save(link)  # a dangling link: its target is created
    assert link.is_symlink() and real.read_bytes() == policy.snapshot()
    policy.save(link, compress=True)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert ThrottlePolicy.load(real).snapshot() == policy.snapshot()
    assert os.listdir(real.parent) == ["policy.snap"]
    assert sorted(os.listdir(tmp_path)) == ["current.snap", "data"]
