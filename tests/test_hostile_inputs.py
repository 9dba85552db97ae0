"""Hostile input through every door: a clear library error, nothing lost, nothing changed.

Each case of the reliability review has a test here (the fuller tests live beside
the module they exercise: test_snapshot_envelope.py, test_locked.py, test_digest.py).
The hypothesis test at the end feeds arbitrary objects to every public
constructor, function and method and checks that only the library's errors
escape, and that a call that raised changed nothing.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
import math
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_snapshot import reseal

import alertthrottle
from alertthrottle import (
    Alert,
    AlertThrottleError,
    CapacityGuard,
    CapacityThresholds,
    DeviceInfo,
    DigestBuilder,
    EventError,
    IncidentBook,
    InvalidAlertError,
    LockedPolicy,
    PolicyConfig,
    PolicyError,
    ShadowPolicy,
    SnapshotError,
    Threshold,
    ThrottlePolicy,
    ThrottlingStarted,
    cli,
    root_cause_csv,
    root_cause_report,
    write_traffic,
)

DEVICE = "00-0D-6F-00-0A-BC-12-34"
CONFIG = PolicyConfig(Threshold(limit=3, period=10, resume_below=2), exempt_codes={0x8F35})
KEY = b"adapter secret"


def storm_policy() -> ThrottlePolicy:
    """A policy in an episode with a pending count: state worth protecting."""
    policy = ThrottlePolicy(CONFIG)
    for t in range(6):
        policy.feed(Alert(t, DEVICE, 0x8014, ("ops@dno.example",)))
    return policy


# -- counts are never lost ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["ok", "ok", "ok", "late", "junk"])),
        max_size=40,
    ),
    st.integers(1, 8),
)
def test_feed_many_that_stops_part_way_loses_no_count(
    steps: list[tuple[int, str]], batch: int
) -> None:
    """Throttled counts in all decisions (returned or attached) + pending == stats.throttled."""
    policy = ThrottlePolicy(CONFIG, late="reject")
    alone = ThrottlePolicy(CONFIG, late="reject")
    clock, alerts = 0, []
    for dt, kind in steps:
        clock += dt % 4
        if kind == "ok":
            alerts.append(Alert(clock, DEVICE, 0x8014, ("ops@dno.example",)))
        elif kind == "late" and clock >= 1:
            alerts.append(Alert(clock - 1, DEVICE, 0x8014))  # refused: late="reject"
        else:
            alerts.append(None)  # refused: not an Alert
    seen: list[Any] = []
    expected: list[Any] = []
    for start in range(0, len(alerts), batch):
        chunk = alerts[start : start + batch]
        try:
            seen += policy.feed_many(chunk)
        except AlertThrottleError as exc:
            assert exc.index is not None and exc.decisions is not None
            assert len(exc.decisions) == exc.index
            seen += exc.decisions
        for alert in chunk:
            try:
                expected.append(alone.feed(alert))
            except AlertThrottleError:
                break
    assert seen == expected
    reported = sum(d.metadata.throttled_count for d in seen)
    pending = sum(m.throttled_count for m in policy.pending_counts().values())
    assert reported + pending == policy.stats.throttled
    assert policy.snapshot() == alone.snapshot()
    policy._check()


# -- memory bounds that hold ------------------------------------------------------------------


def test_max_keys_bounds_the_pending_counts_of_forgotten_keys_and_counts_what_it_drops() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1, period=10)), max_keys=10)
    delivered = 0
    for n in range(1000):  # 1,000 devices that each storm once, then go quiet
        device = f"00-0D-6F-00-{n >> 16:02X}-{(n >> 8) & 255:02X}-{n & 255:02X}-00"
        for t in range(3):
            decision = policy.feed(Alert(n * 20 + t, device, 0x8014))
            delivered += decision.metadata.throttled_count
    stats = policy.stats
    assert stats.tracked_keys <= 10 and len(policy.pending_counts()) <= 20
    assert stats.dropped_counts > 0
    assert (
        delivered
        + sum(m.throttled_count for m in policy.pending_counts().values())
        + stats.dropped_throttled
        == stats.throttled
    )
    policy._check()


# -- bounds at construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "says"),
    [
        (10**400, "before the year 10000"),
        (1_705_276_800_000, "milliseconds"),
        (1_705_276_800_000_000, "microseconds"),
        (2**53 + 1, "before the year 10000"),
        (math.nan, None),
        (-1, None),
    ],
)
def test_times_out_of_bounds_are_refused_where_they_enter(timestamp: Any, says: str | None) -> None:
    with pytest.raises(InvalidAlertError, match=says) as info:
        Alert(timestamp, DEVICE, 0x8014)
    assert info.value.field == "timestamp"
    policy = storm_policy()
    before = policy.snapshot()
    with pytest.raises(InvalidAlertError) as info:
        policy.advance(timestamp)
    assert info.value.field == "now"
    assert policy.snapshot() == before  # a refused advance changes nothing
    policy.feed(Alert(7, DEVICE, 0x8014))  # and the clock is not poisoned
    assert policy.stats.late == 0


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 10**10, "period": 10},
        {"limit": 1_000_001, "period": 10},
        {"limit": 3, "period": 10**400},
        {"limit": 3, "period": 31_622_401},
        {"limit": 3, "period": 10, "sample_interval": 10**400},
    ],
)
def test_thresholds_out_of_bounds_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        Threshold(**options)


def test_the_bounds_themselves_are_accepted() -> None:
    Threshold(limit=1_000_000, period=31_622_400)
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1_000_000, period=31_622_400)))
    policy.feed(Alert(253_402_300_799, DEVICE, 0x8014))
    assert policy.stats.tracked_keys == 1


# -- CSV output ---------------------------------------------------------------------------------


def test_csv_the_library_writes_cannot_run_formulas() -> None:
    hostile = DeviceInfo(manufacturer="=HYPERLINK(1)", model="-2+3", firmware="@SUM(A1)")
    alerts = [Alert(t, DEVICE, 0x8014, ("+cmd|' /C calc'!A0",)) for t in range(10)]
    report = root_cause_report([(a, hostile) for a in alerts], CONFIG)
    (row,) = list(csv.DictReader(io.StringIO(root_cause_csv(report))))
    assert (row["manufacturer"], row["model"], row["firmware"]) == (
        "'=HYPERLINK(1)",
        "'-2+3",
        "'@SUM(A1)",
    )
    out = io.StringIO()
    write_traffic(alerts[:1], out)
    (line,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert line["recipients"] == "'+cmd|' /C calc'!A0"


# -- snapshots ---------------------------------------------------------------------------------


def test_a_snapshot_edited_and_resealed_is_refused_with_a_key() -> None:
    document = json.loads(storm_policy().snapshot(key=KEY))
    document["state"]["stats"]["late"] = 5
    forged = reseal(document)
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(forged, key=KEY)
    assert info.value.field == "hmac_sha256"
    with pytest.raises(SnapshotError):
        ThrottlePolicy.restore(storm_policy().snapshot(), key=KEY)


def test_a_snapshot_with_an_unknown_field_is_refused() -> None:
    document = json.loads(storm_policy().snapshot())
    document["state"]["keys"][0]["backdoor"] = True
    with pytest.raises(SnapshotError) as info:
        ThrottlePolicy.restore(reseal(document))
    assert info.value.field == "state.keys[0].backdoor"


def test_a_one_megabyte_gzip_bomb_is_refused_early() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join([*(packer.compress(bytes(1 << 20)) for _ in range(1024)), packer.flush()])
    assert len(bomb) <= 1_100_000  # a gigabyte of zeros
    with pytest.raises(SnapshotError, match="gzip bomb"):
        ThrottlePolicy.restore(bomb)


@pytest.mark.parametrize("number", [10**400, 1e308, 2**63])
def test_numbers_beyond_any_time_in_a_snapshot_are_refused(number: int | float) -> None:
    document = json.loads(storm_policy().snapshot())
    document["state"]["clock"] = number
    with pytest.raises(SnapshotError):
        ThrottlePolicy.restore(reseal(document))


def test_a_gzip_snapshot_restores_and_truncations_never_escape(tmp_path: Path) -> None:
    data = storm_policy().snapshot(compress=True)
    for size in range(0, len(data), 7):
        with pytest.raises(SnapshotError):
            ThrottlePolicy.restore(data[:size])
    assert ThrottlePolicy.restore(gzip.decompress(data)).stats == storm_policy().stats


def test_save_cleans_a_dead_writers_temporary_and_keeps_mode_and_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.snap"
    link = tmp_path / "link.snap"
    link.symlink_to(target)
    storm_policy().save(link)
    target.chmod(0o644)
    # What a writer killed after writing its temporary leaves (pid 2**22+1 runs nowhere).
    leftover = tmp_path / f".real.snap.{2**22 + 1}.abcd1234.tmp"
    leftover.write_bytes(b"half")
    storm_policy().save(link)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.snap", "real.snap"]
    assert link.is_symlink() and target.stat().st_mode & 0o777 == 0o644


# -- threads -----------------------------------------------------------------------------------


def test_a_locked_policy_is_the_documented_way_to_share_one() -> None:
    assert "not thread-safe" in (ThrottlePolicy.__doc__ or "")
    shared = LockedPolicy(storm_policy())
    shared.feed(Alert(7, DEVICE, 0x8014))
    with shared.hold() as policy:
        policy._check()
    assert shared.stats.total == 7


# -- digests -----------------------------------------------------------------------------------


def _started(recipients: tuple[str, ...]) -> ThrottlingStarted:
    return ThrottlingStarted(DEVICE, 0x8014, 3, 1, 4, recipients=recipients)


def test_a_crlf_recipient_is_refused_at_the_door_and_loses_no_other_digest() -> None:
    builder = DigestBuilder("t@dsp.example")
    with pytest.raises(EventError):
        builder.add(_started(("ops@dno.example", "x\r\nBcc: evil@y.example")))
    builder.add(_started(("ops@dno.example", "SUP")))
    batch = builder.build_day("1970-01-01")
    assert list(batch) == ["ops@dno.example"] and list(batch.skipped) == ["SUP"]
    for field, options in (
        ("sender", {"sender": "t@x.example\r\nBcc: e@y.example"}),
        ("subject_prefix", {"subject_prefix": "[x]\n"}),
    ):
        arguments: dict[str, Any] = {"sender": "t@x.example", **options}
        with pytest.raises(PolicyError) as info:
            DigestBuilder(arguments.pop("sender"), **arguments)
        assert info.value.field == field


@pytest.mark.parametrize("recipient", ["ops@x.example, evil@y.example", '"ops@x" <evil@y.example>'])
def test_an_unmapped_id_never_sends_a_digest_elsewhere(recipient: str) -> None:
    builder = DigestBuilder("t@dsp.example")
    builder.add(_started((recipient,)))
    batch = builder.build_day("1970-01-01")
    assert dict(batch) == {} and recipient in batch.skipped


# -- every door, arbitrary objects --------------------------------------------------------------

_SPECIAL = [
    None,
    True,
    0,
    -1,
    2**53 + 1,
    2**63,
    10**400,
    -(10**400),
    1_705_276_800_000,
    253_402_300_800,
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    1e308,
    "",
    "8014",
    "0x8014",
    "clamp",
    "csv",
    "2024-03-01",
    DEVICE,
    "=HYPERLINK(1)",
    "a\r\nb",
    "[/x]",
    b"\x1f\x8b",
    object(),
    datetime(2024, 3, 1),
    datetime(2024, 3, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23))),
    UTC,
    CONFIG,
    Threshold(2, 5),
    Alert(1, DEVICE, 0x8014, ("ops@dno.example",)),
    ThrottlePolicy(CONFIG),
]

_alerts = st.builds(
    Alert,
    timestamp=st.integers(0, 40),
    device_id=st.sampled_from([DEVICE, "00-0D-6F-00-0A-BC-12-35"]),
    code=st.sampled_from([0x8014, 0x8F35]),
    recipients=st.just(("ops@dno.example",)),
)

hostile: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.sampled_from(_SPECIAL),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.binary(max_size=12),
        _alerts,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=3),
    ),
    max_leaves=8,
)

# Errors the library documents besides its own: a file that cannot be opened is the
# usual OSError, for the doors that take a path.
_PATH_DOORS = {
    "TrafficReader",
    "read_traffic",
    "load_policy",
    "load_device_registry",
    "ThrottlePolicy.load",
    "ThrottlePolicy.save",
    "LockedPolicy.save",
}
# Not doors: exceptions (any message is fine), enums (Python's own lookup), plain
# containers of results, the version string.
# Methods where a wrong type (not an iterable, not a path, an unhashable key for a
# lookup) is Python's TypeError, as for any call mypy would flag.
_TYPED_METHODS = {
    "feed_many",
    "add_all",
    "apply_all",
    "load",
    "save",
    "wants",
    "address_of",
    "incident_of",
}
# GeneratedTraffic is built by generate_scenario, which checks every parameter.
_NOT_DOORS = {
    "CapacityLevel",
    "IncidentState",
    "Verdict",
    "DigestBatch",
    "GeneratedTraffic",
    "__version__",
}


def _doors() -> list[str]:
    return [
        name
        for name in alertthrottle.__all__
        if name not in _NOT_DOORS
        and not (
            isinstance(getattr(alertthrottle, name), type)
            and issubclass(getattr(alertthrottle, name), BaseException)
        )
    ]


def _call(data: st.DataObject, function: Callable[..., Any]) -> Any:
    """Call ``function`` with hostile values for its parameters, required ones always."""
    signature = inspect.signature(function)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        required = parameter.default is inspect.Parameter.empty
        if parameter.kind is parameter.VAR_POSITIONAL:
            args += data.draw(st.lists(hostile, max_size=2), label=parameter.name)
        elif parameter.kind is parameter.VAR_KEYWORD:
            kwargs |= data.draw(
                st.dictionaries(
                    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
                    hostile,
                    max_size=2,
                ),
                label=parameter.name,
            )
        elif required or data.draw(st.booleans(), label=f"pass {parameter.name}"):
            value = data.draw(hostile, label=parameter.name)
            if parameter.kind is parameter.POSITIONAL_ONLY or (
                parameter.kind is parameter.POSITIONAL_OR_KEYWORD and not kwargs and required
            ):
                args.append(value)
            else:
                kwargs[parameter.name] = value
    return function(*args, **kwargs)


# Doors for input from outside (alerts, times, configuration, recipients, snapshots,
# policy files): any object at all gives a library error, a wrong type included.
# Elsewhere an argument of the wrong type (what mypy flags in the caller: a list for
# a report, None for an iterable) may raise Python's TypeError; a wrong value never
# raises anything but a library error.
_STRICT = {
    "Alert",
    "Threshold",
    "PolicyConfig",
    "CapacityThresholds",
    "CapacityGuard",
    "ThrottlePolicy",
    "LockedPolicy",
    "ShadowPolicy",
    "DigestBuilder",
    "IncidentBook",
    "PolicySpec",
    "DeviceInfo",
    "parse_code",
    "parse_device_id",
    "parse_policy",
    "builtin_policy",
    "generate_scenario",
    "partition_for",
    "format_code",
}


def _expect_only_library_errors(door: str, call: Callable[[], Any]) -> bool:
    """Run ``call``; True if it raised (a library error), False if it returned."""
    try:
        result = call()
        if inspect.isgenerator(result) or hasattr(result, "__next__"):
            for _ in zip(range(50), result, strict=False):
                pass
    except AlertThrottleError:
        return True
    except OSError:
        if door not in _PATH_DOORS:
            raise
        return True
    except TypeError:
        if door.split(".")[0] in _STRICT and door.split(".")[-1] not in _TYPED_METHODS:
            raise
        return True
    return False


@pytest.fixture(scope="module", autouse=True)
def scratch_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run in a scratch directory: a hostile text may name a file to read or write."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("hostile"))
    yield
    os.chdir(before)


@pytest.mark.parametrize("door", _doors())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_constructors_and_functions_raise_only_library_errors(
    door: str, data: st.DataObject
) -> None:
    function = getattr(alertthrottle, door)
    _expect_only_library_errors(door, lambda: _call(data, function))


def _stateful() -> dict[str, Callable[[], tuple[Any, Callable[[Any], object]]]]:
    """Objects with state, each with a function that reads all of that state."""

    def policy() -> tuple[Any, Callable[[Any], object]]:
        return storm_policy(), lambda p: p.snapshot()

    def locked() -> tuple[Any, Callable[[Any], object]]:
        return LockedPolicy(storm_policy()), lambda p: p.snapshot()

    def shadow() -> tuple[Any, Callable[[Any], object]]:
        return ShadowPolicy(storm_policy(), [CONFIG]), lambda s: (
            s.live.snapshot(),
            [c.snapshot() for c in s.candidates.values()],
            s.comparison,
        )

    def guard() -> tuple[Any, Callable[[Any], object]]:
        capacity = CapacityGuard(CapacityThresholds(period=10, amber=3, red=5))
        for t in range(4):
            capacity.observe(t)
        return capacity, lambda g: (g.level, repr(g), g.advance(0))

    def digests() -> tuple[Any, Callable[[Any], object]]:
        builder = DigestBuilder("t@dsp.example")
        builder.add(_started(("ops@dno.example",)))
        return builder, lambda b: [
            (d, b.recipients(d), b.rows(d, r)) for d in b.days() for r in b.recipients(d)
        ]

    def incidents() -> tuple[Any, Callable[[Any], object]]:
        book = IncidentBook("per-episode")
        book.apply(_started(("ops@dno.example",)))
        return book, lambda b: (b.incidents(), b.open_incidents())

    return {
        "ThrottlePolicy": policy,
        "LockedPolicy": locked,
        "ShadowPolicy": shadow,
        "CapacityGuard": guard,
        "DigestBuilder": digests,
        "IncidentBook": incidents,
    }


# The documented methods of each (docs/api.md). A ThrottlePolicy also shows the
# engine's own operations (EngineState: track, close_due...), which are not API.
_METHODS = {
    "ThrottlePolicy": [
        "feed",
        "feed_many",
        "advance",
        "pending_counts",
        "open_episodes",
        "reconfigure",
        "snapshot",
        "restore",
        "save",
        "load",
    ],
    "LockedPolicy": [
        "feed",
        "feed_many",
        "advance",
        "reconfigure",
        "snapshot",
        "save",
        "pending_counts",
        "open_episodes",
    ],
    "ShadowPolicy": ["feed", "feed_many", "advance"],
    "CapacityGuard": ["observe", "advance"],
    "DigestBuilder": [
        "add",
        "add_all",
        "build",
        "build_day",
        "days",
        "recipients",
        "rows",
        "forget",
        "wants",
        "address_of",
    ],
    "IncidentBook": [
        "apply",
        "apply_all",
        "incident",
        "incident_of",
        "incidents",
        "open_incidents",
        "per_recipient",
    ],
}


def _methods() -> list[tuple[str, str]]:
    return [(kind, method) for kind, methods in _METHODS.items() for method in methods]


@pytest.mark.parametrize(("kind", "method"), _methods())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_methods_raise_only_library_errors_and_change_nothing_when_they_do(
    kind: str, method: str, data: st.DataObject
) -> None:
    subject, state = _stateful()[kind]()
    before = state(subject)
    bound = getattr(subject, method)
    raised = _expect_only_library_errors(f"{kind}.{method}", lambda: _call(data, bound))
    if raised and method != "feed_many":  # feed_many keeps the alerts before the bad one
        assert state(subject) == before
    if hasattr(subject, "_check"):
        subject._check()


def test_every_door_is_fuzzed() -> None:
    doors = set(_doors()) | {kind for kind, _ in _methods()}
    assert {"ThrottlePolicy", "Alert", "Threshold", "DigestBuilder", "read_traffic"} <= doors
    assert ("ThrottlePolicy", "feed") in _methods() and ("DigestBuilder", "add") in _methods()


def test_the_reliability_page_names_tests_that_exist() -> None:
    tests = Path(__file__).parent
    page = (tests.parent / "docs" / "reliability.md").read_text()
    sources = "\n".join(path.read_text() for path in tests.glob("test_*.py"))
    named = set(re.findall(r"`(test_\w+)`", page))
    assert len(named) >= 20
    assert {name for name in named if f"def {name}(" not in sources} == set()
    for file in re.findall(r"`(tests/\w+\.py)`", page):
        assert (tests.parent / file).is_file(), file


# -- what the command line prints and writes -----------------------------------------------------


def _hostile_traffic(path: Path) -> Path:
    rows = ["timestamp,device_id,code,recipients"]
    for t in range(40):
        rows.append(f'{t},{DEVICE},8014,"=HYPERLINK(1), evil;[/x]\x1b[31mred"')
        rows.append(f"{t},00-0D-6F-00-0A-BC-12-35,8015,\"+cmd|' /C calc'!A0\"")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("plain", [False, True])
def test_the_cli_prints_hostile_recipients_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plain: bool
) -> None:
    traffic = _hostile_traffic(tmp_path / "t.csv")
    status = cli.main([*(["--plain"] if plain else []), "simulate", str(traffic)])
    out = capsys.readouterr().out
    assert status == 0
    assert "\x1b" not in out  # the escape sequence is shown, not run
    assert "[/x]" in out and "\\x1b[31mred" in out


@pytest.mark.parametrize("command", ["simulate", "report", "sweep"])
def test_every_csv_the_cli_writes_keeps_its_columns_and_runs_no_formula(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    traffic = _hostile_traffic(tmp_path / "t.csv")
    grid = ["--limit", "2,3", "--period", "10"] if command == "sweep" else []
    status = cli.main(["--csv", command, str(traffic), *grid])
    out = capsys.readouterr().out
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) > 1 and len({len(row) for row in rows}) == 1  # no column shifted
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (command, cell)
    if command == "sweep":
        recipients = {"'=HYPERLINK(1), evil", "[/x]\x1b[31mred", "'+cmd|' /C calc'!A0"}
        assert {row[9] for row in rows[1:]} <= recipients


class _Terminal(io.StringIO):
    """Standard output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", ["simulate", "report", "sweep"])
def test_csv_to_a_terminal_shows_escape_sequences_and_to_a_file_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    traffic = _hostile_traffic(tmp_path / "t.csv")
    grid = ["--limit", "2,3", "--period", "10"] if command == "sweep" else []
    outputs = {}
    for stream in (_Terminal(), io.StringIO()):
        monkeypatch.setattr(sys, "stdout", stream)
        assert cli.main(["--csv", command, str(traffic), *grid]) == 0
        outputs[stream.isatty()] = stream.getvalue()
    shown, kept = outputs[True], outputs[False]
    assert "\x1b" not in shown and "\r" not in shown
    # The same rows, the cells' controls written as \xNN on the terminal.
    assert shown == kept.replace("\r\n", "\n").replace("\x1b", "\\x1b")
    if command == "sweep":  # the one CSV with recipients (the others: per code, per make)
        assert "\x1b[31mred" in kept and "\\x1b[31mred" in shown
