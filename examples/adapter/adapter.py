"""A DUIS alert-throttling service: copy it, adapt the sink, run it.

    pip install 'alertthrottle[adapter]'
    python adapter.py --policy policy.toml --state state.json --sink delivered.jsonl

POST DUIS alert XML to ``/alerts``: the alert is read (safely), decided by a
``ThrottlePolicy``, and when it gets through it is forwarded, with
``ThrottledAlertSequenceId``/``ThrottledAlertCount`` when something was held
back, to the sink (a JSON Lines file, or an HTTP endpoint receiving the XML).
Episode events go to the event log and to an ``IncidentBook``; ``/metrics``
serves the policy's totals to Prometheus. The state is saved every
``--snapshot-every`` seconds, on ``POST /snapshot`` and on SIGTERM/SIGINT, and
restored on start.

The policy's clock is event time: each alert's ``ResponseDateTime``, and
``POST /advance`` with a watermark (the newest DCC time known) from upstream.
It never reads the machine's clock (see docs/adapter.md for why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs
from aiohttp import ClientError, ClientSession, ClientTimeout, web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alertthrottle import (
    AlertThrottleError,
    Decision,
    IncidentBook,
    LateAlertError,
    PolicySpec,
    ThrottlePolicy,
    Verdict,
    builtin_policy,
    format_code,
    load_policy,
)
from alertthrottle.duis import MAX_XML_BYTES, DuisAlert, read_alert, write_alert

log = logging.getLogger("alertthrottle.adapter")
event_log = logging.getLogger("alertthrottle.adapter.events")


# -- JSON forms of what the service reports ----------------------------------------------


def event_json(event: object) -> dict[str, Any]:
    """An event as JSON: its fields, the code as text (``8014``, ``DCC:N24``), its type."""
    data = attrs.asdict(event, recurse=False)  # type: ignore[arg-type]
    data = {k: (str(v) if hasattr(v, "name") else v) for k, v in data.items()}
    if "code" in data:
        data["code"] = format_code(data["code"])
    if "recipients" in data:
        data["recipients"] = list(data["recipients"])
    return {"type": type(event).__name__, **data}


def decision_json(decision: Decision) -> dict[str, Any]:
    """A decision as JSON: what the sender of the alert is told."""
    return {
        "verdict": str(decision.verdict),
        "late": decision.late,
        "throttled_count": decision.metadata.throttled_count,
        "sequence_id": decision.metadata.sequence_id,
        "events": [event_json(event) for event in decision.events],
    }


# -- sinks: where delivered alerts go ------------------------------------------------------


class Sink(Protocol):
    async def send(self, message: DuisAlert, decision: Decision, xml: bytes) -> bool: ...

    async def close(self) -> None: ...


class JsonlSink:
    """Appends one JSON line per delivered alert (flushed before the sender is answered)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    async def send(self, message: DuisAlert, decision: Decision, xml: bytes) -> bool:
        alert = message.alert
        line = {
            "device_id": alert.device_id,
            "code": alert.code_hex,
            "timestamp": alert.timestamp,
            "response_id": message.response_id,
            **decision.metadata.to_duis(),
            "xml": xml.decode("utf-8"),
        }
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        return True

    async def close(self) -> None:
        self._file.close()


