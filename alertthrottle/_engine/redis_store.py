"""``RedisThrottlePolicy``: ``ThrottlePolicy``'s semantics with the state on a Redis server.

Each alert is decided atomically on the server by one Lua script (redis_lua),
loaded once and called by its SHA: one round trip per ``feed``, one per chunk
of ``feed_many``. Any number of processes attached to one namespace throttle
as one policy. Values are validated here, before anything is sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from .._core.alert import Alert, parse_timestamp
from .._core.config import PolicyConfig, Threshold
from .._core.decision import NO_METADATA, Decision, Stats, ThrottleMetadata, Verdict
from .._core.errors import (
    AlertThrottleError,
    InvalidAlertError,
    LateAlertError,
    PolicyError,
    StateStoreError,
)
from .._core.events import Event, ThrottlingEnded, ThrottlingStarted
from .partition import partition_for
from .policy import LateMode
from .reconfigure import ConfigChange, check_change, diff_configs
from .redis_lua import SCRIPT

__all__ = ["RedisThrottlePolicy"]

_VERDICTS = (Verdict.DELIVER, Verdict.THROTTLE, Verdict.EXEMPT)
# Decisions with nothing to report, shared as in ThrottlePolicy: [verdict][late].
_PLAIN = tuple((Decision(verdict), Decision(verdict, late=True)) for verdict in _VERDICTS)
_NAMESPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/")
#: Idle keys a call may drop besides those of its own alerts (a bound on one call's work).
_IDLE_BUDGET = 64
#: The most idle keys one call looks at (also bounds a Lua unpack).
_MAX_BUDGET = 4000


def _text(value: Any) -> str:
    """A reply element as str, whether the client decodes responses or not."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _number(value: Any) -> int | float:
    """A time sent back by the script (``%.17g``) as the int or float it was."""
    text = _text(value)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _time_text(t: int | float) -> str:
    # repr of a float is the shortest text that reads back as the same double.
    return repr(t) if type(t) is float else str(t)


def _rule(threshold: Threshold | None) -> str:
    if threshold is None:
        return "n"
    every = threshold.sample_every
    interval = threshold.sample_interval
    return " ".join(
        (
            str(threshold.limit),
            _time_text(threshold.period),
            str(threshold.resume_below),
            "-" if every is None else str(every),
            "-" if interval is None else _time_text(interval),
        )
    )


def _rules(config: PolicyConfig) -> list[str]:
    """The rules hash of the script, as field/value pairs."""
    pairs = ["d", _rule(config.default)]
    for code, threshold in config.per_code.items():
        pairs += [str(code), _rule(threshold)]
    for code in sorted(config.exempt_codes):
        pairs += [str(code), "x"]
    return pairs


def _config_text(config: PolicyConfig) -> str:
    # Canonical: equal configurations (10 and 10.0 differ, as in diff_configs) give equal text.
    return json.dumps(config.as_dict(), sort_keys=True, separators=(",", ":"))


def _recipients(text: Any) -> tuple[str, ...]:
    raw = _text(text)
    return tuple(json.loads(raw)) if raw else ()


def _key(member: Any) -> tuple[str, int]:
    code, device_id = _text(member).split(":", 1)
    return device_id, int(code)


def _stop(exc: AlertThrottleError, index: int, decisions: list[Decision]) -> AlertThrottleError:
    """Mark ``exc`` as raised at batch position ``index`` with the decisions applied before it."""
    exc.at_index(index, decisions)
    return exc


