"""Interop with Smart DCC's own DUIS parser (``@smartdcc/duis-parser``, npm, pinned in
tests/interop/package-lock.json and installed there with ``npm ci``).

Both ways: the XML ``write_alert`` produces parses with their ``parseDuis`` to the
same code, counts and payload; the XML their ``constructDuis`` builds reads with
``read_alert`` into the same ``Alert``. Their parser returns counts as strings and
does not check element order, so values are compared and the order is checked here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from duis_helpers import DEVICE, USER, dcc_alert, device_alert, message_children
from hypothesis import given, settings
from hypothesis import strategies as st

from alertthrottle import Alert, ThrottleMetadata, parse_code
from alertthrottle.duis import read_alert, write_alert

INTEROP = Path(__file__).parent / "interop"


@pytest.fixture(scope="session")
def duis_parser() -> Any:
    """A function sending a batch of requests to tests/interop/duis.js (one node process)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "node and npm are needed for the DUIS interop tests (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    marker = INTEROP / "node_modules" / ".package-lock.json"
    lock = INTEROP / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INTEROP,
            check=True,
            timeout=300,
        )

    def run(requests: list[dict[str, Any]]) -> list[Any]:
        done = subprocess.run(
            [node, str(INTEROP / "duis.js")],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        results = json.loads(done.stdout)
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, errors
        return [r["result"] for r in results]

    return run


def test_the_pinned_parser_is_the_one_installed(duis_parser):
    package = json.loads(
        (INTEROP / "node_modules" / "@smartdcc" / "duis-parser" / "package.json").read_text()
    )
    assert package["version"] == "0.6.0"


def _body(parsed: dict[str, Any]) -> dict[str, Any]:
    (name,) = parsed["body"].keys()
    return dict(parsed["body"][name], _name=name)


CASES = [
    (device_alert(), ThrottleMetadata(throttled_count=3, sequence_id=7)),
    (device_alert("8F84"), ThrottleMetadata()),
    (
        device_alert(throttle="<sr:ThrottledAlertCount>99</sr:ThrottledAlertCount>"),
        ThrottleMetadata(throttled_count=12, sequence_id=2),
    ),
    (dcc_alert("N24"), ThrottleMetadata(throttled_count=1, sequence_id=1)),
    (dcc_alert("AD1"), ThrottleMetadata(throttled_count=250_000, sequence_id=31)),
]


def test_xml_we_write_parses_with_their_parser_to_the_same_values(duis_parser):
    written = [write_alert(read_alert(xml), metadata) for xml, metadata in CASES]
    parsed = duis_parser([{"op": "parse", "xml": out.decode()} for out in written])
    for (xml, metadata), out, theirs in zip(CASES, written, parsed, strict=True):
        ours = read_alert(xml)
        body = _body(theirs)
        header = theirs["header"]
        assert header["type"] == "response"
        assert header["responseId"]["originatorId"].upper() == ours.alert.device_id
        assert header["responseDateTime"] == ours.response_date_time
        if ours.kind == "device":
            assert body["_name"] == "DeviceAlertMessage"
            assert body["AlertCode"] == ours.alert_code
            assert parse_code(body["AlertCode"]) == ours.alert.code
            assert body["GBCSPayload"] == dict(message_children(xml))["GBCSPayload"]
        else:
            assert body["_name"] == "DCCAlertMessage"
            assert parse_code("DCC:" + body["DCCAlertCode"]) == ours.alert.code
            assert body["DCCAlert"] == {
                "UpdateHANDeviceLogResult": {
                    "UpdateHANDeviceLogServiceRequestID": f"{USER}:{DEVICE}:1660925173833"
                }
            }
        expected = metadata.to_duis() or {
            name: str(value)
            for name, value in (
                ("ThrottledAlertSequenceId", ours.throttled_sequence_id),
                ("ThrottledAlertCount", ours.throttled_count),
            )
            if value is not None
        }
        # Their parser gives the counts as strings (and checks no order: we do).
        got = {k: body[k] for k in ("ThrottledAlertSequenceId", "ThrottledAlertCount") if k in body}
        assert got == {k: str(v) for k, v in expected.items()}
        names = [name for name, _ in message_children(out)]
        assert names[0] in ("AlertCode", "DCCAlertCode")
        assert names[-1] in ("GBCSPayload", "DCCAlert")
        assert names[1:-1] == [
            k for k in ("ThrottledAlertSequenceId", "ThrottledAlertCount") if k in got
        ]


def _their_duis(case: dict[str, Any]) -> dict[str, Any]:
    """A SimplifiedDuisInput for constructDuis (their own JSON form of a response)."""
    kind, code, throttle, originator, when, counter = (
        case[k] for k in ("kind", "code", "throttle", "originator", "when", "counter")
    )
    if kind == "device":
        message: dict[str, Any] = {"AlertCode": code}
        message.update(throttle)
        message["GBCSPayload"] = "3QAAAAAAAE0R"
        body = {"DeviceAlertMessage": message}
    else:
        message = {"DCCAlertCode": code}
        message.update(throttle)
        message["DCCAlert"] = {"N24Detail": {"Reason": "log updated"}}
        body = {"DCCAlertMessage": message}
    return {
        "header": {
            "type": "response",
            "responseId": {"originatorId": originator, "targetId": USER, "counter": counter},
            "responseCode": "E0",
            "responseDateTime": when,
        },
        "body": body,
    }


eui64 = st.binary(min_size=8, max_size=8).map(lambda b: "-".join(f"{x:02x}" for x in b))
throttles = st.one_of(
    st.just({}),
    st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)).map(
        lambda p: {"ThrottledAlertSequenceId": p[0], "ThrottledAlertCount": p[1]}
    ),
)
kinds_and_codes = st.one_of(
    st.tuples(st.just("device"), st.integers(0, 0xFFFF).map(lambda c: f"{c:04X}")),
    st.tuples(st.just("dcc"), st.from_regex(r"[A-Z]{1,2}[0-9]{1,3}", fullmatch=True)),
)
cases = st.builds(
    lambda kind_code, **rest: {"kind": kind_code[0], "code": kind_code[1], **rest},
    kinds_and_codes,
    throttle=throttles,
    originator=eui64,
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    ),
    counter=st.integers(0, 2**53),
)


