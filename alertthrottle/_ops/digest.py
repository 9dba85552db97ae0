"""Daily digests: one e-mail per recipient and day instead of one per episode.

Respondents feared "10k emails" from per-device notifications. A
:class:`DigestBuilder` consumes a policy's episode events and builds, for each
recipient who wants one, a single stdlib :class:`email.message.EmailMessage`
per day that summarises that day's episodes, with every episode in an attached
CSV. Sending is the adapter's business (``smtplib``, an API, a queue): the
library builds messages and never opens a connection.

An episode belongs to the day (in ``tz``) on which it started; a digest built
while some of its episodes are still running lists them as ``open``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage

import attrs

from .._core.alert import format_code
from .._core.errors import EventError, PolicyError
from .._core.events import Event, LevelChanged, ThrottlingEnded, ThrottlingStarted
from .._core.text import write_csv
from .._core.timefmt import day_of, instant_text
from .incidents import Router, route_recipients

__all__ = ["CSV_FIELDS", "DigestBatch", "DigestBuilder", "DigestRow"]

#: The columns of a digest's CSV attachment.
CSV_FIELDS = (
    "sequence_id",
    "device_id",
    "code",
    "started_at",
    "ended_at",
    "state",
    "throttled_count",
    "sampled_count",
    "window_count",
)
_TOP_DEVICES = 10
# C0 and C1 controls and DEL: a CR or LF in a header value would end the header,
# and none of them has a place in an identifier, an address or a subject.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEADERS = HeaderRegistry()


@attrs.frozen(slots=True, kw_only=True)
class DigestRow:
    """One episode as a digest reports it; the end fields are ``None`` while it runs."""

    sequence_id: int
    device_id: str
    code: int
    started_at: int | float
    window_count: int
    ended_at: int | float | None = None
    throttled_count: int | None = None
    sampled_count: int | None = None

    @property
    def state(self) -> str:
        """``"ended"`` or ``"open"``."""
        return "open" if self.ended_at is None else "ended"


def _text(name: str, value: object) -> str:
    if type(value) is not str or not value:
        raise PolicyError(name, value, "must be a non-empty str")
    if _CONTROL.search(value):
        raise PolicyError(name, value, "must not hold control characters (CR, LF, tab...)")
    return value


def _texts(name: str, values: object) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise PolicyError(name, values, "must be a set or list of recipients")
    return frozenset(_text(name, value) for value in values)


def _mailbox(name: str, value: object) -> str:
    """``value`` if it is one mailbox (``a@b.example`` or ``Name <a@b.example>``)."""
    text = _text(name, value)
    try:
        header = _HEADERS("To", text)
    except (HeaderParseError, MessageError, ValueError, IndexError):
        header = None
    addresses = header.addresses if isinstance(header, AddressHeader) else ()
    if (
        header is None
        or len(addresses) != 1
        or header.defects
        or not (addresses[0].username and addresses[0].domain)
    ):
        raise PolicyError(name, value, "must be exactly one e-mail address")
    return text


def plain_address(value: str) -> str | None:
    """Why ``value`` is not exactly one plain addr-spec (``local@domain``), or ``None``.

    An unmapped recipient id is used as an address only when this holds: a
    list (``a@x, b@y``) or a display name (``"a@x" <b@y>``) would send the
    digest elsewhere than the id says.
    """
    if _CONTROL.search(value):
        return "holds control characters"
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, MessageError, ValueError, IndexError):
        return "is not exactly one plain e-mail address (local@domain) and has no mapped address"
    if not (address.username and address.domain) or address.addr_spec != value:
        return "is not exactly one plain e-mail address (local@domain) and has no mapped address"
    return None


class DigestBatch(dict[str, EmailMessage]):
    """The digests of one day by recipient, and the recipients skipped with the reason.

    A recipient whose digest cannot be addressed (an unmapped id that is not
    one plain e-mail address) is in :attr:`skipped`, never in the mapping; the
    other recipients' digests are built all the same.
    """

    def __init__(self, messages: Mapping[str, EmailMessage], skipped: Mapping[str, str]) -> None:
        super().__init__(messages)
        #: Recipient -> why no digest was built for them.
        self.skipped: dict[str, str] = dict(skipped)


class DigestBuilder:
    """Collects episode events and builds one digest e-mail per recipient and day.

    ``sender`` is the From address. ``addresses`` maps recipient identifiers
    (the events' ``recipients``, or what ``route`` returns) to e-mail
    addresses; a recipient without an entry is used as the address itself
    only when it is exactly one plain address (``ops@dno.example``), and is
    otherwise skipped and reported (:class:`DigestBatch`). Identifiers,
    addresses, the sender and the subject prefix with control characters (CR,
    LF...) are refused where they come in.
    Whether a recipient gets digests: those in ``opt_in`` do, those in
    ``opt_out`` do not, and the rest follow ``default_opt_in``. Nothing is
    kept for recipients who opted out. ``tz`` sets the days (default UTC).
    """

    def __init__(
        self,
        sender: str,
        *,
        addresses: Mapping[str, str] | None = None,
        default_opt_in: bool = True,
        opt_in: Iterable[str] = (),
        opt_out: Iterable[str] = (),
        route: Router | None = None,
        tz: tzinfo = UTC,
        subject_prefix: str = "[alertthrottle]",
    ) -> None:
        self._sender = _mailbox("sender", sender)
        if addresses is None:
            addresses = {}
        if not isinstance(addresses, Mapping):
            raise PolicyError("addresses", addresses, "must map recipients to e-mail addresses")
        self._addresses = {
            _text("addresses", key): _mailbox(f"addresses.{key}", value)
            for key, value in addresses.items()
        }
        if type(default_opt_in) is not bool:
            raise PolicyError("default_opt_in", default_opt_in, "must be a bool")
        self._default = default_opt_in
        self._opt_in = _texts("opt_in", opt_in)
        self._opt_out = _texts("opt_out", opt_out)
        both = sorted(self._opt_in & self._opt_out)
        if both:
            raise PolicyError("opt_out", both, "recipients cannot opt both in and out")
        if route is not None and not callable(route):
            raise PolicyError("route", route, "must be a function of a ThrottlingStarted")
        self._route = route
        if not isinstance(tz, tzinfo):
            raise PolicyError("tz", tz, "must be a datetime.tzinfo")
        self._tz = tz
        if type(subject_prefix) is not str or _CONTROL.search(subject_prefix):
            raise PolicyError(
                "subject_prefix", subject_prefix, "must be a str without control characters"
            )
        self._prefix = subject_prefix
        self._rows: dict[int, DigestRow] = {}
        # day -> recipient -> sequence ids, in order of start.
        self._days: dict[date, dict[str, list[int]]] = {}
        self._forgotten: set[date] = set()

    def wants(self, recipient: str) -> bool:
        """Whether ``recipient`` gets digests."""
        if recipient in self._opt_in:
            return True
        if recipient in self._opt_out:
            return False
        return self._default

    def address_of(self, recipient: str) -> str:
        """The e-mail address a recipient's digest goes to.

        Raises :class:`PolicyError` for an unmapped recipient that is not
        exactly one plain e-mail address.
        """
        address = self._addresses.get(recipient)
        if address is not None:
            return address
        problem = plain_address(recipient)
        if problem is not None:
            raise PolicyError("recipient", recipient, problem)
        return recipient

    # -- collecting -------------------------------------------------------------------

    def add(self, event: Event) -> None:
        """Account for one event of the policy (``LevelChanged`` is ignored)."""
        if type(event) is ThrottlingStarted:
            self._started(event)
        elif type(event) is ThrottlingEnded:
            self._ended(event)
        elif type(event) is not LevelChanged:
            raise EventError(
                "event", event, "must be a ThrottlingStarted, ThrottlingEnded or LevelChanged"
            )

    def add_all(self, events: Iterable[Event]) -> None:
        """:meth:`add` each event in order."""
        for event in events:
            self.add(event)

    def _started(self, event: ThrottlingStarted) -> None:
        sequence = event.sequence_id
        if sequence in self._rows:
            raise EventError(
                "sequence_id", sequence, "started twice (events of two policies in one builder?)"
            )
        recipients = route_recipients(event, self._route)
        for recipient in recipients:
            if _CONTROL.search(recipient):
                raise EventError(
                    "recipients", recipient, "must not hold control characters (CR, LF, tab...)"
                )
        wanted = [r for r in dict.fromkeys(recipients) if self.wants(r)]
        if not wanted:
            return
        day = day_of(event.at, self._tz)
        if day in self._forgotten:
            raise EventError("at", event.at, f"starts an episode on {day}, a forgotten day")
        self._rows[sequence] = DigestRow(
            sequence_id=sequence,
            device_id=event.device_id,
            code=event.code,
            started_at=event.at,
            window_count=event.window_count,
        )
        by_recipient = self._days.setdefault(day, {})
        for recipient in wanted:
            by_recipient.setdefault(recipient, []).append(sequence)

    def _ended(self, event: ThrottlingEnded) -> None:
        row = self._rows.get(event.sequence_id)
        if row is None:
            # Not kept: nobody wanted it, or its day was forgotten after sending.
            return
        if row.ended_at is not None:
            raise EventError("sequence_id", event.sequence_id, "ended twice")
        self._rows[event.sequence_id] = attrs.evolve(
            row,
            ended_at=event.at,
            throttled_count=event.throttled_count,
            sampled_count=event.sampled_count,
        )

    # -- building ---------------------------------------------------------------------

    def days(self) -> list[date]:
        """The days with episodes for someone who wants a digest, oldest first."""
        return sorted(self._days)

    def recipients(self, day: date | str) -> list[str]:
        """The recipients with a digest for ``day``."""
        return sorted(self._days.get(_day(day), {}))

    def rows(self, day: date | str, recipient: str) -> list[DigestRow]:
        """The episodes of ``day`` for ``recipient``, in order of start."""
        sequences = self._days.get(_day(day), {}).get(recipient, [])
        return [self._rows[sequence] for sequence in sequences]

    def build(self, day: date | str, recipient: str) -> EmailMessage | None:
        """The digest of ``day`` for ``recipient``; ``None`` if it has no episodes that day.

        Raises :class:`PolicyError` when the recipient cannot be addressed.
        """
        the_day = _day(day)
        rows = self.rows(the_day, recipient)
        if not rows:
            return None
        return self._message(the_day, recipient, rows)

    def build_day(self, day: date | str) -> DigestBatch:
        """Every digest of ``day``, by recipient; those that cannot be built are in ``skipped``.

        One recipient that cannot be addressed never stops the others.
        """
        the_day = _day(day)
        messages: dict[str, EmailMessage] = {}
        skipped: dict[str, str] = {}
        for recipient in self.recipients(the_day):
            try:
                messages[recipient] = self._message(
                    the_day, recipient, self.rows(the_day, recipient)
                )
            except PolicyError as exc:
                skipped[recipient] = exc.problem
        return DigestBatch(messages, skipped)

    def forget(self, day: date | str) -> None:
        """Drop what is kept for ``day`` (once its digests are sent), to bound memory.

        Later ends of its episodes are ignored; a start dated that day is refused.
        """
        the_day = _day(day)
        for sequences in self._days.pop(the_day, {}).values():
            for sequence in sequences:
                self._rows.pop(sequence, None)
        self._forgotten.add(the_day)

    def _message(self, day: date, recipient: str, rows: list[DigestRow]) -> EmailMessage:
        address = self.address_of(recipient)
        tz_name = datetime(day.year, day.month, day.day, tzinfo=self._tz).tzname() or "UTC"
        held = sum(row.throttled_count or 0 for row in rows)
        sampled = sum(row.sampled_count or 0 for row in rows)
        still_open = sum(1 for row in rows if row.ended_at is None)
        devices: dict[str, list[DigestRow]] = {}
        codes: dict[int, list[DigestRow]] = {}
        for row in rows:
            devices.setdefault(row.device_id, []).append(row)
            codes.setdefault(row.code, []).append(row)

        def held_in(group: list[DigestRow]) -> int:
            return sum(row.throttled_count or 0 for row in group)

        lines = [
            f"Alert throttling digest for {recipient}, {day.isoformat()} ({tz_name})",
            "",
            f"{len(rows)} throttling episode(s) on {len(devices)} device(s); "
            f"{held} alert(s) held back, {sampled} delivered as samples.",
        ]
        if still_open:
            lines.append(
                f"{still_open} episode(s) were still open when this digest was built; "
                "the alerts they have held back so far are not in the counts above."
            )
        lines += ["", "By alert code:"]
        for code, group in sorted(codes.items(), key=lambda item: (-held_in(item[1]), item[0])):
            lines.append(
                f"  {format_code(code)}  {len(group)} episode(s), {held_in(group)} held back"
            )
        top = sorted(devices.items(), key=lambda item: (-held_in(item[1]), item[0]))
        lines += ["", f"Devices with the most alerts held back (top {_TOP_DEVICES}):"]
        for device_id, group in top[:_TOP_DEVICES]:
            lines.append(f"  {device_id}  {len(group)} episode(s), {held_in(group)} held back")
        filename = f"throttling-{day.isoformat()}.csv"
        lines += ["", f"Every episode is in the attached {filename}.", ""]

        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = address
        message["Subject"] = (
            f"{self._prefix} Alert throttling digest {day.isoformat()}: "
            f"{len(rows)} episode(s), {held} alert(s) held back"
        ).strip()
        message["X-Alertthrottle-Recipient"] = recipient
        message["X-Alertthrottle-Day"] = day.isoformat()
        message.set_content("\n".join(lines))
        message.add_attachment(self._csv(rows), subtype="csv", filename=filename)
        return message

    def _csv(self, rows: list[DigestRow]) -> str:
        out = io.StringIO()
        write_csv(
            out,
            CSV_FIELDS,
            (
                (
                    row.sequence_id,
                    row.device_id,
                    format_code(row.code),
                    self._iso(row.started_at),
                    "" if row.ended_at is None else self._iso(row.ended_at),
                    row.state,
                    "" if row.throttled_count is None else row.throttled_count,
                    "" if row.sampled_count is None else row.sampled_count,
                    row.window_count,
                )
                for row in rows
            ),
        )
        return out.getvalue()

    def _iso(self, at: float) -> str:
        return instant_text(at, self._tz)

    def _check(self) -> None:
        """Assert that every kept episode is listed exactly once per recipient, on its day."""
        listed = [s for by in self._days.values() for seqs in by.values() for s in seqs]
        assert set(listed) == set(self._rows)
        for day, by_recipient in self._days.items():
            for sequences in by_recipient.values():
                assert len(sequences) == len(set(sequences))
                for sequence in sequences:
                    assert day_of(self._rows[sequence].started_at, self._tz) == day


def _day(value: date | str) -> date:
    if isinstance(value, datetime):
        raise PolicyError("day", value, "must be a date or 'YYYY-MM-DD', not a datetime")
    if isinstance(value, date):
        return value
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PolicyError("day", value, "must be a date or 'YYYY-MM-DD'")