class RedisThrottlePolicy:
    """A throttling policy whose state lives on a Redis (or Valkey) server, shared by processes.

    Decides exactly as :class:`ThrottlePolicy` with the same configuration
    (docs/semantics.md), but every process attached to the same ``namespace``
    feeds one policy: one clock (the newest time any of them has seen), one
    sequence of episodes, one set of totals. ``client`` is a ``redis.Redis``
    (or ``redis.RedisCluster``). The first process to attach stores
    ``config`` with the state; a process attaching with another configuration
    is refused with :class:`PolicyError`.

    ``partitions`` splits the state by device (:func:`partition_for`), each
    partition under its own Redis Cluster hash tag, so that a cluster spreads
    the load; see docs/scaling.md for what changes. ``max_keys``, ``capacity``
    and ``engage_at`` are features of the in-process policy only: setting
    them raises :class:`PolicyError`. Every Redis error or timeout raises
    :class:`StateStoreError`; an alert is applied on the server whole or not
    at all, but after a timeout the caller cannot know which.
    """

    def __init__(
        self,
        client: redis.Redis | redis.RedisCluster,
        config: PolicyConfig,
        *,
        namespace: str = "alertthrottle",
        late: LateMode = "clamp",
        partitions: int = 1,
        chunk_size: int = 500,
        max_keys: None = None,
        capacity: None = None,
        engage_at: str = "always",
    ) -> None:
        if not isinstance(config, PolicyConfig):
            raise PolicyError("config", config, "must be a PolicyConfig")
        if late not in ("clamp", "reject"):
            raise PolicyError("late", late, "must be 'clamp' or 'reject'")
        if (
            type(namespace) is not str
            or not 1 <= len(namespace) <= 100
            or not set(namespace) <= _NAMESPACE_CHARS
        ):
            raise PolicyError(
                "namespace", namespace, "must be 1 to 100 characters of A-Z a-z 0-9 - _ . : /"
            )
        if type(partitions) is not int or not 1 <= partitions <= 16384:
            raise PolicyError("partitions", partitions, "must be an integer in 1..16384")
        if type(chunk_size) is not int or not 1 <= chunk_size <= 100_000:
            raise PolicyError("chunk_size", chunk_size, "must be an integer in 1..100000")
        unsupported = {"max_keys": max_keys, "capacity": capacity}
        for name, value in unsupported.items():
            if value is not None:
                raise PolicyError(
                    name, value, "is not supported by RedisThrottlePolicy (in-process only)"
                )
        if engage_at != "always":
            raise PolicyError(
                "engage_at",
                engage_at,
                "must be 'always': RedisThrottlePolicy has no capacity guard",
            )
        for method in ("evalsha", "script_load"):
            if not callable(getattr(client, method, None)):
                raise PolicyError("client", client, "must be a redis.Redis client")
        self._client = client
        self._config = config
        self._late_mode: LateMode = late
        self._reject = "1" if late == "reject" else "0"
        self._namespace = namespace
        self._partitions = partitions
        self._chunk_size = chunk_size
        self._prefixes = [f"{{{namespace}:{p}}}" for p in range(partitions)]
        self._metas = [prefix + ":meta" for prefix in self._prefixes]
        self._sha = self._call(lambda: client.script_load(SCRIPT))
        self._version = self._attach()

    # -- public state ---------------------------------------------------------------

    @property
    def config(self) -> PolicyConfig:
        """The configuration stored with the namespace's state."""
        return self._config

    @property
    def late(self) -> LateMode:
        """What happens to alerts older than the clock: ``"clamp"`` or ``"reject"``."""
        return self._late_mode

    @property
    def namespace(self) -> str:
        """The prefix of every key this policy keeps on the server."""
        return self._namespace

    @property
    def partitions(self) -> int:
        """How many partitions (hash tags) the state is split into."""
        return self._partitions

    @property
    def clock(self) -> float | None:
        """The newest time any attached process has seen; ``None`` before any."""
        times = [t for t in (self._read(p, False, False)[1][8] for p in range(self._partitions))]
        seen = [_number(t) for t in times if t is not None]
        return max(seen) if seen else None

    @property
    def stats(self) -> Stats:
        """The namespace's running totals, shared by every attached process."""
        sums = [0] * 8
        for partition in range(self._partitions):
            totals = self._read(partition, False, False)[1]
            for index in range(8):
                sums[index] += int(totals[index] or 0)
        total, delivered, throttled, exempt, late, episodes, open_, tracked = sums
        return Stats(
            total=total,
            delivered=delivered,
            throttled=throttled,
            exempt=exempt,
            late=late,
            episodes=episodes,
            open_episodes=open_,
            tracked_keys=tracked,
        )

    def pending_counts(self) -> dict[tuple[str, int], ThrottleMetadata]:
        """Throttled counts still waiting for their key's next delivered alert (all processes)."""
        waiting: dict[tuple[str, int], ThrottleMetadata] = {}
        for partition in range(self._partitions):
            reply = self._read(partition, False, True)
            for pairs in (reply[3], reply[4]):
                for index in range(0, len(pairs), 2):
                    count, sequence = _text(pairs[index + 1]).split()
                    if int(count) > 0:
                        waiting[_key(pairs[index])] = ThrottleMetadata(
                            True, int(count), int(sequence)
                        )
        return waiting

    def open_episodes(self) -> list[ThrottlingStarted]:
        """The episodes not yet ended, as the events that started them, oldest first."""
        started = []
        for partition in range(self._partitions):
            for member, sequence, at, count, recipients in self._read(partition, True, False)[2]:
                device_id, code = _key(member)
                started.append(
                    ThrottlingStarted(
                        device_id=device_id,
                        code=code,
                        at=_number(at),
                        sequence_id=int(sequence),
                        window_count=int(count),
                        recipients=_recipients(recipients),
                    )
                )
        return sorted(started, key=lambda event: event.sequence_id)

    # -- feeding ----------------------------------------------------------------------

    def feed(self, alert: Alert) -> Decision:
        """Decide one alert on the server (the rules of docs/semantics.md), one round trip."""
        if type(alert) is not Alert:
            raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
        partition = self._partition(alert)
        decisions, stopped = self._feed_chunk(partition, [alert], _IDLE_BUDGET)
        if stopped is not None:
            raise stopped
        return decisions[0]

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """``feed`` each alert in order; one round trip per chunk (per partition).

        If an alert raises, the ones before it stay applied; the exception's
        ``index`` says where the batch stopped and ``decisions`` holds the
        decisions of the alerts before it.
        """
        decisions: list[Decision] = []
        chunk: list[Alert] = []
        for alert in alerts:
            if type(alert) is not Alert:
                self._feed_batch(chunk, decisions)
                raise _stop(
                    InvalidAlertError("alert", alert, "must be an alertthrottle.Alert"),
                    len(decisions),
                    decisions,
                )
            chunk.append(alert)
            if len(chunk) == self._chunk_size:
                self._feed_batch(chunk, decisions)
                chunk = []
        self._feed_batch(chunk, decisions)
        return decisions

    def advance(self, now: float | object) -> list[Event]:
        """Move the clock to ``now`` and return the episode ends due by then.

        A ``now`` below the clock moves nothing and returns nothing. With
        several partitions each has its own clock (docs/scaling.md).
        """
        t = parse_timestamp(now, "now")
        events: list[Event] = []
        for partition in range(self._partitions):
            reply = self._run(
                partition,
                "advance",
                _time_text(t),
                str(partition),
                str(self._partitions),
                str(_MAX_BUDGET),
            )
            self._seen_version(reply[0])
            events.extend(self._ended(item) for item in reply[1])
        if self._partitions > 1:
            events.sort(key=lambda event: event.at)
        return events

    # -- configuration ----------------------------------------------------------------------

    def reconfigure(
        self, new_config: PolicyConfig, *, at: float | object, reason: str
    ) -> ConfigChange:
        """Put ``new_config`` in force at ``at`` for every attached process, audited.

        The rules of :meth:`ThrottlePolicy.reconfigure` (docs/reconfiguration.md),
        applied on the server in one atomic call per partition that walks every
        tracked key. ``at`` must not be before the clock. Refused with
        :class:`PolicyError` when another process reconfigured first (read
        :attr:`config` and decide again).
        """
        # What this process believes it changes: refused if another changed it first.
        previous = self._config
        expected = self._version
        t = check_change(new_config, at, reason, self.clock)
        version = expected + 1
        entry = json.dumps(
            {"version": version, "at": t, "reason": reason, "config": new_config.as_dict()},
            sort_keys=True,
        )
        events: list[ThrottlingEnded] = []
        for partition in range(self._partitions):
            reply = json.loads(
                self._run(
                    partition,
                    "reconfigure",
                    _time_text(t),
                    str(expected),
                    _config_text(new_config),
                    entry,
                    # Partitions after the first follow even if their clock moved on.
                    "1" if partition else "0",
                    *_rules(new_config),
                )
            )
            if reply[0] == "version":
                self._seen_version(reply[1])
                raise PolicyError(
                    "config",
                    new_config,
                    f"namespace {self._namespace!r} was reconfigured by another process "
                    f"(now version {int(reply[1])}): read .config and decide again",
                )
            if reply[0] == "clock":
                raise PolicyError("at", at, f"is before the policy clock ({reply[1]})")
            events.extend(self._ended(item) for item in reply[3])
        self._config = new_config
        self._version = version
        if self._partitions > 1:
            events.sort(key=lambda event: event.at)
        return ConfigChange(
            version=version,
            at=t,
            reason=reason,
            config=new_config,
            changes=diff_configs(previous, new_config),
            events=tuple(events),
        )

    @property
    def config_history(self) -> tuple[ConfigChange, ...]:
        """Every configuration the namespace has had, oldest first, as stored on the server."""
        per_partition = [
            self._call(lambda key=key: self._client.lrange(key, 0, -1))
            for key in (prefix + ":hist" for prefix in self._prefixes)
        ]
        history: list[ConfigChange] = []
        previous: PolicyConfig | None = None
        for entries in zip(*per_partition, strict=False):
            head, _, _ = _text(entries[0]).partition("\n")
            data = json.loads(head)
            config = PolicyConfig.from_dict(data["config"])
            events = sorted(
                (
                    self._ended(item)
                    for entry in entries
                    for item in json.loads(_text(entry).partition("\n")[2] or "[]")
                ),
                key=lambda event: event.at,
            )
            history.append(
                ConfigChange(
                    version=int(data["version"]),
                    at=data["at"],
                    reason=data["reason"],
                    config=config,
                    changes=() if previous is None else diff_configs(previous, config),
                    events=tuple(events),
                )
            )
            previous = config
        return tuple(history)

    # -- the round trips ------------------------------------------------------------------

    def _partition(self, alert: Alert) -> int:
        if self._partitions == 1:
            return 0
        return partition_for(alert.device_id, self._partitions)

    def _feed_batch(self, chunk: Sequence[Alert], decisions: list[Decision]) -> None:
        """Feed a validated chunk, appending to ``decisions``; raise as ``feed_many`` says."""
        if not chunk:
            return
        start = len(decisions)
        if self._partitions == 1:
            groups = [(0, list(range(len(chunk))))]
        elif self._reject == "1":
            # A refused late alert must stop the batch exactly where it is:
            # runs of one partition are sent in order.
            groups = []
            for index, alert in enumerate(chunk):
                partition = self._partition(alert)
                if groups and groups[-1][0] == partition:
                    groups[-1][1].append(index)
                else:
                    groups.append((partition, [index]))
        else:
            by_partition: dict[int, list[int]] = {}
            for index, alert in enumerate(chunk):
                by_partition.setdefault(self._partition(alert), []).append(index)
            groups = list(by_partition.items())
        results: list[Decision | None] = [None] * len(chunk)
        for partition, indices in groups:
            try:
                got, stopped = self._feed_chunk(
                    partition,
                    [chunk[i] for i in indices],
                    min(_MAX_BUDGET, _IDLE_BUDGET + 2 * len(indices)),
                )
            except StateStoreError as exc:
                failed = indices[0]
                applied = [d for d in results[:failed] if d is not None]
                decisions.extend(applied)
                exc.applied = {  # type: ignore[attr-defined]
                    start + i: d for i, d in enumerate(results) if d is not None and i > failed
                }
                raise _stop(exc, start + len(applied), decisions) from None
            for index, decision in zip(indices, got, strict=False):
                results[index] = decision
            if stopped is not None:
                decisions.extend(d for d in results if d is not None)
                raise _stop(stopped, len(decisions), decisions)
        decisions.extend(d for d in results if d is not None)

    def _feed_chunk(
        self, partition: int, alerts: Sequence[Alert], budget: int
    ) -> tuple[list[Decision], LateAlertError | None]:
        """One script call: decide ``alerts`` (all of ``partition``) in order."""
        lines = []
        for alert in alerts:
            recipients = alert.recipients
            line = f"{_time_text(alert.timestamp)} {alert.device_id} {alert.code}"
            # JSON (ASCII, escaped) never holds a raw line break, the lines' separator.
            lines.append(f"{line} {json.dumps(recipients)}" if recipients else line)
        reply = self._run(
            partition,
            "feed",
            self._reject,
            str(partition),
            str(self._partitions),
            str(budget),
            "\n".join(lines),
        )
        version, stopped, clock, replies = json.loads(reply)
        self._seen_version(version)
        decisions = [
            self._decision(alert, reply) for alert, reply in zip(alerts, replies, strict=False)
        ]
        refused = None
        if int(stopped):
            t = alerts[len(decisions)].timestamp
            refused = LateAlertError(
                "timestamp", t, f"is before the policy clock ({_text(clock)}) with late='reject'"
            )
        return decisions, refused

    def _decision(self, alert: Alert, reply: int | list[Any]) -> Decision:
        if type(reply) is int:
            # Nothing to report: verdict * 2 + late.
            plain: Decision = _PLAIN[reply >> 1][reply & 1]
            return plain
        assert isinstance(reply, list)
        verdict, late, sampled, count, sequence, ended, started = reply
        events: list[Event] = [self._ended(item) for item in ended]
        if started:
            sequence_id, window_count, at = started
            events.append(
                ThrottlingStarted(
                    device_id=alert.device_id,
                    code=alert.code,
                    at=_number(at),
                    sequence_id=int(sequence_id),
                    window_count=int(window_count),
                    recipients=alert.recipients,
                )
            )
        metadata = ThrottleMetadata(True, count, sequence) if count else NO_METADATA
        return Decision(_VERDICTS[verdict], metadata, bool(late), tuple(events), bool(sampled))

    def _ended(self, item: list[Any]) -> ThrottlingEnded:
        member, at, sequence, started_at, throttled, sampled, recipients = item
        device_id, code = _key(member)
        return ThrottlingEnded(
            device_id=device_id,
            code=code,
            at=_number(at),
            sequence_id=int(sequence),
            started_at=_number(started_at),
            throttled_count=int(throttled),
            sampled_count=int(sampled),
            recipients=_recipients(recipients),
        )

    def _read(self, partition: int, open_: bool, pending: bool) -> list[Any]:
        reply: list[Any] = self._run(
            partition, "read", "1" if open_ else "0", "1" if pending else "0"
        )
        self._seen_version(reply[0])
        return reply

    def _attach(self) -> int:
        """Store the config with a new namespace, or check it against the stored one."""
        text = _config_text(self._config)
        entry = json.dumps(
            {
                "version": 1,
                "at": None,
                "reason": "initial configuration",
                "config": self._config.as_dict(),
            },
            sort_keys=True,
        )
        versions = set()
        for partition in range(self._partitions):
            _, stored, partitions, version = self._run(
                partition, "attach", text, str(self._partitions), entry, *_rules(self._config)
            )
            if int(partitions) != self._partitions:
                raise PolicyError(
                    "partitions",
                    self._partitions,
                    f"differs from the {int(partitions)} partitions of namespace "
                    f"{self._namespace!r} on the server",
                )
            if _text(stored) != text:
                raise PolicyError(
                    "config",
                    self._config,
                    f"differs from the config stored in namespace {self._namespace!r} "
                    f"(version {int(version)}): attach with that config",
                )
            versions.add(int(version))
        return max(versions)

    def _seen_version(self, version: Any) -> None:
        """Take the stored config when another process has reconfigured the namespace."""
        if int(version) == self._version:
            return
        text = self._call(lambda: self._client.hget(self._metas[0], "config"))
        self._config = PolicyConfig.from_dict(json.loads(_text(text)))
        self._version = int(version)

    def _run(self, partition: int, mode: str, *args: str) -> Any:
        """Call the script by SHA on ``partition``'s keys; load it again if the server lost it."""
        keys_and_args = (self._metas[partition], self._prefixes[partition], mode, *args)

        def call() -> Any:
            try:
                return self._evalsha(keys_and_args)
            except redis.exceptions.NoScriptError:
                # A restarted or flushed server forgets scripts: load it once more.
                self._sha = self._client.script_load(SCRIPT)
                return self._evalsha(keys_and_args)

        try:
            return self._call(call)
        except StateStoreError as exc:
            if mode == "attach" or "ALERTTHROTTLE_EMPTY" not in str(exc):
                raise
        # The server lost the namespace (restarted without persistence, flushed):
        # the script refused before writing anything. Store the config again and
        # start afresh, as a new namespace would (docs/scaling.md).
        self._attach()
        return self._call(call)

    def _evalsha(self, keys_and_args: tuple[str, ...]) -> Any:
        """EVALSHA sent once: never again after a timeout or a dropped connection.

        redis-py retries a command on a timeout by default; a script that did run
        (late) would then apply its alerts twice. So the call goes out on a
        connection of the client's own pool, without the client's retries: a
        failure after sending raises, and the connection, whose reply may still
        come, is closed. Connecting is retried as the client says (nothing was
        sent yet). A client without a pool of its own (``RedisCluster``) is
        called as it is: configure it without retries (docs/scaling.md).
        """
        if not isinstance(self._client, redis.Redis):
            return self._client.evalsha(self._sha, 1, *keys_and_args)
        # Any: redis-py leaves the connection-level calls untyped.
        client: Any = self._client
        pool = client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("EVALSHA", self._sha, 1, *keys_and_args)
            return client.parse_response(connection, "EVALSHA")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            connection.disconnect()
            raise
        finally:
            pool.release(connection)

    def _call(self, call: Any) -> Any:
        try:
            return call()
        except redis.exceptions.RedisError as exc:
            raise StateStoreError(
                "server", self._namespace, f"{type(exc).__name__}: {exc}"
            ) from exc

    def _check(self) -> None:
        """Assert the invariants of the state on the server (tests run it after every step).

        Reads without a lock: call it when no other process is feeding.
        """
        client: Any = self._client  # a synchronous client (redis-py types allow async too)
        for prefix in self._prefixes:
            meta = {_text(k): _text(v) for k, v in client.hgetall(prefix + ":meta").items()}
            total, delivered, throttled, exempt = (
                int(meta[name]) for name in ("total", "delivered", "throttled", "exempt")
            )
            assert delivered + throttled + exempt == total, meta
            ends = {_text(m): s for m, s in client.zrange(prefix + ":ends", 0, -1, withscores=True)}
            idle = {_text(m): s for m, s in client.zrange(prefix + ":idle", 0, -1, withscores=True)}
            assert int(meta["open"]) == len(ends), (meta, ends)
            assert int(meta["tracked"]) == len(idle), (meta, len(idle))
            held = {_text(key)[len(prefix) + 3 :] for key in client.scan_iter(prefix + ":k:*")}
            assert held == set(idle), held ^ set(idle)
            assert set(ends) <= set(idle)
            for name, scores in (("next_end", ends), ("next_idle", idle)):
                bound = meta.get(name)
                if scores and bound is not None:
                    assert bound != "none" and float(bound) <= min(scores.values()), name
            clock = float(meta["clock"]) if "clock" in meta else -math.inf
            pending = 0
            for member in idle:
                fields = {
                    _text(k): _text(v) for k, v in client.hgetall(f"{prefix}:k:{member}").items()
                }
                pending += int(fields.get("pn", 0))
                assert (int(fields.get("pn", 0)) > 0) is ("ps" in fields), fields
                assert ("e" in fields) is (member in ends), (member, fields)
                times = [float(v) for k, v in fields.items() if k.isdigit()]
                assert times and max(times) <= clock, (member, times, clock)
                if member in ends:
                    assert ends[member] > clock, (member, ends[member], clock)
            for value in client.hvals(prefix + ":pend"):
                count, _ = _text(value).split()
                pending += int(count)
            assert pending <= throttled, (pending, throttled)

    def __repr__(self) -> str:
        return (
            f"RedisThrottlePolicy(namespace={self._namespace!r}, "
            f"partitions={self._partitions}, late={self._late_mode!r})"
        )