@settings(max_examples=3, deadline=None)
@given(st.lists(cases, min_size=1, max_size=25))
def test_xml_their_construct_duis_builds_reads_with_ours_into_the_same_alert(duis_parser, batch):
    built = duis_parser([{"op": "construct", "duis": _their_duis(c)} for c in batch])
    written = []
    for case, xml in zip(batch, built, strict=True):
        message = read_alert(xml)
        prefix = "" if case["kind"] == "device" else "DCC:"
        expected = Alert(
            timestamp=datetime.fromisoformat(case["when"]),
            device_id=case["originator"],
            code=prefix + case["code"],
            recipients=(USER,),
        )
        assert message.alert == expected
        assert message.kind == case["kind"] and message.alert_code == case["code"]
        assert message.throttled_sequence_id == case["throttle"].get("ThrottledAlertSequenceId")
        assert message.throttled_count == case["throttle"].get("ThrottledAlertCount")
        # What we write from their XML carries our metadata, in schema order...
        out = write_alert(message, ThrottleMetadata(throttled_count=4, sequence_id=9))
        names = [name for name, _ in message_children(out)]
        assert names[1:3] == ["ThrottledAlertSequenceId", "ThrottledAlertCount"]
        assert len(names) == 4
        written.append(out.decode())
    # ... and reads back with their parser.
    for case, theirs in zip(
        batch, duis_parser([{"op": "parse", "xml": x} for x in written]), strict=True
    ):
        body = _body(theirs)
        assert body["ThrottledAlertSequenceId"] == "9" and body["ThrottledAlertCount"] == "4"
        assert body.get("AlertCode", body.get("DCCAlertCode")) == case["code"]
