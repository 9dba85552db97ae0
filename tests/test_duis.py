"""alertthrottle.duis: reading DUIS alerts, writing throttle metadata, refusing hostile XML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from duis_helpers import DEVICE, USER, dcc_alert, device_alert, message_children
from hypothesis import given
from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    AlertThrottleError,
    DuisError,
    InvalidAlertError,
    PolicyConfig,
    Threshold,
    ThrottleMetadata,
    ThrottlePolicy,
    Verdict,
    parse_code,
)
from alertthrottle.duis import MAX_XML_BYTES, DuisAlert, read_alert, write_alert

NOON = datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
SEQ_COUNT = (
    "\n      <sr:ThrottledAlertSequenceId>{s}</sr:ThrottledAlertSequenceId>"
    "\n      <sr:ThrottledAlertCount>{n}</sr:ThrottledAlertCount>"
)


# -- reading -----------------------------------------------------------------------------


def test_a_device_alert_reads_as_the_alert_to_feed():
    message = read_alert(device_alert("8f84").encode())
    assert message.alert == Alert(NOON + 0.25, DEVICE, 0x8F84, recipients=(USER,))
    assert message.kind == "device" and message.alert_code == "8f84"
    assert message.response_id == f"{DEVICE}:{USER}:1001"
    assert message.throttled_count is None and message.throttled_sequence_id is None
    assert not message.signed
    assert read_alert(device_alert("8f84")) == message  # str reads as its UTF-8 bytes


def test_a_dcc_alert_reads_under_its_dcc_code():
    message = read_alert(dcc_alert("AD1"))
    assert message.kind == "dcc" and message.alert_code == "AD1"
    assert message.alert.code == parse_code("DCC:AD1") != parse_code("AD1")
    assert message.alert.code_hex == "DCC:AD1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", NOON),
        ("2024-05-01T12:00:00", NOON),  # no offset: DUIS times are UTC
        ("2024-05-01T13:00:00+01:00", NOON),
        ("2024-05-01T12:00:00.1234567Z", NOON + 0.123456),
    ],
)
def test_the_timestamp_is_the_response_date_time(text, expected):
    assert read_alert(device_alert(when=text)).alert.timestamp == pytest.approx(expected)


def test_a_caller_supplied_timestamp_and_device_win():
    message = read_alert(device_alert(), timestamp=5, device_id="00:0d:6f:00:0a:bc:12:34")
    assert message.alert.timestamp == 5
    assert message.alert.device_id == "00-0D-6F-00-0A-BC-12-34"
    with pytest.raises(InvalidAlertError):  # the caller's own bad value keeps its own error
        read_alert(device_alert(), timestamp=-1)


def test_existing_throttle_elements_are_read():
    message = read_alert(device_alert(throttle=SEQ_COUNT.format(s=4, n=12)))
    assert (message.throttled_sequence_id, message.throttled_count) == (4, 12)


# -- writing -----------------------------------------------------------------------------


def test_metadata_is_inserted_after_the_code_in_schema_order_and_nothing_else_changes():
    xml = device_alert()
    out = write_alert(read_alert(xml), ThrottleMetadata(throttled_count=3, sequence_id=7))
    assert message_children(out) == [
        ("AlertCode", "8014"),
        ("ThrottledAlertSequenceId", "7"),
        ("ThrottledAlertCount", "3"),
        ("GBCSPayload", "3QAAAAAAAE0RAAAAAN8JAwAAAAAAAAfjCLwzrP=="),
    ]
    # Exactly two lines were added, indented as the code is; every other byte is as it was.
    assert out.decode() == xml.replace(
        "<sr:AlertCode>8014</sr:AlertCode>",
        "<sr:AlertCode>8014</sr:AlertCode>" + SEQ_COUNT.format(s=7, n=3),
    )
    again = read_alert(out)
    assert (again.throttled_sequence_id, again.throttled_count) == (7, 3)
    assert again.alert == read_alert(xml).alert


def test_nothing_throttled_leaves_the_message_as_it_was():
    xml = device_alert(throttle=SEQ_COUNT.format(s=1, n=2)).encode()
    assert write_alert(read_alert(xml), ThrottleMetadata()) == xml


@pytest.mark.parametrize(
    "throttle",
    [
        SEQ_COUNT.format(s=4, n=12),
        "\n      <sr:ThrottledAlertCount>12</sr:ThrottledAlertCount>",
        "\n      <sr:ThrottledAlertSequenceId>4</sr:ThrottledAlertSequenceId>",
        # out of order, and an empty-element spelling
        "\n      <sr:ThrottledAlertCount>12</sr:ThrottledAlertCount>"
        "\n      <sr:ThrottledAlertSequenceId >4</sr:ThrottledAlertSequenceId >",
    ],
)
def test_existing_throttle_elements_are_replaced_never_duplicated(throttle):
    out = write_alert(
        read_alert(device_alert(throttle=throttle)),
        ThrottleMetadata(throttled_count=9, sequence_id=5),
    )
    assert out.decode() == device_alert(throttle=SEQ_COUNT.format(s=5, n=9))


def test_a_dcc_alert_and_a_default_namespace_get_the_elements_under_the_right_prefix():
    out = write_alert(read_alert(dcc_alert()), ThrottleMetadata(throttled_count=2, sequence_id=1))
    assert [name for name, _ in message_children(out)] == [
        "DCCAlertCode",
        "ThrottledAlertSequenceId",
        "ThrottledAlertCount",
        "DCCAlert",
    ]
    assert b"<sr:DCCAlertCode>N24</sr:DCCAlertCode><sr:ThrottledAlertSequenceId>1<" in out
    plain = dcc_alert().replace("sr:", "").replace("xmlns:sr=", "xmlns=")
    out = write_alert(read_alert(plain), ThrottleMetadata(throttled_count=2, sequence_id=1))
    assert b"</DCCAlertCode><ThrottledAlertSequenceId>1</ThrottledAlertSequenceId>" in out


SIGNATURE = """
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo><ds:Reference URI=""><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>
    </ds:SignedInfo><ds:SignatureValue>BBBB</ds:SignatureValue>
  </ds:Signature>"""


def test_a_signature_is_kept_byte_for_byte_and_reported():
    xml = device_alert(signature=SIGNATURE)
    message = read_alert(xml)
    assert message.signed
    out = write_alert(message, ThrottleMetadata(throttled_count=1, sequence_id=1)).decode()
    assert SIGNATURE in out  # kept; it no longer verifies over the changed body
    assert len(message_children(out)) == 4


@given(
    before=st.one_of(st.none(), st.tuples(st.integers(1, 10**6), st.integers(0, 10**6))),
    after=st.integers(0, 10**6),
    sequence_id=st.integers(1, 10**9),
    dcc=st.booleans(),
)
def test_write_then_read_gives_the_metadata_and_keeps_the_rest(before, after, sequence_id, dcc):
    throttle = "" if before is None else SEQ_COUNT.format(s=before[0], n=before[1])
    xml = dcc_alert(throttle=throttle) if dcc else device_alert(throttle=throttle)
    message = read_alert(xml)
    metadata = ThrottleMetadata(throttled_count=after, sequence_id=sequence_id if after else None)
    out = write_alert(message, metadata)
    again = read_alert(out)
    assert again.alert == message.alert
    if after:
        assert (again.throttled_sequence_id, again.throttled_count) == (sequence_id, after)
    else:
        assert out == message.xml
    # Removing the throttle elements from both leaves the same bytes.
    strip = re.compile(rb"\s*<sr:Throttled\w+>\d+</sr:Throttled\w+>")
    assert strip.sub(b"", out) == strip.sub(b"", message.xml)


def test_write_alert_refuses_what_is_not_a_message_or_metadata():
    with pytest.raises(DuisError) as info:
        write_alert("<xml/>", ThrottleMetadata())  # type: ignore[arg-type]
    assert info.value.field == "message"
    with pytest.raises(DuisError) as info:
        write_alert(read_alert(device_alert()), {"ThrottledAlertCount": 1})  # type: ignore[arg-type]
    assert info.value.field == "metadata"


def test_an_adapter_loop_feeds_reads_and_writes():
    policy = ThrottlePolicy(PolicyConfig(default=Threshold(limit=2, period=60)))
    sent = []
    for second in range(5):
        message = read_alert(device_alert(when=f"2024-05-01T12:00:{second:02}Z"))
        decision = policy.feed(message.alert)
        if decision.verdict is not Verdict.THROTTLE:
            sent.append(write_alert(message, decision.metadata))
    sent.append(
        write_alert(
            read_alert(device_alert(when="2024-05-01T12:05:00Z")),
            policy.feed(read_alert(device_alert(when="2024-05-01T12:05:00Z")).alert).metadata,
        )
    )
    assert len(sent) == 3
    last = read_alert(sent[-1])
    assert (last.throttled_sequence_id, last.throttled_count) == (1, 3)


# -- refusing ------------------------------------------------------------------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">&lol2;</sr:Response>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">&x;</sr:Response>"""


