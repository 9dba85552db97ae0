"""DigestBuilder: one e-mail per recipient and day, accounting for every episode of the day."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import smtplib
import socket
from datetime import UTC, date
from email.message import EmailMessage
from typing import Any

import attrs
import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import DAY, DEVICES, run, traffic

from alertthrottle import (
    Alert,
    DigestBuilder,
    EventError,
    PolicyError,
    ThrottlingEnded,
    ThrottlingStarted,
)


def attachment_rows(message: EmailMessage) -> list[dict[str, str]]:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "text/csv"
    return list(csv.DictReader(io.StringIO(part.get_content())))


@settings(max_examples=120, deadline=None)
@given(traffic(), st.sampled_from([(), ("DNO-A",), ("SUP-B",)]), st.booleans())
def test_digests_account_for_every_episode_of_the_day(
    alerts: list[Alert], opted_out: tuple[str, ...], cut_short: bool
) -> None:
    events = run(alerts)
    if cut_short:
        # Build while the last episodes may still be running.
        events = events[: len(events) * 2 // 3]
    starts = [e for e in events if isinstance(e, ThrottlingStarted)]
    ends = {e.sequence_id: e for e in events if isinstance(e, ThrottlingEnded)}
    addresses = {"DNO-A": "alerts@dno-a.example", "SUP-B": "SUP B <ops@sup-b.example>"}
    builder = DigestBuilder("throttle@dsp.example", opt_out=opted_out, addresses=addresses)
    builder.add_all(events)
    builder._check()
    for recipient in ("DNO-A", "SUP-B"):
        mine = [e for e in starts if recipient in e.recipients and recipient not in opted_out]
        seen: list[int] = []
        for day in builder.days():
            message = builder.build(day, recipient)
            want = [e for e in mine if e.at // DAY == (day - date(1970, 1, 1)).days]
            if message is None:
                assert want == []
                continue
            assert message["To"] == addresses[recipient]
            assert message["X-Alertthrottle-Recipient"] == recipient
            assert message["X-Alertthrottle-Day"] == str(day)
            rows = attachment_rows(message)
            assert [int(r["sequence_id"]) for r in rows] == [e.sequence_id for e in want]
            held = 0
            for row, start in zip(rows, want, strict=True):
                assert (row["device_id"], int(row["code"], 16)) == (start.device_id, start.code)
                end = ends.get(start.sequence_id)
                assert row["state"] == ("open" if end is None else "ended")
                if end is not None:
                    assert int(row["throttled_count"]) == end.throttled_count
                    held += end.throttled_count
            assert f"{held} alert(s) held back" in message["Subject"]
            assert f"{len(rows)} throttling episode(s)" in message.get_body().get_content()
            seen += [int(r["sequence_id"]) for r in rows]
        # Every episode of the recipient's, in exactly one digest.
        assert sorted(seen) == [e.sequence_id for e in mine]
    assert "(unrouted)" not in {r for day in builder.days() for r in builder.recipients(day)}


def _storm(device: str, start: int, recipients: tuple[str, ...]) -> list[Alert]:
    return [Alert(start + i, device, 0x8014, recipients) for i in range(6)]


def _day_of_storms() -> list[Any]:
    alerts = sorted(
        _storm(DEVICES[0], 3600, ("DNO",))
        + _storm(DEVICES[1], 7200, ("DNO", "SUP"))
        + _storm(DEVICES[2], DAY + 60, ("SUP",)),
        key=lambda a: a.timestamp,
    )
    return run(alerts)


def test_opt_in_and_opt_out_and_addresses() -> None:
    builder = DigestBuilder(
        "throttle@dsp.example",
        default_opt_in=False,
        opt_in={"DNO"},
        addresses={"DNO": "alerts@dno.example"},
    )
    builder.add_all(_day_of_storms())
    assert builder.days() == [date(1970, 1, 1)]  # SUP's episodes are not kept at all
    assert builder.recipients("1970-01-01") == ["DNO"]
    assert builder.build("1970-01-01", "SUP") is None
    (message,) = builder.build_day(date(1970, 1, 1)).values()
    assert message["To"] == "alerts@dno.example"
    assert message["From"] == "throttle@dsp.example"
    assert [r["device_id"] for r in attachment_rows(message)] == DEVICES[:2]
    body = message.get_body().get_content()
    assert "2 throttling episode(s) on 2 device(s); 8 alert(s) held back" in body
    assert "  8014  2 episode(s), 8 held back" in body

    everyone = DigestBuilder("t@dsp.example", opt_out=["DNO"])
    everyone.add_all(_day_of_storms())
    assert [everyone.recipients(d) for d in everyone.days()] == [["SUP"], ["SUP"]]
    assert everyone.wants("anyone") and not everyone.wants("DNO")


def test_route_and_forget() -> None:
    builder = DigestBuilder("t@dsp.example", route=lambda started: ["ops"])
    events = _day_of_storms()
    builder.add_all(events[:2])  # the first episode starts and ends
    builder.forget("1970-01-01")
    builder.add_all(e for e in events[2:] if isinstance(e, ThrottlingEnded))
    assert builder.days() == []
    with pytest.raises(EventError):
        builder.add_all(e for e in events[2:] if isinstance(e, ThrottlingStarted))


def test_bad_options_and_streams() -> None:
    with pytest.raises(PolicyError) as info:
        DigestBuilder("")
    assert info.value.field == "sender"
    with pytest.raises(PolicyError) as info:
        DigestBuilder("t@x", opt_in=["A"], opt_out=["A"])
    assert info.value.field == "opt_out"
    with pytest.raises(PolicyError) as info:
        DigestBuilder("t@x", opt_out="A")
    assert info.value.field == "opt_out"
    with pytest.raises(PolicyError) as info:
        DigestBuilder("t@x", default_opt_in=1)  # type: ignore[arg-type]
    assert info.value.field == "default_opt_in"
    builder = DigestBuilder("t@x")
    with pytest.raises(PolicyError) as info:
        builder.build("yesterday", "A")
    assert info.value.field == "day"
    start = next(e for e in _day_of_storms() if isinstance(e, ThrottlingStarted))
    builder.add(start)
    with pytest.raises(EventError):
        builder.add(start)
    with pytest.raises(EventError):
        builder.add(object())  # type: ignore[arg-type]


class _Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_digest_sent_with_smtplib_arrives_intact() -> None:
    builder = DigestBuilder("throttle@dsp.example", addresses={"DNO": "alerts@dno.example"})
    builder.add_all(_day_of_storms())
    message = builder.build("1970-01-01", "DNO")
    assert message is not None
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), ready_timeout=5)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", controller.port, timeout=5) as smtp:
            refused = smtp.send_message(message)
    finally:
        controller.stop()
    assert refused == {}
    ((mail_from, rcpt_tos, content),) = inbox.received
    assert (mail_from, rcpt_tos) == ("throttle@dsp.example", ["alerts@dno.example"])
    arrived = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(arrived, EmailMessage)
    assert arrived["Subject"] == message["Subject"]
    assert attachment_rows(arrived) == attachment_rows(message)
    assert len(attachment_rows(arrived)) == 2
    # The server is gone: nothing left listening.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", controller.port), 1):
        pass


# -- hostile recipients, senders and cells ----------------------------------------------------

_INJECTIONS = ["DNO\r\nBcc: evil@y.example", "DNO\nX: y", "DNO\x00", "DNO\x1b[31m", "DNO\t"]


@pytest.mark.parametrize("bad", _INJECTIONS)
def test_control_characters_are_refused_where_they_come_in(bad: str) -> None:
    for options, field in (
        ({"sender": bad + "@x.example"}, "sender"),
        ({"subject_prefix": bad}, "subject_prefix"),
        ({"addresses": {bad: "a@x.example"}}, "addresses"),
        ({"addresses": {"DNO": "a@x.example" + bad[3:]}}, "addresses.DNO"),
        ({"opt_in": [bad]}, "opt_in"),
        ({"opt_out": [bad]}, "opt_out"),
    ):
        arguments: dict[str, Any] = {"sender": "t@x.example", **options}
        with pytest.raises(PolicyError) as info:
            DigestBuilder(arguments.pop("sender"), **arguments)
        assert info.value.field == field
    builder = DigestBuilder("t@x.example")
    storm = run(_storm(DEVICES[0], 0, ("ops@dno.example", bad)))
    start = next(e for e in storm if isinstance(e, ThrottlingStarted))
    with pytest.raises(EventError) as error:
        builder.add(start)
    assert error.value.field == "recipients" and error.value.value == bad
    assert builder.days() == []  # nothing of the event was kept
    routed = DigestBuilder("t@x.example", route=lambda event: ["ops@dno.example", bad])
    with pytest.raises(EventError):
        routed.add(start)
    assert routed.days() == []


@pytest.mark.parametrize(
    "sender", ["a@b@c", "ops@x.example, evil@y.example", "nobody", "undisclosed:;", 7]
)
def test_the_sender_and_mapped_addresses_are_one_address_each(sender: Any) -> None:
    with pytest.raises(PolicyError) as info:
        DigestBuilder(sender)
    assert info.value.field == "sender"
    with pytest.raises(PolicyError) as info:
        DigestBuilder("Alert throttling <t@x.example>", addresses={"DNO": sender})
    assert info.value.field == "addresses.DNO"


def test_an_unusable_recipient_is_skipped_and_reported_and_the_others_get_theirs() -> None:
    recipients = (
        "ops@dno.example",
        "ops@x.example, evil@y.example",
        '"ops@x" <evil@y.example>',
        "SUP",
        "mapped",
    )
    builder = DigestBuilder("t@x.example", addresses={"mapped": "Mapped <m@sup.example>"})
    builder.add_all(run(_storm(DEVICES[0], 0, recipients)))
    batch = builder.build_day("1970-01-01")
    assert sorted(batch) == ["mapped", "ops@dno.example"]
    assert batch["ops@dno.example"]["To"] == "ops@dno.example"
    assert batch["mapped"]["To"] == "Mapped <m@sup.example>"
    assert sorted(batch.skipped) == sorted(recipients[1:4])
    assert all("plain e-mail address" in why for why in batch.skipped.values())
    with pytest.raises(PolicyError) as info:
        builder.build("1970-01-01", "SUP")
    assert info.value.field == "recipient"
    with pytest.raises(PolicyError):
        builder.address_of('"ops@x" <evil@y.example>')


def test_attachment_cells_cannot_run_as_formulas() -> None:
    builder = DigestBuilder("t@x.example", tz=UTC)
    builder.add_all(run(_storm(DEVICES[0], 0, ("ops@dno.example",))))
    builder._rows[1] = attrs.evolve(builder._rows[1], device_id="=HYPERLINK(1)")
    (message,) = builder.build_day("1970-01-01").values()
    (part,) = list(message.iter_attachments())
    text = part.get_content()
    assert "'=HYPERLINK(1)" in text
    (row,) = attachment_rows(message)
    assert row["device_id"] == "'=HYPERLINK(1)"
