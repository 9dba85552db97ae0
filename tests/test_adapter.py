"""examples/adapter: the asyncio DUIS service, as real processes on 127.0.0.1.

Stopped with SIGTERM and started again, it decides exactly as one uninterrupted
ThrottlePolicy; killed with SIGKILL, it restarts from its last snapshot and
goes on as a policy that saw the alerts up to that snapshot.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from duis_helpers import dcc_alert, device_alert
from prometheus_client.parser import text_string_to_metric_families

from alertthrottle import ThrottlePolicy, parse_policy
from alertthrottle.duis import read_alert

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "adapter" / "adapter.py"
POLICY = """
name = "adapter-test"
exempt_codes = ["8F35"]

[default]
limit = 3
period = 60
resume_below = 2

[per_code."DCC:N24"]
limit = 2
period = 30
"""
DEVICES = ["00-DB-12-34-56-78-90-A0", "00-DB-12-34-56-78-90-A1"]
START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _load_adapter() -> Any:
    spec = importlib.util.spec_from_file_location("adapter_example", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


adapter = _load_adapter()


def traffic(count: int, offset: int = 0) -> list[bytes]:
    """A storm on two devices: 8014 bursts, DCC alert N24, exempt 8F35, a gap, a late alert."""
    messages = []
    for i in range(offset, offset + count):
        seconds = i * 4 + (300 if i % 40 >= 30 else 0) + 600 * (i // 40)
        if i % 17 == 16:
            seconds -= 90  # older than the clock: late, clamped
        when = (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        kind = i % 5
        if kind == 2:
            messages.append(dcc_alert("N24", when=when).encode())
        else:
            code = "8F35" if kind == 3 else "8014"
            messages.append(device_alert(code, when=when, originator=DEVICES[i % 2]).encode())
    return messages


class Service:
    """One adapter process; stopped (SIGKILL) at the end of the test whatever happens."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        (tmp / "policy.toml").write_text(POLICY)
        self.sink = tmp / "delivered.jsonl"
        self.state = tmp / "state.json"
        self.events = tmp / "events.jsonl"
        command = [
            sys.executable, str(SCRIPT), "--port", "0", "--policy", str(tmp / "policy.toml"),
            "--state", str(self.state), "--sink", str(self.sink),
            "--event-log", str(self.events), *extra,
        ]  # fmt: skip
        self.stderr = (tmp / "stderr.log").open("ab")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.stderr)
        self.url = self._listening()

    def _listening(self) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                self.process.kill()
                pytest.fail("the adapter did not start within 60 s")
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.flush()
            pytest.fail(f"the adapter exited: {Path(self.stderr.name).read_text()}")
        return str(json.loads(line)["listening"])

    def request(self, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path, data=body, method="POST" if body else "GET"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read()
        return data.decode() if path == "/metrics" else json.loads(data)

    def post_all(self, messages: list[bytes]) -> list[dict[str, Any]]:
        return [self.request("/alerts", xml) for xml in messages]

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.stderr.close()
        return code


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Any]:
    started: list[Service] = []

    def start(*extra: str) -> Service:
        service = Service(tmp_path, *extra)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


def reference(messages: list[bytes]) -> tuple[ThrottlePolicy, list[dict[str, Any]]]:
    policy = parse_policy(POLICY).build()
    return policy, [adapter.decision_json(policy.feed(read_alert(xml).alert)) for xml in messages]