@pytest.mark.parametrize(
    ("xml", "field", "words"),
    [
        (LAUGHS, "xml", "DTD"),
        (EXTERNAL, "xml", "DTD"),
        ('<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>', "xml", "DTD"),
        ("<sr:Response", "xml", "well-formed"),
        ("", "xml", "well-formed"),
        (b"\xff\xfe<\x00r\x00/\x00>\x00", "xml", "UTF-8"),
        ("<r>&undefined;</r>", "xml", "well-formed"),
        ("<Response/>", "xml", "Response in"),
        (
            device_alert().replace("<sr:Header>", "<sr:Hdr>").replace("</sr:Header>", "</sr:Hdr>"),
            "Header",
            "missing",
        ),
        (device_alert().replace("DeviceAlertMessage", "ResponseMessage"), "Body", "one"),
        (
            device_alert().replace(f"{DEVICE}:{USER}:1001", "nonsense"),
            "Header.ResponseID",
            "originator:",
        ),
        (device_alert(originator="not-a-device"), "Header.ResponseID", "EUI-64"),
        (device_alert(when="yesterday"), "Header.ResponseDateTime", "xs:dateTime"),
        (device_alert(when="2024-13-01T00:00:00Z"), "Header.ResponseDateTime", "valid"),
        (device_alert(when="9999-12-31T23:59:59-01:00"), "Header.ResponseDateTime", "valid"),
        (device_alert("80145"), "Body.DeviceAlertMessage.AlertCode", "4 hexadecimal"),
        (device_alert("DCC:N24"), "Body.DeviceAlertMessage.AlertCode", "4 hexadecimal"),
        (device_alert(""), "Body.DeviceAlertMessage.AlertCode", "empty"),
        (dcc_alert("N-24"), "Body.DCCAlertMessage.DCCAlertCode", "letters or digits"),
        (
            device_alert(throttle="<sr:ThrottledAlertCount>-1</sr:ThrottledAlertCount>"),
            "Body.DeviceAlertMessage.ThrottledAlertCount",
            "integer",
        ),
        (
            device_alert(throttle="<sr:ThrottledAlertSequenceId>0</sr:ThrottledAlertSequenceId>"),
            "Body.DeviceAlertMessage.ThrottledAlertSequenceId",
            "integer >= 1",
        ),
        (
            device_alert(throttle=SEQ_COUNT.format(s=1, n=1) * 2),
            "Body.DeviceAlertMessage.ThrottledAlertSequenceId",
            "more than once",
        ),
        (
            device_alert().replace("<sr:AlertCode>8014</sr:AlertCode>", ""),
            "Body.DeviceAlertMessage",
            "must start with AlertCode",
        ),
    ],
)
def test_malformed_or_hostile_xml_raises_duis_error_naming_the_part(xml, field, words):
    with pytest.raises(DuisError) as info:
        read_alert(xml)
    assert info.value.field == field
    assert words in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AlertThrottleError)


