"""RedisThrottlePolicy on a real redis-server: the same decisions as ThrottlePolicy, shared."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter

import attrs
import pytest
import redis
from helpers import canonical, ended, reported_counts, totals
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis_helpers import RedisServer

from alertthrottle import (
    Alert,
    ConfigChange,
    Decision,
    InvalidAlertError,
    LateAlertError,
    PolicyConfig,
    PolicyError,
    StateStoreError,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    Verdict,
    partition_for,
)
from alertthrottle.redis import RedisThrottlePolicy
from alertthrottle.testing import ReferencePolicy, alert_streams, alerts, policy_configs

DEVICE = "00-0D-6F-00-0A-BC-12-34"
NO_RETRY = Retry(NoBackoff(), 0)
WORKED = PolicyConfig(default=Threshold(limit=3, period=10, resume_below=2))


def five(stats: object) -> tuple[int, ...]:
    """The totals SEMANTICS.md defines (what Stats equality compares)."""
    return totals(stats)[:5]  # type: ignore[arg-type]


# -- single writer: exactly ThrottlePolicy --------------------------------------------------


def test_worked_example(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED, namespace="worked")
    verdicts = [policy.feed(Alert(t, DEVICE, "8014")) for t in (0, 1, 2, 3, 4, 5)]
    assert [d.verdict for d in verdicts] == [Verdict.DELIVER] * 3 + [Verdict.THROTTLE] * 3
    assert verdicts[3].events == (
        ThrottlingStarted(device_id=DEVICE, code=0x8014, at=3, sequence_id=1, window_count=4),
    )
    assert [e.sequence_id for e in policy.open_episodes()] == [1]
    last = policy.feed(Alert(20, DEVICE, "8014"))
    assert last.events == (
        ThrottlingEnded(
            device_id=DEVICE,
            code=0x8014,
            at=14,
            sequence_id=1,
            started_at=3,
            throttled_count=3,
            sampled_count=0,
        ),
    )
    assert last.metadata.to_duis() == {"ThrottledAlertCount": 3, "ThrottledAlertSequenceId": 1}
    assert policy.stats.total == 7 and policy.open_episodes() == []


def feed_all(policy, stream, use_batches: bool) -> list[tuple[object, ...]]:
    """Canonical decisions of ``policy`` for ``stream``; a LateAlertError recorded in place."""
    got: list[tuple[object, ...]] = []
    if use_batches:
        rest = list(stream)
        while rest:
            try:
                got += [canonical(d) for d in policy.feed_many(rest)]
                rest = []
            except LateAlertError as exc:
                assert exc.index is not None
                got += [canonical(d) for d in exc.decisions]
                got.append(("late",))
                rest = rest[exc.index + 1 :]
        return got
    for alert in stream:
        try:
            got.append(canonical(policy.feed(alert)))
        except LateAlertError:
            got.append(("late",))
    return got


@settings(max_examples=100)
@given(
    config=policy_configs(),
    stream=alert_streams(),
    late=st.sampled_from(["clamp", "reject"]),
    use_batches=st.booleans(),
    chunk_size=st.integers(1, 8),
)
def test_single_writer_agrees_with_reference_and_core(
    redis_server, config, stream, late, use_batches, chunk_size
):
    client = redis.Redis(port=redis_server.port)
    client.flushdb()
    shared = RedisThrottlePolicy(client, config, late=late, chunk_size=chunk_size)
    core = ThrottlePolicy(config, late=late)
    reference = ReferencePolicy(config, late=late)
    got = feed_all(shared, stream, use_batches)
    assert got == feed_all(core, stream, False)
    assert got == feed_all(reference, stream, False)
    shared._check()
    assert five(shared.stats) == five(core.stats) == five(reference.stats)
    assert shared.stats.episodes == core.stats.episodes
    assert shared.stats.open_episodes == core.stats.open_episodes
    assert shared.pending_counts() == core.pending_counts()
    assert shared.open_episodes() == core.open_episodes()
    assert shared.clock == core.clock
    if stream:
        later = stream[-1].timestamp + 400_000
        assert sorted(shared.advance(later), key=repr) == sorted(core.advance(later), key=repr)
        assert shared.stats.tracked_keys == core.stats.tracked_keys == 0
    client.close()


def local_to_global(decision: Decision, partition: int, partitions: int) -> Decision:
    """A partition's own policy's decision with its episode numbers made global."""

    def renumber(sequence: int) -> int:
        return (sequence - 1) * partitions + partition + 1

    metadata = decision.metadata
    if metadata.sequence_id is not None:
        metadata = attrs.evolve(metadata, sequence_id=renumber(metadata.sequence_id))
    events = tuple(attrs.evolve(e, sequence_id=renumber(e.sequence_id)) for e in decision.events)
    return attrs.evolve(decision, metadata=metadata, events=events)


@settings(max_examples=25)
@given(config=policy_configs(), stream=alert_streams(), partitions=st.integers(2, 4))
def test_partitions_decide_as_one_policy_per_partition(redis_server, config, stream, partitions):
    """Several hash tags on one server: each partition is one ThrottlePolicy; ids stay unique."""
    client = redis.Redis(port=redis_server.port)
    client.flushdb()
    shared = RedisThrottlePolicy(client, config, partitions=partitions, chunk_size=5)
    cores = [ThrottlePolicy(config) for _ in range(partitions)]
    want = []
    for alert in stream:
        p = partition_for(alert.device_id, partitions)
        want.append(canonical(local_to_global(cores[p].feed(alert), p, partitions)))
    assert [canonical(d) for d in shared.feed_many(stream)] == want
    assert shared.feed_many([]) == []
    assert shared.stats.episodes == sum(core.stats.episodes for core in cores)
    ids = [e.sequence_id for e in shared.open_episodes()]
    assert len(ids) == len(set(ids))
    keys = {k for k in client.scan_iter("*")}
    assert all(k.startswith(b"{alertthrottle:") for k in keys)
    client.close()


def test_partition_keys_use_one_hash_tag_each(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED, namespace="tags", partitions=4)
    devices = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(40)]
    policy.feed_many([Alert(0, device, 0x8014) for device in devices])
    tags = {key.split(b"}")[0] + b"}" for key in redis_client.scan_iter("{tags:*")}
    assert tags == {b"{tags:0}", b"{tags:1}", b"{tags:2}", b"{tags:3}"}
    for device in devices:
        p = partition_for(device, 4)
        assert redis_client.exists(f"{{tags:{p}}}:k:{0x8014}:{device}")


# -- sharing: config, concurrency, restarts --------------------------------------------------


def test_a_second_process_with_the_same_config_joins(redis_client):
    first = RedisThrottlePolicy(redis_client, WORKED)
    port = redis_client.connection_pool.connection_kwargs["port"]
    second = RedisThrottlePolicy(redis.Redis(port=port), WORKED)
    for t in range(4):
        (first if t % 2 else second).feed(Alert(t, DEVICE, 0x8014))
    assert first.stats == second.stats
    assert first.stats.throttled == 1
    assert first.open_episodes() == second.open_episodes()
    # The clock is shared: an alert older than what the other process saw is late.
    assert second.feed(Alert(1, DEVICE, 0x8015)).late


def test_a_different_config_is_refused(redis_client):
    RedisThrottlePolicy(redis_client, WORKED, namespace="ns")
    other = PolicyConfig(default=Threshold(limit=3, period=10.0, resume_below=2))
    with pytest.raises(PolicyError, match="differs from the config stored") as info:
        RedisThrottlePolicy(redis_client, other, namespace="ns")
    assert info.value.field == "config"
    with pytest.raises(PolicyError, match="partitions"):
        RedisThrottlePolicy(redis_client, WORKED, namespace="ns", partitions=2)
    # Another namespace is another policy.
    RedisThrottlePolicy(redis_client, other, namespace="ns2")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("namespace", ""),
        ("namespace", "a{b}"),
        ("namespace", "x" * 101),
        ("namespace", 7),
        ("namespace", "with space"),
        ("late", "drop"),
        ("partitions", 0),
        ("partitions", True),
        ("chunk_size", 0),
        ("max_keys", 10),
        ("capacity", object()),
        ("engage_at", "red"),
    ],
)
def test_hostile_options_are_refused_before_anything_is_stored(redis_client, option, value):
    with pytest.raises(PolicyError) as info:
        RedisThrottlePolicy(redis_client, WORKED, **{option: value})
    assert info.value.field == option
    assert redis_client.dbsize() == 0


def test_hostile_alerts_are_refused_and_change_nothing(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED)
    before = redis_client.dbsize()
    for hostile in (None, "8014", (0, DEVICE, 0x8014), object()):
        with pytest.raises(InvalidAlertError):
            policy.feed(hostile)  # type: ignore[arg-type]
    with pytest.raises(InvalidAlertError):
        policy.advance(float("nan"))
    assert policy.stats.total == 0 and redis_client.dbsize() == before
    good = Alert(1, DEVICE, 0x8014)
    with pytest.raises(InvalidAlertError) as info:
        policy.feed_many([good, good, "junk"])  # type: ignore[list-item]
    assert info.value.index == 2 and len(info.value.decisions) == 2
    assert policy.stats.total == 2


def test_late_alerts_rejected_by_the_shared_clock(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED, late="reject", chunk_size=2)
    alerts = [Alert(t, DEVICE, 0x8014) for t in (5, 6, 7, 3, 8)]
    with pytest.raises(LateAlertError) as info:
        policy.feed_many(alerts)
    assert info.value.index == 3 and len(info.value.decisions) == 3
    assert policy.stats.total == 3 and policy.clock == 7


def test_server_errors_are_state_store_errors(redis_server, tmp_path):
    server = RedisServer(tmp_path)
    client = redis.Redis(port=server.port, socket_timeout=2, retry=NO_RETRY)
    policy = RedisThrottlePolicy(client, WORKED)
    policy.feed(Alert(0, DEVICE, 0x8014))
    # A server that lost its scripts (restart, SCRIPT FLUSH) gets the script again.
    client.script_flush()
    assert policy.feed(Alert(1, DEVICE, 0x8014)).verdict is Verdict.DELIVER
    server.stop()
    with pytest.raises(StateStoreError) as info:
        policy.feed(Alert(2, DEVICE, 0x8014))
    assert info.value.value == "alertthrottle"
    with pytest.raises(StateStoreError):
        RedisThrottlePolicy(redis.Redis(port=server.port, retry=NO_RETRY), WORKED)
    with pytest.raises(StateStoreError) as batch:
        policy.feed_many([Alert(3, DEVICE, 0x8014)])
    assert batch.value.index == 0
    client.close()


BUSY = """
local start = redis.call('TIME')
local stop = tonumber(start[1]) + tonumber(start[2]) / 1e6 + tonumber(ARGV[1])
repeat
  local now = redis.call('TIME')