class HttpSink:
    """POSTs the XML to a downstream endpoint; what it refuses goes to a dead-letter file."""

    def __init__(self, url: str, dead_letters: Path) -> None:
        self._url = url
        self._session = ClientSession(timeout=ClientTimeout(total=10))
        self._dead = JsonlSink(dead_letters)

    async def send(self, message: DuisAlert, decision: Decision, xml: bytes) -> bool:
        headers = {"Content-Type": "application/xml"}
        try:
            async with self._session.post(self._url, data=xml, headers=headers) as response:
                if response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except (ClientError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        log.warning(
            "forwarding %s failed (%s): kept as a dead letter", message.response_id, problem
        )
        await self._dead.send(message, decision, xml)
        return False

    async def close(self) -> None:
        await self._session.close()
        await self._dead.close()


# -- the service ----------------------------------------------------------------------------


class Adapter:
    """One policy, its incident book, its sink and its state file, behind HTTP handlers.

    Every handler runs on the event loop thread, so the policy (not thread-safe)
    is only ever touched by one call at a time.
    """

    def __init__(self, spec: PolicySpec, state: Path, sink: Sink, strategy: str) -> None:
        self.state = state
        self.sink = sink
        if state.exists():
            # Restore: the policy goes on exactly where the snapshot left it.
            self.policy = ThrottlePolicy.load(state, expected_config=spec.config)
            log.info("restored %s: %d alerts so far", state, self.policy.stats.total)
        else:
            self.policy = spec.build()
        # The book is not in the snapshot: rebuild it from the episodes still open.
        self.book = IncidentBook(strategy)  # type: ignore[arg-type]
        self.book.apply_all(self.policy.open_episodes())
        self.forwarded = 0
        self.forward_failures = 0
        self.refused = 0
        self.snapshots = 0

    def route(self, events: Iterable[object]) -> None:
        """Every event goes to the event log and to the incident book."""
        for event in events:
            event_log.info(json.dumps(event_json(event)))
            update = self.book.apply(event)  # type: ignore[arg-type]
            if update is not None:
                event_log.info(
                    json.dumps(
                        {
                            "type": "IncidentUpdate",
                            "incident_id": update.incident_id,
                            "state": str(update.state),
                            "at": update.at,
                        }
                    )
                )

    def save(self) -> None:
        self.policy.save(self.state)  # atomic: a crash leaves the previous file whole
        self.snapshots += 1

    async def alerts(self, request: web.Request) -> web.Response:
        """POST /alerts: one DUIS alert message (XML) in, its decision (JSON) out."""
        body = await request.read()
        try:
            message = read_alert(body)
            decision = self.policy.feed(message.alert)
        except LateAlertError as exc:
            self.refused += 1
            return web.json_response({"error": str(exc), "field": exc.field}, status=409)
        except AlertThrottleError as exc:
            self.refused += 1
            return web.json_response({"error": str(exc), "field": exc.field}, status=400)
        self.route(decision.events)
        if decision.verdict is not Verdict.THROTTLE:
            if await self.sink.send(message, decision, write_alert(message, decision.metadata)):
                self.forwarded += 1
            else:
                self.forward_failures += 1
        return web.json_response(decision_json(decision))

    async def advance(self, request: web.Request) -> web.Response:
        """POST /advance {"now": t}: an event-time watermark from upstream (never wall clock)."""
        try:
            now = (await request.json())["now"]
            events = self.policy.advance(now)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"now: {exc}"}, status=400)
        self.route(events)
        return web.json_response({"events": [event_json(e) for e in events]})

    async def snapshot(self, _request: web.Request) -> web.Response:
        """POST /snapshot: save the state now (also done on a schedule and on SIGTERM)."""
        self.save()
        return web.json_response({"saved": str(self.state), "total": self.policy.stats.total})

    async def healthz(self, _request: web.Request) -> web.Response:
        """GET /healthz: the service is up; how many alerts it has decided."""
        return web.json_response({"ok": True, "total": self.policy.stats.total})

    async def metrics(self, _request: web.Request) -> web.Response:
        """GET /metrics: Prometheus text format."""
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @property
    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=True)
        registry.register(_StatsCollector(self))
        return registry

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_XML_BYTES)
        app.add_routes(
            [
                web.post("/alerts", self.alerts),
                web.post("/advance", self.advance),
                web.post("/snapshot", self.snapshot),
                web.get("/metrics", self.metrics),
                web.get("/healthz", self.healthz),
            ]
        )
        return app