def test_size_is_bounded():
    big = device_alert(payload="A" * MAX_XML_BYTES)
    with pytest.raises(DuisError, match="at most"):
        read_alert(big)
    assert read_alert(big, max_bytes=2 * MAX_XML_BYTES).alert.code == 0x8014
    with pytest.raises(DuisError, match="at most 100 bytes"):
        read_alert(device_alert(), max_bytes=100)


def test_wrong_types_are_refused():
    with pytest.raises(DuisError, match="bytes or str"):
        read_alert(12)  # type: ignore[arg-type]


def test_the_message_is_a_value():
    assert isinstance(read_alert(device_alert()), DuisAlert)
    assert read_alert(device_alert()) == read_alert(device_alert())
    assert read_alert(device_alert()) != read_alert(device_alert("8015"))


@pytest.mark.parametrize(
    "variant",
    [
        lambda xml: "\ufeff" + xml,  # a byte order mark
        lambda xml: xml.replace("<sr:AlertCode>", "<!-- code --><sr:AlertCode >"),
        lambda xml: xml.replace("<sr:AlertCode>", '<sr:AlertCode note="a>b/>c">'),
        lambda xml: xml.replace("3QAAAAAAAE0RAAAAAN8JAwAAAAAAAAfjCLwzrP==", "<![CDATA[3QAA]]>"),
        lambda xml: xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
    ],
)
def test_writing_finds_its_place_in_any_well_formed_spelling(variant):
    xml = variant(device_alert()).encode("utf-8")
    out = write_alert(read_alert(xml), ThrottleMetadata(throttled_count=2, sequence_id=3))
    names = [name for name, _ in message_children(out)]
    assert names == ["AlertCode", "ThrottledAlertSequenceId", "ThrottledAlertCount", "GBCSPayload"]
    strip = re.compile(rb"\s*<sr:Throttled\w+>\d+</sr:Throttled\w+>")
    assert strip.sub(b"", out) == strip.sub(b"", xml)
