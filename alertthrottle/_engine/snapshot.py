"""Snapshots: a policy's whole state as versioned JSON bytes, and atomic files of them.

The format is documented in docs/snapshots.md. Writing is the easy half;
reading checks everything (format, version, checksum, every field, the
invariants between them) while building a fresh policy, and only hands the
policy over once all of it passed: a bad snapshot raises
:class:`SnapshotError` and leaves nothing half-loaded.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import hmac
import json
import math
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._core.alert import format_code, parse_code, parse_device_id
from .._core.config import PolicyConfig
from .._core.errors import AlertThrottleError, SnapshotError
from .._core.events import CapacityLevel, LevelChanged, ThrottlingEnded, ThrottlingStarted
from .._core.validation import MAX_SECONDS, MAX_TIMESTAMP
from .capacity import CapacityGuard, CapacityThresholds
from .history import ConfigChange, SettingChange, diff_configs
from .state import COUNTERS, OPTIONAL_COUNTERS, EngineState
from .window import Episode, KeyWindow, Rule

__all__ = ["FORMAT", "VERSION", "dump_policy", "restore_policy", "write_atomically"]

#: The ``format`` tag of every snapshot.
FORMAT = "alertthrottle-snapshot"
#: The newest format version this code writes and reads. Version 2 writes each key's
#: ``schedule.idle`` entry at the time its window empties; version 1 wrote the time the
#: key was filed under (at or before that), which this reader accepts too.
VERSION = 2

_GZIP_MAGIC = b"\x1f\x8b"
#: A gzip snapshot may expand to at most this many times its size (a JSON snapshot
#: compresses about ten times), and never needs to be refused below _MIN_EXPANDED.
_MAX_RATIO = 100
_MIN_EXPANDED = 16 * 1024 * 1024
_STEP = 1024 * 1024
#: Every time in a snapshot is below this: the year 10000 plus two of the longest
#: periods (a key is filed in a schedule at its last time plus its period). It
#: keeps every number exact as a float and far from overflowing.
_TIME_BOUND = MAX_TIMESTAMP + 2 * MAX_SECONDS
#: Temporary files of a save older than this are taken as left by a dead writer.
_STALE_AFTER = 3600.0

# The fields a snapshot may hold, object by object (docs/snapshots.md). ``None``
# marks a value whose own reader refuses unknown keys (configs, thresholds) or
# that is not an object; a one-item list holds the schema of every item.
_ENDED_FIELDS = (
    "device_id",
    "code",
    "at",
    "sequence_id",
    "started_at",
    "throttled_count",
    "sampled_count",
    "recipients",
)
#: A history's ``LevelChanged`` carries ``kind``; a ``ThrottlingEnded`` has none, as
#: written before level changes could be in a history, so older snapshots read alike.
_LEVEL_KIND = "LevelChanged"
_LEVEL_FIELDS = ("kind", "at", "old", "new", "window_count")
# Either kind's fields; `_history_event` refuses those of the other kind.
_EVENT = dict.fromkeys((*_ENDED_FIELDS, *_LEVEL_FIELDS))
_EPISODE = dict.fromkeys(
    (
        "sequence_id",
        "started_at",
        "window_count",
        "recipients",
        "alerts",
        "throttled",
        "sampled",
        "parked",
    )
)
_KEY: dict[str, Any] = {
    **dict.fromkeys(
        ("device_id", "code", "times", "last_delivered", "pending", "pending_sequence")
    ),
    "episode": _EPISODE,
}
_STATE: dict[str, Any] = {
    **dict.fromkeys(("config", "late", "max_keys", "clock", "sequence")),
    "stats": dict.fromkeys(COUNTERS),
    "keys": [_KEY],
    "dropped_pending": [dict.fromkeys(("device_id", "code", "count", "sequence_id"))],
    "schedule": dict.fromkeys(("ends", "idle")),
    "config_history": [
        {**dict.fromkeys(("version", "at", "reason", "config", "changes")), "events": [_EVENT]}
    ],
    "capacity": dict.fromkeys(("thresholds", "engage_at", "clock", "level", "times")),
}
_ENVELOPE = ("format", "hmac_sha256", "sha256", "state", "version")

S = TypeVar("S", bound=EngineState)


def _canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _time(value: float) -> float | None:
    """A time for JSON: ``-inf`` (never) becomes ``null``."""
    return None if value == -math.inf else value


def _event_data(event: ThrottlingEnded | LevelChanged) -> dict[str, Any]:
    if type(event) is LevelChanged:
        return {
            "kind": _LEVEL_KIND,
            "at": event.at,
            "old": event.old.name,
            "new": event.new.name,
            "window_count": event.window_count,
        }
    assert type(event) is ThrottlingEnded
    return {
        "device_id": event.device_id,
        "code": format_code(event.code),
        "at": event.at,
        "sequence_id": event.sequence_id,
        "started_at": event.started_at,
        "throttled_count": event.throttled_count,
        "sampled_count": event.sampled_count,
        "recipients": list(event.recipients),
    }


def _key_record(rule: Rule, device_id: str, window: KeyWindow) -> dict[str, Any]:
    record: dict[str, Any] = {
        "device_id": device_id,
        "code": format_code(rule.code),
        "times": window.held(),
        "last_delivered": _time(window.last_delivered),
        "pending": window.pending,
        "pending_sequence": window.pending_sequence,
        "episode": None,
    }
    episode = window.episode
    if episode is not None:
        started = episode.started
        record["episode"] = {
            "sequence_id": started.sequence_id,
            "started_at": started.at,
            "window_count": started.window_count,
            "recipients": list(started.recipients),
            "alerts": episode.alerts,
            "throttled": episode.throttled,
            "sampled": episode.sampled,
        }
        # `episode.parked` is not written: whether an eviction has met (and parked)
        # the key depends on the time its idle entry was filed under, which snapshots
        # normalise to when its window empties. Parking only saves later evictions
        # from meeting the key again; it changes no decision, so a restored policy
        # parks it afresh when needed and equal states keep giving equal bytes.
    return record


def _change_data(change: ConfigChange) -> dict[str, Any]:
    return {
        "version": change.version,
        "at": change.at,
        "reason": change.reason,
        "config": change.config.as_dict(),
        "changes": [[c.path, c.before, c.after] for c in change.changes],
        "events": [_event_data(event) for event in change.events],
    }


def _state(policy: EngineState) -> dict[str, Any]:
    policy._settle()
    keys = [_key_record(rule, device, window) for rule, device, window in policy._tracked_keys()]
    # Sorted, so that equal states give equal bytes whatever order keys came in.
    keys.sort(key=lambda record: (record["code"], record["device_id"]))
    counters = policy._counters()
    state: dict[str, Any] = {
        "config": policy.config.as_dict(),
        "late": policy.late,
        "max_keys": policy.max_keys,
        "clock": policy.clock,
        "sequence": policy._sequence,
        "stats": counters,
        "keys": keys,
        "dropped_pending": [
            {"device_id": device_id, "code": format_code(code), "count": count, "sequence_id": seq}
            for (device_id, code), (count, seq) in sorted(
                policy._pending_table().items(), key=lambda item: (item[0][1], item[0][0])
            )
        ],
        # Entries of the lazy schedules, with the times they are filed under and in
        # the order they surface, so that ties resolve exactly as they would have. A
        # parked key is written with the time its window empties, like every key.
        "schedule": {
            "ends": [[when, episode.sequence_id] for when, episode in policy._end_entries()],
            "idle": [[when, dev, format_code(code)] for when, dev, code in policy._idle_entries()],
        },
        "config_history": [_change_data(change) for change in policy.config_history],
    }
    guard = policy.capacity
    # Only present with a guard, so snapshots of other policies are unchanged.
    if guard is not None:
        state["capacity"] = {**guard.dump(), "engage_at": policy.engage_at}
    return state


def _capacity(value: object) -> tuple[CapacityGuard | None, Any]:
    """The capacity guard and ``engage_at`` of a snapshot (``None, "always"`` without one)."""
    if value is None:
        return None, "always"
    field = "state.capacity"
    data = _object(value, field)
    try:
        thresholds = CapacityThresholds.from_dict(
            _object(_get(data, "thresholds", field), f"{field}.thresholds"), ""
        )
    except AlertThrottleError as exc:
        raise _fail(f"{field}.thresholds.{exc.field}", exc.value, exc.problem) from None
    engage_at = _get(data, "engage_at", field)
    if engage_at not in ("always", "amber", "red"):
        raise _fail(f"{field}.engage_at", engage_at, "must be 'always', 'amber' or 'red'")
    clock = _optional_number(_get(data, "clock", field), f"{field}.clock")
    level = _level(_get(data, "level", field), f"{field}.level")
    times = [_number(t, f"{field}.times") for t in _list(_get(data, "times", field), field)]
    try:
        return CapacityGuard.restored(thresholds, clock, level, times), engage_at
    except AlertThrottleError as exc:
        raise _fail(f"{field}.{exc.field}", exc.value, exc.problem) from None


def _signing_key(key: object) -> bytes:
    """The HMAC key as bytes: a non-empty bytes-like value, never text (whose bytes vary)."""
    if not isinstance(key, bytes | bytearray | memoryview) or not len(key):
        raise _fail("key", type(key).__name__, "must be non-empty bytes (a secret)")
    return bytes(key)


def _signature(key: bytes, version: int, state: bytes) -> str:
    """HMAC-SHA256 of the canonical state, bound to the format and its version."""
    message = b"%s/%d\n%s" % (FORMAT.encode("ascii"), version, state)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def dump_policy(policy: EngineState, *, compress: bool, key: object = None) -> bytes:
    """The snapshot bytes of ``policy`` (gzip with a fixed mtime when ``compress``).

    With a ``key``, the snapshot also carries ``hmac_sha256``, which only a
    holder of the key can compute (the SHA-256 alone detects accidents, not forgeries).
    """
    secret = None if key is None else _signing_key(key)
    state = _canonical(_state(policy))
    checksum = hashlib.sha256(state).hexdigest()
    signed = "" if secret is None else f'"hmac_sha256":"{_signature(secret, VERSION, state)}",'
    # The canonical document (sorted keys), assembled around the state already encoded.
    head = f'{{"format":"{FORMAT}",{signed}"sha256":"{checksum}","state":'.encode("ascii")
    data = b"".join((head, state, f',"version":{VERSION}}}'.encode("ascii")))
    if compress:
        return gzip.compress(data, mtime=0)
    return data


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash at any point leaves old or new, whole.

    A temporary file in the same directory is written and fsynced, renamed over
    ``path`` (atomic on POSIX and Windows), and the directory is fsynced so the
    rename itself survives a power cut. A symlink is followed: its target is
    replaced and the link stays. The file keeps the mode of the one it replaces
    (0600 when new). Temporary files of the same target left by a writer that
    died (SIGKILL, power cut) are removed.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    name = os.path.basename(target)
    _remove_stale(directory, name)
    try:
        mode: int | None = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    # The writer's pid is in the name, so that a later save can tell a dead writer's file.
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _remove_stale(directory: str, name: str) -> None:
    """Remove ``.<name>.<pid>.<random>.tmp`` files whose writer is gone or that are old.

    A writer alive (this process's other threads, another process on this host)
    keeps its file; the age rule covers files of other hosts and of older
    versions (``.<name>.<random>.tmp``). Files of other targets never match:
    the random part has no dot and is 8 characters long (``tempfile``'s names).
    """
    prefix, now = f".{name}.", time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
                continue
            parts = entry.name[len(prefix) : -len(".tmp")].split(".")
            with_pid = len(parts) == 2 and parts[0].isdigit()
            if len(parts[-1]) != 8 or not (with_pid or len(parts) == 1):
                continue
            with contextlib.suppress(OSError):
                if not entry.is_file(follow_symlinks=False):
                    continue
                dead = with_pid and not _alive(int(parts[0]))
                if dead or now - entry.stat(follow_symlinks=False).st_mtime > _STALE_AFTER:
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (always assumed outside POSIX)."""
    if os.name != "posix" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


# -- reading -----------------------------------------------------------------------------


def _fail(field: str, value: object, problem: str) -> SnapshotError:
    return SnapshotError(field, value, problem)


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, value, "must be a JSON object")
    return value


def _list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(field, value, "must be a JSON array")
    return value


def _get(data: Mapping[str, Any], name: str, field: str) -> Any:
    if name not in data:
        raise _fail(f"{field}.{name}" if field else name, None, "is missing")
    return data[name]


def _int(value: object, field: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise _fail(field, value, f"must be an integer >= {minimum}")
    return value


def _number(value: object, field: str) -> int | float:
    if type(value) not in (int, float) or not (0 <= value < _TIME_BOUND):  # type: ignore[operator]
        raise _fail(field, value, f"must be a number >= 0 and < {_TIME_BOUND}")
    return value  # type: ignore[return-value]


def _optional_number(value: object, field: str) -> int | float | None:
    return None if value is None else _number(value, field)


def _text(value: object, field: str) -> str:
    if type(value) is not str:
        raise _fail(field, value, "must be a string")
    return value


def _recipients(value: object, field: str) -> tuple[str, ...]:
    items = _list(value, field)
    for item in items:
        if type(item) is not str or not item:
            raise _fail(field, value, "must hold non-empty strings")
    return tuple(items)


def _device(value: object, field: str) -> str:
    try:
        device_id = parse_device_id(value, field)
    except AlertThrottleError as exc:
        raise _fail(field, value, exc.problem) from None
    if device_id != value:
        raise _fail(field, value, "must be a canonical EUI-64")
    return device_id


def _code(value: object, field: str) -> int:
    try:
        return parse_code(_text(value, field), field)
    except SnapshotError:
        raise
    except AlertThrottleError as exc:
        raise _fail(field, value, exc.problem) from None


def _config(value: object, field: str) -> PolicyConfig:
    try:
        return PolicyConfig.from_dict(_object(value, field))
    except SnapshotError:
        raise
    except AlertThrottleError as exc:
        raise _fail(f"{field}.{exc.field}", exc.value, exc.problem) from None


def _gunzip(raw: bytes) -> bytes:
    """Decompress a gzip snapshot, refusing one that expands beyond the cap (a gzip bomb).

    Decompression goes in steps of at most 1 MiB, so a bomb costs at most the cap.
    """
    limit = max(_MIN_EXPANDED, _MAX_RATIO * len(raw))
    size = f"{len(raw)} bytes"
    parts: list[bytes] = []
    expanded = 0
    rest = raw
    try:
        # A gzip file may hold several members, read one after the other.
        while rest:
            stream = zlib.decompressobj(wbits=31)
            chunk = rest
            while chunk and not stream.eof:
                parts.append(stream.decompress(chunk, _STEP))
                expanded += len(parts[-1])
                if expanded > limit:
                    raise _fail(
                        "data", size, f"expands beyond {limit} bytes: refused as a gzip bomb"
                    )
                chunk = stream.unconsumed_tail
            if not stream.eof:
                raise _fail("data", size, "is truncated or corrupted gzip")
            rest = stream.unused_data
            if rest and rest[:2] != _GZIP_MAGIC:
                raise _fail("data", size, "has trailing garbage after the gzip data")
    except zlib.error:
        raise _fail("data", size, "is truncated or corrupted gzip") from None
    return b"".join(parts)


def _refuse_unknown(value: object, schema: object, field: str) -> None:
    """Refuse a field the format does not have, anywhere in ``value`` (type errors come later)."""
    if isinstance(schema, dict) and isinstance(value, dict):
        for name, item in value.items():
            where = f"{field}.{name}"
            if name not in schema:
                raise _fail(where, item, f"is not a field of {field} (format version {VERSION})")
            _refuse_unknown(item, schema[name], where)
    elif isinstance(schema, list) and isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_unknown(item, schema[0], f"{field}[{index}]")


def _decode(data: object, key: object = None) -> Mapping[str, Any]:
    """The state of a snapshot, once format, version, checksum (and signature) are right."""
    secret = None if key is None else _signing_key(key)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail("data", type(data).__name__, "must be bytes")
    raw = bytes(data)
    size = f"{len(raw)} bytes"
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw)

    def no_constants(name: str) -> object:
        raise ValueError(name)

    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail("data", size, "is not a whole JSON document (truncated or corrupted)") from None
    if not isinstance(document, dict):
        raise _fail("document", type(document).__name__, "must be a JSON object")
    if document.get("format") != FORMAT:
        raise _fail("format", document.get("format"), f"must be {FORMAT!r}: not a snapshot")
    version = document.get("version")
    if type(version) is not int or version < 1:
        raise _fail("version", version, "must be an integer >= 1")
    if version > VERSION:
        raise _fail(
            "version", version, f"is newer than this alertthrottle reads ({VERSION}); upgrade it"
        )
    for name in document:
        if name not in _ENVELOPE:
            raise _fail(name, document[name], "is not a field of a snapshot")
    state = _object(_get(document, "state", ""), "state")
    canonical = _canonical(state)
    checksum = document.get("sha256")
    if checksum != hashlib.sha256(canonical).hexdigest():
        raise _fail("sha256", checksum, "does not match the state: the snapshot is corrupted")
    signature = document.get("hmac_sha256")
    if secret is not None:
        if signature is None:
            raise _fail("hmac_sha256", None, "is missing: a key was given, this one is unsigned")
        expected = _signature(secret, version, canonical)
        if type(signature) is not str or not hmac.compare_digest(
            signature.encode(), expected.encode()
        ):
            raise _fail(
                "hmac_sha256", signature, "does not match: signed with another key, or forged"
            )
    elif signature is not None and type(signature) is not str:
        raise _fail("hmac_sha256", signature, "must be a hex string")
    _refuse_unknown(state, _STATE, "state")
    return state


def _level(value: object, field: str) -> CapacityLevel:
    if type(value) is not str or value not in CapacityLevel.__members__:
        raise _fail(field, value, "must be GREEN, AMBER or RED")
    return CapacityLevel[value]


def _history_event(value: object, where: str) -> ThrottlingEnded | LevelChanged:
    """One event of a history entry: a ``ThrottlingEnded``, or a ``LevelChanged`` by its kind."""
    data = _object(value, where)
    kind = data.get("kind")
    if kind is not None and kind != _LEVEL_KIND:
        raise _fail(f"{where}.kind", kind, f"must be {_LEVEL_KIND!r}, or absent for an episode end")
    fields = _ENDED_FIELDS if kind is None else _LEVEL_FIELDS
    for name in data:
        if name not in fields:
            named = "a ThrottlingEnded" if kind is None else f"a {_LEVEL_KIND}"
            raise _fail(f"{where}.{name}", data[name], f"is not a field of {named}")
    if kind is None:
        return ThrottlingEnded(
            device_id=_device(_get(data, "device_id", where), f"{where}.device_id"),
            code=_code(_get(data, "code", where), f"{where}.code"),
            at=_number(_get(data, "at", where), f"{where}.at"),
            sequence_id=_int(_get(data, "sequence_id", where), where, 1),
            started_at=_number(_get(data, "started_at", where), where),
            throttled_count=_int(_get(data, "throttled_count", where), where),
            sampled_count=_int(_get(data, "sampled_count", where), where),
            recipients=_recipients(_get(data, "recipients", where), where),
        )
    old = _level(_get(data, "old", where), f"{where}.old")
    new = _level(_get(data, "new", where), f"{where}.new")
    if new is old:
        raise _fail(f"{where}.new", new.name, "must differ from old")
    return LevelChanged(
        at=_number(_get(data, "at", where), f"{where}.at"),
        old=old,
        new=new,
        window_count=_int(_get(data, "window_count", where), f"{where}.window_count"),
    )


def _history(value: object, config: PolicyConfig) -> list[ConfigChange]:
    entries = _list(value, "state.config_history")
    history: list[ConfigChange] = []
    for index, item in enumerate(entries):
        field = f"state.config_history[{index}]"
        entry = _object(item, field)
        version = _int(_get(entry, "version", field), f"{field}.version", 1)
        if version != index + 1:
            raise _fail(f"{field}.version", version, f"must be {index + 1}")
        changes = []
        for number, change in enumerate(_list(_get(entry, "changes", field), f"{field}.changes")):
            where = f"{field}.changes[{number}]"
            parts = _list(change, where)
            if len(parts) != 3 or type(parts[0]) is not str:
                raise _fail(where, change, "must be [path, before, after]")
            for part in parts[1:]:
                if part is not None and type(part) not in (int, float, bool):
                    raise _fail(where, change, "values must be numbers, true or null")
            changes.append(SettingChange(parts[0], parts[1], parts[2]))
        events = [
            _history_event(event, f"{field}.events[{number}]")
            for number, event in enumerate(_list(_get(entry, "events", field), f"{field}.events"))
        ]
        reason = _text(_get(entry, "reason", field), f"{field}.reason")
        at = _optional_number(_get(entry, "at", field), f"{field}.at")
        if (at is None) is not (index == 0):
            raise _fail(f"{field}.at", at, "must be null for version 1 only")
        history.append(
            ConfigChange(
                version=version,
                at=at,
                reason=reason,
                config=_config(_get(entry, "config", field), f"{field}.config"),
                changes=tuple(changes),
                events=tuple(events),
            )
        )
    if not history or history[-1].config != config:
        raise _fail("state.config_history", len(history), "must end with the config in force")
    return history


def _restore_episode(
    data: Mapping[str, Any], where: str, rule: Rule, window: KeyWindow, device_id: str
) -> Episode:
    sequence_id = _int(_get(data, "sequence_id", where), f"{where}.sequence_id", 1)
    started = ThrottlingStarted(
        device_id=device_id,
        code=rule.code,
        at=_number(_get(data, "started_at", where), f"{where}.started_at"),
        sequence_id=sequence_id,
        window_count=_int(_get(data, "window_count", where), f"{where}.window_count", 1),
        recipients=_recipients(_get(data, "recipients", where), f"{where}.recipients"),
    )
    episode = Episode(rule, window, started)
    episode.alerts = _int(_get(data, "alerts", where), f"{where}.alerts", 1)
    episode.throttled = _int(_get(data, "throttled", where), f"{where}.throttled")
    episode.sampled = _int(_get(data, "sampled", where), f"{where}.sampled")
    # Written by earlier releases (no longer): honoured, as it was then.
    parked = data.get("parked", False)
    if type(parked) is not bool:
        raise _fail(f"{where}.parked", parked, "must be true or false")
    episode.parked = parked
    if episode.throttled + episode.sampled != episode.alerts:
        raise _fail(where, data, "alerts must equal throttled + sampled")
    return episode


def _restore_window(record: Mapping[str, Any], field: str, rule: Rule, clock: float) -> KeyWindow:
    times = [
        _number(t, f"{field}.times") for t in _list(_get(record, "times", field), f"{field}.times")
    ]
    if not times or len(times) > rule.size or times != sorted(times) or times[-1] > clock:
        raise _fail(
            f"{field}.times", times, f"must be 1 to {rule.size} ascending times <= the clock"
        )
    if times[-1] + rule.period <= clock:
        raise _fail(f"{field}.times", times, "are all out of the window: the key is idle")
    window = KeyWindow(rule.size)
    for t in times:
        window.push(t)
    last = _optional_number(_get(record, "last_delivered", field), f"{field}.last_delivered")
    window.last_delivered = -math.inf if last is None else last
    return window


def _restore_key(
    state: EngineState, record: Mapping[str, Any], field: str, episodes: dict[int, Episode]
) -> None:
    device_id = _device(_get(record, "device_id", field), f"{field}.device_id")
    code = _code(_get(record, "code", field), f"{field}.code")
    rule = state._rule_for(code)
    if rule.threshold is None:
        raise _fail(f"{field}.code", format_code(code), "has no threshold: holds no window")
    if device_id in rule.keys:
        raise _fail(field, [device_id, format_code(code)], "appears twice")
    clock = -math.inf if state.clock is None else state.clock
    window = _restore_window(record, field, rule, clock)
    window.pending = _int(_get(record, "pending", field), f"{field}.pending")
    pending_sequence = _get(record, "pending_sequence", field)
    if pending_sequence is not None:
        _int(pending_sequence, f"{field}.pending_sequence", 1)
    if (window.pending == 0) is not (pending_sequence is None) or (
        pending_sequence is not None and pending_sequence > state._sequence
    ):
        raise _fail(
            f"{field}.pending_sequence",
            pending_sequence,
            "must be a started episode exactly when pending > 0",
        )
    window.pending_sequence = pending_sequence
    episode_data = _get(record, "episode", field)
    if episode_data is not None:
        where = f"{field}.episode"
        data = _object(episode_data, where)
        episode = _restore_episode(data, where, rule, window, device_id)
        if episode.sequence_id > state._sequence or episode.sequence_id in episodes:
            raise _fail(
                f"{where}.sequence_id", episode.sequence_id, "is not a unique started episode"
            )
        window.episode = episode
        end = episode.end_time()
        if end is None or end <= clock:
            raise _fail(where, data, "has already ended by the clock")
        episodes[episode.sequence_id] = episode
    state._add_key(rule, device_id, window)


def _restore_ends(state: EngineState, items: list[Any], episodes: dict[int, Episode]) -> None:
    filed: set[int] = set()
    for index, item in enumerate(items):
        field = f"state.schedule.ends[{index}]"
        parts = _list(item, field)
        if len(parts) != 2:
            raise _fail(field, item, "must be [time, sequence_id]")
        when = _number(parts[0], field)
        episode = episodes.get(parts[1]) if type(parts[1]) is int else None
        end = None if episode is None else episode.end_time()
        if episode is None or parts[1] in filed or end is None or when > end:
            raise _fail(field, item, "must file each open episode once, no later than its end")
        filed.add(parts[1])
        state._file_end(episode, when)
    if len(filed) != len(episodes):
        raise _fail("state.schedule.ends", len(filed), f"must file all {len(episodes)} episodes")


def _restore_idle(state: EngineState, items: list[Any]) -> None:
    idle: set[tuple[int, str]] = set()
    entries: list[tuple[float, str, int]] = []
    for index, item in enumerate(items):
        field = f"state.schedule.idle[{index}]"
        parts = _list(item, field)
        if len(parts) != 3:
            raise _fail(field, item, "must be [time, device_id, code]")
        when = _number(parts[0], field)
        device_id = _device(parts[1], field)
        code = _code(parts[2], field)
        rule = state._rule_for(code)
        window = rule.keys.get(device_id)
        if window is None or (code, device_id) in idle:
            raise _fail(field, item, "must file each tracked key once")
        if when > rule.empties(window):
            raise _fail(field, item, "is filed after the key's window empties")
        idle.add((code, device_id))
        entries.append((when, device_id, code))
    tracked = sum(1 for _ in state._tracked_keys())
    if len(idle) != tracked:
        raise _fail("state.schedule.idle", len(idle), f"must file all {tracked} keys")
    state._file_idle(entries)


def _restore_pending(state: EngineState, items: list[Any]) -> int:
    """Restore the counts of untracked keys; returns their sum."""
    pending = 0
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(items):
        field = f"state.dropped_pending[{index}]"
        record = _object(item, field)
        device_id = _device(_get(record, "device_id", field), f"{field}.device_id")
        code = _code(_get(record, "code", field), f"{field}.code")
        count = _int(_get(record, "count", field), f"{field}.count", 1)
        sequence_id = _int(_get(record, "sequence_id", field), f"{field}.sequence_id", 1)
        if (
            sequence_id > state._sequence
            or (device_id, code) in seen
            or device_id in state._rule_for(code).keys
        ):
            raise _fail(field, item, "must be one untracked key's count of a started episode")
        seen.add((device_id, code))
        state._add_pending(device_id, code, count, sequence_id)
        pending += count
    return pending


def _counters(value: object) -> dict[str, int]:
    stats = _object(value, "state.stats")
    counters = {
        name: _int(
            stats.get(name, 0) if name in OPTIONAL_COUNTERS else _get(stats, name, "state.stats"),
            f"state.stats.{name}",
        )
        for name in COUNTERS
    }
    if counters["delivered"] + counters["throttled"] + counters["exempt"] != counters["total"]:
        raise _fail("state.stats", dict(stats), "delivered + throttled + exempt must equal total")
    return counters


def restore_policy(
    factory: Callable[..., S],
    data: object,
    expected_config: PolicyConfig | None,
    key: object = None,
) -> S:
    """A policy rebuilt from snapshot bytes, or :class:`SnapshotError` (nothing half-loaded).

    ``factory`` is the policy class: called as ``factory(config, late=..., max_keys=...,
    capacity=..., engage_at=...)``, then filled through :class:`EngineState`'s operations.
    Whatever a hostile snapshot makes Python run out of (numbers too large for
    a float, memory, recursion depth) is a :class:`SnapshotError` too.
    """
    try:
        return _load_state(factory, _decode(data, key), expected_config)
    except (OverflowError, MemoryError, RecursionError) as exc:
        size = f"{len(data)} bytes" if isinstance(data, bytes | bytearray) else "data"
        raise _fail("data", size, f"cannot be restored ({type(exc).__name__})") from None


def _load_state(
    factory: Callable[..., S], state: Mapping[str, Any], expected_config: PolicyConfig | None
) -> S:
    """A policy rebuilt from the decoded ``state`` of a snapshot."""
    config = _config(_get(state, "config", "state"), "state.config")
    if expected_config is not None and config != expected_config:
        detail = "".join(
            f"; {change.path} is {change.after!r}, expected {change.before!r}"
            for change in diff_configs(expected_config, config)[:3]
        )
        raise _fail("config", config.as_dict(), "is not the expected configuration" + detail)
    late = _get(state, "late", "state")
    if late not in ("clamp", "reject"):
        raise _fail("state.late", late, "must be 'clamp' or 'reject'")
    max_keys = _get(state, "max_keys", "state")
    if max_keys is not None:
        _int(max_keys, "state.max_keys", 1)
    capacity, engage_at = _capacity(state.get("capacity"))
    policy = factory(config, late=late, max_keys=max_keys, capacity=capacity, engage_at=engage_at)
    clock = _optional_number(_get(state, "clock", "state"), "state.clock")
    counters = _counters(_get(state, "stats", "state"))
    policy._set_counts(
        -math.inf if clock is None else clock,
        _int(_get(state, "sequence", "state"), "state.sequence"),
        counters,
    )
    episodes: dict[int, Episode] = {}
    for index, item in enumerate(_list(_get(state, "keys", "state"), "state.keys")):
        field = f"state.keys[{index}]"
        _restore_key(policy, _object(item, field), field, episodes)
    pending = sum(window.pending for _, _, window in policy._tracked_keys())
    dropped = _list(_get(state, "dropped_pending", "state"), "state.dropped_pending")
    if max_keys is not None and len(dropped) > max_keys:
        raise _fail("state.dropped_pending", len(dropped), f"must hold at most {max_keys} counts")
    pending += _restore_pending(policy, dropped) + counters["dropped_throttled"]
    if pending > counters["throttled"]:
        throttled = counters["throttled"]
        raise _fail("state.stats.throttled", throttled, "is less than the pending counts")
    schedule = _object(_get(state, "schedule", "state"), "state.schedule")
    _restore_ends(policy, _list(_get(schedule, "ends", "state.schedule"), "ends"), episodes)
    _restore_idle(policy, _list(_get(schedule, "idle", "state.schedule"), "idle"))
    policy._set_history(_history(_get(state, "config_history", "state"), config))
    return policy
