"""RedisThrottlePolicy: per-alert latency and batched throughput, against the alternatives.

In one run, on one redis-server (started here on a free 127.0.0.1 port in a
temporary directory, or ``--port`` of a running one, whose database 0 it flushes):

* the floor: a bare ``PING`` round trip (latency) and in-process ``ThrottlePolicy``;
* ``RedisThrottlePolicy``: ``feed`` latency (p50, p99) and ``feed_many``
  throughput with 1, 2 and 4 client processes sharing one namespace;
* limits' ``MovingWindowRateLimiter`` on ``RedisStorage`` (one ``hit`` per
  alert, its own Lua script): latency and throughput with 1, 2 and 4 processes;
* server memory per tracked key (``INFO memory``), and after the keys went idle.

    python benchmarks/redis.py                  # 20,000 alerts per measurement
    python benchmarks/redis.py --alerts 2000    # a quick run (CI)
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# This file is named redis.py: keep its own directory off the path so that
# ``import redis`` finds redis-py, then load the shared traffic from throughput.py.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import redis as redis_py  # noqa: E402

from alertthrottle import Alert, PolicyConfig, Threshold, ThrottlePolicy  # noqa: E402
from alertthrottle.redis import RedisThrottlePolicy  # noqa: E402

_spec = importlib.util.spec_from_file_location("throughput", _HERE / "throughput.py")
assert _spec is not None and _spec.loader is not None
throughput = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(throughput)
config, day_of_traffic, device_id = (
    throughput.config,
    throughput.day_of_traffic,
    throughput.device_id,
)


def start_server(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server of this run's own, without persistence; returns it and its port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server, or pass --port")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(directory / "redis.log"),
        ],
    )
    client = redis_py.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            return process, port
        except redis_py.ConnectionError:
            time.sleep(0.01)
    process.terminate()
    raise SystemExit("redis-server did not start")


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (seconds), in microseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1e6, cuts[98] * 1e6


def timed_each(items: Sequence[object], call: Callable[[object], object]) -> list[float]:
    samples = []
    clock = time.perf_counter
    for item in items:
        started = clock()
        call(item)
        samples.append(clock() - started)
    return samples


def fresh(port: int) -> redis_py.Redis:
    client = redis_py.Redis(port=port)
    client.flushdb()
    return client


# -- workers (one process each) ------------------------------------------------------------


def _ours(port: int, alerts: list[Alert], barrier: object, out: object) -> None:
    policy = RedisThrottlePolicy(redis_py.Redis(port=port), config())
    barrier.wait()  # type: ignore[attr-defined]
    started = time.perf_counter()
    policy.feed_many(alerts)
    out.put((started, time.perf_counter()))  # type: ignore[attr-defined]


def _limits(port: int, alerts: list[Alert], barrier: object, out: object) -> None:
    from limits import RateLimitItemPerHour
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    limiter = MovingWindowRateLimiter(RedisStorage(f"redis://127.0.0.1:{port}/0"))
    item = RateLimitItemPerHour(10)
    barrier.wait()  # type: ignore[attr-defined]
    started = time.perf_counter()
    for alert in alerts:
        limiter.hit(item, alert.device_id, str(alert.code))
    out.put((started, time.perf_counter()))  # type: ignore[attr-defined]


def in_processes(worker: Callable[..., None], port: int, alerts: list[Alert], n: int) -> float:
    """Alerts per second with ``n`` processes feeding interleaved chunks of ``alerts`` at once."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(n)
    out = context.Queue()
    chunk = 500
    slices: list[list[Alert]] = [[] for _ in range(n)]
    for index in range(0, len(alerts), chunk):
        slices[(index // chunk) % n].extend(alerts[index : index + chunk])
    workers = [context.Process(target=worker, args=(port, part, barrier, out)) for part in slices]
    for process in workers:
        process.start()
    spans = [out.get(timeout=600) for _ in workers]
    for process in workers:
        process.join()
    return len(alerts) / (max(end for _, end in spans) - min(start for start, _ in spans))


def limits_available() -> bool:
    try:
        import limits.storage  # noqa: F401
    except ImportError:
        return False
    return True


def memory_per_key(port: int, keys: int) -> tuple[float, float, int]:
    """Server bytes per tracked key while live, and bytes left once they have all gone idle."""
    client = fresh(port)
    policy = RedisThrottlePolicy(client, PolicyConfig(default=Threshold(10, 3600)))
    policy.feed(Alert(0, device_id(10**9), 0x8014))  # the namespace's fixed keys exist
    base = int(client.info("memory")["used_memory"])
    start = 1_700_000_000
    batch = [Alert(start, device_id(n), 0x8014) for n in range(keys)]
    for repeat in range(3):  # three alerts per key: a ring with three times in it
        policy.feed_many(Alert(start + repeat, a.device_id, a.code) for a in batch)
    live = int(client.info("memory")["used_memory"])
    tracked = policy.stats.tracked_keys
    started = time.perf_counter()
    policy.reconfigure(PolicyConfig(default=Threshold(12, 3600)), at=start + 3, reason="benchmark")
    print(
        f"reconfigure: {time.perf_counter() - started:.2f} s for {tracked:,} tracked keys "
        "(one atomic call; ring resized 11 -> 13 slots)"
    )
    # Event time moves past the period: the keys are dropped by later calls.
    later = start + 3600 + 10
    while policy.stats.tracked_keys > 0:
        policy.advance(later)
    idle = int(client.info("memory")["used_memory"])
    print(f"keys on the server once all went idle: {client.dbsize()} (the namespace's own)")
    return (live - base) / tracked, (idle - base), tracked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--keys", type=int, default=20_000, help="keys for the memory figure")
    parser.add_argument("--port", type=int, help="a running redis-server (db 0 is flushed)")
    parser.add_argument("--seed", type=int, default=62)
    args = parser.parse_args(argv)

    temporary = tempfile.TemporaryDirectory()
    server = None
    port = args.port
    if port is None:
        server, port = start_server(Path(temporary.name))
    try:
        run(args, port)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        temporary.cleanup()
    return 0


def run(args: argparse.Namespace, port: int) -> None:
    alerts = day_of_traffic(args.alerts, args.devices, args.seed)
    n = len(alerts)
    client = fresh(port)
    version = client.info("server")["redis_version"]
    print(f"alerts: {n:,} from {args.devices:,} devices, Threshold(10, 3600); redis {version}")
    print("latency per alert (one call, one alert)        p50 us    p99 us")
    ping = percentiles(timed_each(alerts, lambda _: client.ping()))
    print(f"  PING round trip (the floor)               {ping[0]:8.1f}  {ping[1]:8.1f}")
    core = ThrottlePolicy(config())
    inproc = percentiles(timed_each(alerts, core.feed))  # type: ignore[arg-type]
    print(f"  ThrottlePolicy.feed (in process)          {inproc[0]:8.1f}  {inproc[1]:8.1f}")
    ours_policy = RedisThrottlePolicy(fresh(port), config())
    ours = percentiles(timed_each(alerts, ours_policy.feed))  # type: ignore[arg-type]
    print(
        f"  RedisThrottlePolicy.feed                  {ours[0]:8.1f}  {ours[1]:8.1f}"
        f"   ({ours[0] / ping[0]:.1f}x PING)"
    )
    has_limits = limits_available()
    if has_limits:
        from limits import RateLimitItemPerHour
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        fresh(port)
        limiter = MovingWindowRateLimiter(RedisStorage(f"redis://127.0.0.1:{port}/0"))
        item = RateLimitItemPerHour(10)
        theirs = percentiles(
            timed_each(alerts, lambda a: limiter.hit(item, a.device_id, str(a.code)))  # type: ignore[attr-defined]
        )
        print(f"  limits MovingWindow hit (RedisStorage)    {theirs[0]:8.1f}  {theirs[1]:8.1f}")
    else:
        print("  limits: not installed (pip install 'limits[redis]') -- comparison skipped")

    print("throughput (alerts/s, all processes together)")
    started = time.perf_counter()
    ThrottlePolicy(config()).feed_many(alerts)
    print(
        f"  ThrottlePolicy.feed_many, 1 process       {n / (time.perf_counter() - started):10,.0f}"
    )
    for processes in (1, 2, 4):
        fresh(port)
        rate = in_processes(_ours, port, alerts, processes)
        print(f"  RedisThrottlePolicy.feed_many, {processes} proc    {rate:10,.0f}")
    if has_limits:
        for processes in (1, 2, 4):
            fresh(port)
            rate = in_processes(_limits, port, alerts, processes)
            print(f"  limits MovingWindow hit, {processes} proc          {rate:10,.0f}")

    per_key, left, keys = memory_per_key(port, args.keys)
    print(
        f"server memory: {per_key:,.0f} bytes per tracked key ({keys:,} keys, 3 alerts each); "
        f"{left:,} bytes above the empty namespace once all went idle (the server's tables)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