def burst(seconds: int, count: int) -> list[bytes]:
    """``count`` 8014 alerts from one device, one a second from ``seconds`` after START."""
    return [
        device_alert(
            when=(START + timedelta(seconds=seconds + i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ).encode()
        for i in range(count)
    ]


def test_sigterm_and_restart_decide_as_one_uninterrupted_policy(services):
    messages = traffic(80) + burst(10_000, 6)  # ends in a storm: an episode still open
    whole, expected = reference(messages)
    assert {d["verdict"] for d in expected} == {"DELIVER", "THROTTLE", "EXEMPT"}
    assert any(d["late"] for d in expected) and any(d["throttled_count"] for d in expected)

    first = services("--snapshot-every", "3600")
    got = first.post_all(messages[:45])
    assert first.stop(signal.SIGTERM) == 0  # the state is saved on the way out
    second = services("--snapshot-every", "3600")
    assert second.request("/healthz")["total"] == 45
    got += second.post_all(messages[45:])
    assert got == expected

    # Delivered alerts reached the sink once each, with their DUIS metadata.
    lines = [json.loads(line) for line in second.sink.read_text().splitlines()]
    delivered = [d for d in expected if d["verdict"] != "THROTTLE"]
    assert len(lines) == len(delivered)
    for line, decision in zip(lines, delivered, strict=True):
        written = read_alert(line["xml"])
        assert written.throttled_count == (decision["throttled_count"] or None)
        assert written.throttled_sequence_id == decision["sequence_id"]
        assert line.get("ThrottledAlertCount") == (decision["throttled_count"] or None)

    # Events went to the event log, across the restart, in order.
    logged = [json.loads(line) for line in second.events.read_text().splitlines()]
    assert [e for e in logged if e["type"] != "IncidentUpdate"] == [
        e for d in expected for e in d["events"]
    ]
    assert any(e["type"] == "IncidentUpdate" for e in logged)

    # The metrics are the policy's totals (restored with the state).
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(second.request("/metrics"))
        for sample in family.samples
    }
    stats = whole.stats
    assert samples["alertthrottle_alerts_total", (("verdict", "throttled"),)] == stats.throttled
    assert samples["alertthrottle_alerts_total", (("verdict", "delivered"),)] == stats.delivered
    assert samples["alertthrottle_alerts_total", (("verdict", "exempt"),)] == stats.exempt
    assert samples["alertthrottle_late_alerts_total", ()] == stats.late
    assert samples["alertthrottle_open_episodes", ()] == stats.open_episodes
    assert samples["alertthrottle_event_time_seconds", ()] == whole.clock
    # Forwarded is this process's own count: the deliveries since the restart.
    assert samples["alertthrottle_forwarded_total", ()] == sum(
        1 for d in expected[45:] if d["verdict"] != "THROTTLE"
    )

    # An event-time watermark from upstream closes what is due; bad XML is refused, not fatal.
    later = (whole.clock or 0) + 3600
    ends = second.request("/advance", json.dumps({"now": later}).encode())["events"]
    assert ends == [adapter.event_json(e) for e in whole.advance(later)]
    assert ends and all(e["type"] == "ThrottlingEnded" for e in ends)
    with pytest.raises(urllib.error.HTTPError) as info:
        second.request("/alerts", b"<!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>")
    assert info.value.code == 400 and json.loads(info.value.read())["field"] == "xml"
    assert second.stop(signal.SIGTERM) == 0


def test_after_sigkill_it_restarts_from_the_last_snapshot(services):
    messages = traffic(70)
    first = services("--snapshot-every", "0.2")
    first.post_all(messages[:30])
    deadline = time.monotonic() + 30
    while not (first.state.exists() and ThrottlePolicy.load(first.state).stats.total == 30):
        assert time.monotonic() < deadline, "no scheduled snapshot within 30 s"
        time.sleep(0.05)
    first.post_all(messages[30:40])  # decided, perhaps not yet saved
    first.stop(signal.SIGKILL)

    saved = ThrottlePolicy.load(first.state).stats.total
    assert 30 <= saved <= 40  # what was decided after the last snapshot is lost
    second = services("--snapshot-every", "3600")
    assert second.request("/healthz")["total"] == saved
    got = second.post_all(messages[40:])
    _, expected = reference(messages[:saved] + messages[40:])
    assert got == expected[saved:]
    assert second.stop(signal.SIGTERM) == 0


def test_an_http_sink_gets_the_xml_and_what_it_refuses_becomes_a_dead_letter(services, tmp_path):
    received: list[bytes] = []

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200 if len(received) < 3 else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dead = tmp_path / "dead.jsonl"
        service = services(
            "--sink", f"http://127.0.0.1:{server.server_address[1]}/duis",
            "--dead-letters", str(dead),
        )  # fmt: skip
        decisions = service.post_all(burst(0, 5))  # limit 3: three delivered, two throttled
        assert [d["verdict"] for d in decisions] == ["DELIVER"] * 3 + ["THROTTLE"] * 2
        assert [read_alert(xml).alert for xml in received] == [
            read_alert(xml).alert for xml in burst(0, 3)
        ]
        # The third delivery was refused (503): kept as a dead letter and counted.
        (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
        assert read_alert(letter["xml"]).alert == read_alert(burst(0, 3)[2]).alert
        metrics = service.request("/metrics")
        assert "alertthrottle_forward_failures_total 1.0" in metrics
        assert "alertthrottle_forwarded_total 2.0" in metrics
        assert service.stop(signal.SIGTERM) == 0
    finally:
        server.shutdown()
        server.server_close()