class _StatsCollector(Collector):
    """Reads the policy's totals when Prometheus scrapes (nothing is counted twice)."""

    def __init__(self, adapter: Adapter) -> None:
        self._adapter = adapter

    def collect(self) -> Iterator[Metric]:
        adapter = self._adapter
        stats = adapter.policy.stats
        alerts = CounterMetricFamily(
            "alertthrottle_alerts", "Alerts decided, by verdict", labels=["verdict"]
        )
        for verdict, value in (
            ("delivered", stats.delivered),
            ("throttled", stats.throttled),
            ("exempt", stats.exempt),
        ):
            alerts.add_metric([verdict], value)
        yield alerts
        yield CounterMetricFamily("alertthrottle_late_alerts", "Late alerts", value=stats.late)
        yield CounterMetricFamily(
            "alertthrottle_episodes", "Episodes started", value=stats.episodes
        )
        yield GaugeMetricFamily(
            "alertthrottle_open_episodes", "Episodes open now", value=stats.open_episodes
        )
        yield GaugeMetricFamily(
            "alertthrottle_tracked_keys", "Keys held in memory", value=stats.tracked_keys
        )
        yield GaugeMetricFamily(
            "alertthrottle_open_incidents",
            "Incidents open now",
            value=len(adapter.book.open_incidents()),
        )
        yield GaugeMetricFamily(
            "alertthrottle_event_time_seconds",
            "The policy's clock (newest event time)",
            value=adapter.policy.clock or 0,
        )
        yield CounterMetricFamily(
            "alertthrottle_forwarded",
            "Delivered alerts accepted by the sink",
            value=adapter.forwarded,
        )
        yield CounterMetricFamily(
            "alertthrottle_forward_failures",
            "Delivered alerts the sink refused (dead letters)",
            value=adapter.forward_failures,
        )
        yield CounterMetricFamily(
            "alertthrottle_refused",
            "Messages refused (bad XML, bad or late alert)",
            value=adapter.refused,
        )
        yield CounterMetricFamily(
            "alertthrottle_snapshots", "Snapshots saved by this process", value=adapter.snapshots
        )


async def serve(args: argparse.Namespace) -> None:
    spec = load_policy(args.policy) if args.policy else builtin_policy(args.builtin)
    sink: Sink = (
        HttpSink(args.sink, Path(args.dead_letters))
        if args.sink.startswith(("http://", "https://"))
        else JsonlSink(Path(args.sink))
    )
    adapter = Adapter(spec, Path(args.state), sink, args.incidents)
    runner = web.AppRunner(adapter.app(), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def snapshots() -> None:
        # A schedule, not a clock for the policy: asyncio's monotonic timer.
        while True:
            await asyncio.sleep(args.snapshot_every)
            adapter.save()

    schedule = asyncio.create_task(snapshots())
    host, port = runner.addresses[0][:2]
    print(json.dumps({"listening": f"http://{host}:{port}"}), flush=True)
    await stop.wait()
    schedule.cancel()
    await runner.cleanup()  # stop accepting, let requests in flight finish
    adapter.save()
    await sink.close()
    log.info("stopped after %d alerts; state saved to %s", adapter.policy.stats.total, args.state)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--policy", help="a policy file (TOML); default: --builtin")
    parser.add_argument("--builtin", default="dcc-like", help="a built-in policy by name")
    parser.add_argument("--state", required=True, help="the snapshot file (restored on start)")
    parser.add_argument("--snapshot-every", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--sink", required=True, help="a .jsonl file, or an http(s):// URL")
    parser.add_argument("--dead-letters", default="dead-letters.jsonl")
    parser.add_argument("--event-log", help="JSON Lines file for events (default: stderr)")
    parser.add_argument("--incidents", default="per-episode", help="IncidentBook strategy")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    if args.event_log:
        handler = logging.FileHandler(args.event_log, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        event_log.addHandler(handler)
        event_log.propagate = False
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