until tonumber(now[1]) + tonumber(now[2]) / 1e6 > stop
"""


def test_a_timed_out_call_is_never_sent_twice(redis_server):
    # redis-py retries a command after a timeout by default: the first call, run
    # late, and the retry would both apply the alert.
    client = redis.Redis(port=redis_server.port, socket_timeout=0.2)
    client.flushdb()
    policy = RedisThrottlePolicy(client, WORKED)
    busy = threading.Thread(target=lambda: redis.Redis(port=redis_server.port).eval(BUSY, 0, "1.5"))
    busy.start()
    probe = redis.Redis(port=redis_server.port, socket_timeout=0.05, retry=NO_RETRY)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the server is seen busy
        try:
            probe.ping()
        except redis.TimeoutError:
            break
        time.sleep(0.01)
    with pytest.raises(StateStoreError, match="Timeout"):
        policy.feed(Alert(1, DEVICE, 0x8014))
    busy.join()
    time.sleep(0.2)
    assert policy.stats.total <= 1  # run late, or not at all: never twice
    policy.feed(Alert(2, DEVICE, 0x8014))
    assert policy.stats.total <= 2
    policy._check()


def test_a_server_that_lost_its_data_starts_the_namespace_afresh(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED, partitions=2)
    policy.feed_many(Alert(t, DEVICE, 0x8014) for t in range(6))
    assert policy.stats.throttled == 3
    redis_client.flushdb()  # as a restart without persistence would leave it
    assert policy.feed(Alert(7, DEVICE, 0x8014)).verdict is Verdict.DELIVER
    assert policy.stats.total == 1 and policy.config == WORKED
    assert [c.version for c in policy.config_history] == [1]
    policy._check()


def test_state_survives_a_restart_with_aof(tmp_path):
    server = RedisServer(tmp_path, appendonly=True)
    try:
        rng = random.Random(7)
        stream = sorted(
            (
                Alert(rng.uniform(0, 100), f"00-0D-6F-00-0A-BC-12-{rng.randrange(4):02X}", 0x8014)
                for _ in range(300)
            ),
            key=lambda a: a.timestamp,
        )
        core = ThrottlePolicy(WORKED)
        want = [core.feed(a) for a in stream]
        client = redis.Redis(port=server.port)
        got = RedisThrottlePolicy(client, WORKED).feed_many(stream[:150])
        server.restart()  # SIGTERM: the AOF is written and fsynced before exit
        client = redis.Redis(port=server.port)
        policy = RedisThrottlePolicy(client, WORKED)
        got += policy.feed_many(stream[150:])
        assert got == want
        assert five(policy.stats) == five(core.stats)
        assert policy.pending_counts() == core.pending_counts()
        client.close()
    finally:
        server.stop()


def test_a_killed_server_comes_back_consistent(tmp_path):
    """SIGKILL with appendfsync everysec: whatever the AOF kept is whole alerts, counts conserve."""
    server = RedisServer(tmp_path, appendonly=True)
    try:
        rng = random.Random(11)
        devices = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(5)]
        stream = [Alert(t * 0.5, rng.choice(devices), 0x8014) for t in range(400)]
        client = redis.Redis(port=server.port, retry=NO_RETRY)
        decisions = RedisThrottlePolicy(client, WORKED).feed_many(stream[:200])
        server.kill()
        server.start()
        client = redis.Redis(port=server.port, retry=NO_RETRY)
        policy = RedisThrottlePolicy(client, WORKED)
        policy._check()
        kept = policy.stats.total
        # The process died, not the machine: the AOF had every reply's writes (a
        # machine crash could lose up to about two seconds, docs/scaling.md).
        assert kept <= 200
        decisions = decisions[:kept] + policy.feed_many(stream[200:])
        policy.advance(10_000)
        policy._check()
        stats = policy.stats
        assert stats.delivered + stats.throttled + stats.exempt == stats.total
        pending = sum(m.throttled_count for m in policy.pending_counts().values())
        assert reported_counts(decisions) + pending == stats.throttled
        client.close()
    finally:
        server.stop()


def test_memory_follows_active_keys(redis_client):
    config = PolicyConfig(default=Threshold(limit=2, period=60))
    policy = RedisThrottlePolicy(redis_client, config)
    devices = [f"00-0D-6F-00-0A-{n // 256:02X}-{n % 256:02X}-00" for n in range(300)]
    for t in range(4):
        policy.feed_many([Alert(t, device, 0x8014) for device in devices])
    assert policy.stats.tracked_keys == 300
    busy = redis_client.dbsize()
    assert busy >= 300
    policy.advance(100)  # every window has emptied: keys go, their pending counts stay
    assert policy.stats.tracked_keys == 0
    assert redis_client.dbsize() <= 6
    pending = policy.pending_counts()
    assert len(pending) == 300 and sum(m.throttled_count for m in pending.values()) == 600
    assert policy.stats.throttled == 600
    first = policy.feed(Alert(200, devices[0], 0x8014))
    assert first.metadata.throttled_count == 2 and first.metadata.sequence_id == 1
    assert len(policy.pending_counts()) == 299


# -- several processes at once -----------------------------------------------------------------

SHARED = PolicyConfig(default=Threshold(limit=3, period=5, resume_below=2), exempt_codes={0x8F35})


def _writer(port: int, seed: int, start: object, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    client = redis.Redis(port=port)
    policy = RedisThrottlePolicy(client, SHARED)
    rng = random.Random(seed)
    start.wait()  # type: ignore[attr-defined]  # all four feed at once
    devices = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(6)]
    out = []
    t = 0.0
    for step in range(400):
        t += rng.uniform(0, 0.5)
        batch = [Alert(t, rng.choice(devices), rng.choice((0x8014, 0x8015, 0x8F35)))]
        decisions = (
            policy.feed_many(batch * rng.randint(1, 3)) if step % 3 else [policy.feed(batch[0])]
        )
        for d in decisions:
            out.append(
                (
                    d.verdict.value,
                    d.metadata.throttled_count,
                    [(*attrs.astuple(e), type(e).__name__) for e in d.events],
                )
            )
    results.put(out)
    client.close()


def test_four_processes_share_one_policy(redis_client, redis_server):
    policy = RedisThrottlePolicy(redis_client, SHARED)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Barrier(4)
    workers = [
        context.Process(target=_writer, args=(redis_server.port, seed, start, results))
        for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    outputs = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    rows = [row for output in outputs for row in output]
    final = policy.advance(10_000)
    events = [event for _, _, evs in rows for event in evs]
    events += [(*attrs.astuple(e), type(e).__name__) for e in final]
    starts = [e[3] for e in events if e[-1] == "ThrottlingStarted"]
    ends = [e[3] for e in events if e[-1] == "ThrottlingEnded"]
    # Sequence ids unique and dense; every end returned to exactly one caller.
    assert sorted(starts) == list(range(1, len(starts) + 1))
    assert Counter(ends) == Counter(starts)
    stats = policy.stats
    verdicts = Counter(verdict for verdict, _, _ in rows)
    assert stats.total == len(rows)
    assert stats.delivered + stats.throttled + stats.exempt == stats.total
    assert (stats.delivered, stats.throttled, stats.exempt) == (
        verdicts["DELIVER"],
        verdicts["THROTTLE"],
        verdicts["EXEMPT"],
    )
    reported = sum(count for verdict, count, _ in rows if verdict == "DELIVER")
    pending = sum(m.throttled_count for m in policy.pending_counts().values())
    assert reported + pending == stats.throttled
    throttled_in_ends = sum(e[5] for e in events if e[-1] == "ThrottlingEnded")
    assert throttled_in_ends == stats.throttled
    assert stats.open_episodes == 0 and stats.episodes == len(starts)
    assert stats.late > 0  # the writers' clocks interleaved: the shared clock clamped some
    policy._check()


def test_reported_counts_helpers_agree(redis_client):
    policy = RedisThrottlePolicy(redis_client, WORKED)
    decisions = policy.feed_many(Alert(t, DEVICE, 0x8014) for t in (0, 1, 2, 3, 4, 5, 20))
    assert reported_counts(decisions) == 3 and len(ended(decisions)) == 1


# -- reconfiguration, audited -------------------------------------------------------------------


@settings(max_examples=40)
@given(
    configs=st.lists(policy_configs(), min_size=2, max_size=3),
    stream=alert_streams(),
    data=st.data(),
)
def test_reconfigure_decides_as_the_core_does(redis_server, configs, stream, data):
    client = redis.Redis(port=redis_server.port)
    client.flushdb()
    shared = RedisThrottlePolicy(client, configs[0], chunk_size=3)
    joined = RedisThrottlePolicy(redis.Redis(port=redis_server.port), configs[0])
    core = ThrottlePolicy(configs[0])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), min_size=1, max_size=2)))
    done = 0
    for number, (cut, config) in enumerate(zip(cuts, configs[1:], strict=False)):
        part = stream[done:cut]
        assert [canonical(d) for d in shared.feed_many(part)] == [
            canonical(d) for d in core.feed_many(part)
        ]
        done = cut
        at = (core.clock or 0) + data.draw(st.sampled_from([0, 0.5, 3, 1000]))
        mine = shared.reconfigure(config, at=at, reason=f"change {number}")
        theirs = core.reconfigure(config, at=at, reason=f"change {number}")
        assert mine == theirs
        assert [canonical(Decision(Verdict.DELIVER, events=mine.events))] == [
            canonical(Decision(Verdict.DELIVER, events=theirs.events))
        ]
        # The other process takes the new config on its next call.
        assert joined.stats.total == core.stats.total and joined.config == config
    rest = stream[done:]
    assert [canonical(shared.feed(a)) for a in rest] == [canonical(core.feed(a)) for a in rest]
    assert shared.config_history == core.config_history
    assert five(shared.stats) == five(core.stats)
    assert shared.pending_counts() == core.pending_counts()
    assert shared.open_episodes() == core.open_episodes()
    client.close()


def test_reconfigure_is_refused_when_stale_or_before_the_clock(redis_client):
    first = RedisThrottlePolicy(redis_client, WORKED)
    second = RedisThrottlePolicy(redis_client, WORKED)
    first.feed(Alert(5, DEVICE, 0x8014))
    looser = PolicyConfig(default=Threshold(limit=5, period=10))
    with pytest.raises(PolicyError, match="before the policy clock"):
        first.reconfigure(looser, at=4, reason="too early")
    with pytest.raises(PolicyError, match="reason"):
        first.reconfigure(looser, at=6, reason=" ")
    change = first.reconfigure(looser, at=6, reason="fewer episodes")
    assert change.version == 2 and [c.path for c in change.changes] == [
        "default.limit",
        "default.resume_below",
    ]
    with pytest.raises(PolicyError, match="reconfigured by another process"):
        second.reconfigure(WORKED, at=7, reason="stale")
    assert second.config == looser  # it has read the stored config meanwhile
    # A process started with the old config is refused; with the new one it joins.
    with pytest.raises(PolicyError, match="differs"):
        RedisThrottlePolicy(redis_client, WORKED)
    assert RedisThrottlePolicy(redis_client, looser).config_history == first.config_history


# -- a state machine: any interleaving of calls, the server's invariants after each -----------


class RedisPolicyMachine(RuleBasedStateMachine):
    """feed, feed_many, advance and reconfigure on the shared policy and on ThrottlePolicy."""

    port: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.client = redis.Redis(port=self.port, decode_responses=True)
        self.client.flushdb()
        self.shared: RedisThrottlePolicy | None = None
        self.core: ThrottlePolicy | None = None
        self.now = 0

    def teardown(self) -> None:
        self.client.close()

    @precondition(lambda self: self.shared is None)
    @rule(config=policy_configs(), partitions=st.sampled_from([1, 1, 3]))
    def start(self, config, partitions):
        self.shared = RedisThrottlePolicy(
            self.client, config, partitions=partitions, chunk_size=4, late="clamp"
        )
        self.cores = [ThrottlePolicy(config) for _ in range(partitions)]
        self.partitions = partitions

    def _core(self, alert: Alert) -> tuple[ThrottlePolicy, int]:
        p = partition_for(alert.device_id, self.partitions)
        return self.cores[p], p

    @precondition(lambda self: self.shared is not None)
    @rule(batch=st.lists(st.tuples(st.integers(-3, 8), alerts(max_time=0)), min_size=1, max_size=6))
    def feed_many(self, batch):
        stream = []
        for step, alert in batch:
            self.now = max(0, self.now + step)
            stream.append(attrs.evolve(alert, timestamp=self.now))
        want = []
        for alert in stream:
            core, p = self._core(alert)
            want.append(canonical(local_to_global(core.feed(alert), p, self.partitions)))
        got = [canonical(d) for d in self.shared.feed_many(stream)]
        assert got == want

    @precondition(lambda self: self.shared is not None)
    @rule(step=st.integers(0, 40))
    def advance(self, step):
        self.now += step
        got = self.shared.advance(self.now)
        want = [
            local_to_global(
                Decision(Verdict.DELIVER, events=tuple(core.advance(self.now))), p, self.partitions
            ).events
            for p, core in enumerate(self.cores)
        ]
        assert sorted(map(repr, got)) == sorted(repr(e) for events in want for e in events)

    @precondition(lambda self: self.shared is not None and self.partitions == 1)
    @rule(config=policy_configs(), step=st.integers(0, 5))
    def reconfigure(self, config, step):
        # Late alerts (a negative step in feed_many) leave the clock ahead of `now`:
        # a reconfiguration is dated at the clock or after it.
        self.now = max(self.now, self.cores[0].clock or 0) + step
        mine = self.shared.reconfigure(config, at=self.now, reason="machine")
        theirs = self.cores[0].reconfigure(config, at=self.now, reason="machine")
        # Episodes ending at the same instant may come in any order (semantics.md).
        assert by_time(mine) == by_time(theirs)

    @invariant()
    def server_state_is_consistent(self):
        if self.shared is None:
            return
        self.shared._check()
        assert five(self.shared.stats) == tuple(
            sum(values) for values in zip(*(five(core.stats) for core in self.cores), strict=True)
        )


def by_time(change: ConfigChange) -> ConfigChange:
    """``change`` with its events in (time, sequence id) order."""
    return attrs.evolve(
        change, events=tuple(sorted(change.events, key=lambda e: (e.at, e.sequence_id)))
    )


def test_state_machine(redis_server):
    RedisPolicyMachine.port = redis_server.port
    run_state_machine_as_test(
        RedisPolicyMachine, settings=settings(max_examples=25, stateful_step_count=12)
    )
