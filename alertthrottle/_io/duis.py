"""DUIS alert XML in and out: read an alert to feed, write it back with throttle metadata.

A DUIS alert is an ``sr:Response`` whose body is a ``DeviceAlertMessage`` (a
GBCS alert code such as ``8014``) or a ``DCCAlertMessage`` (a DCC alert code
such as ``N24``, throttled under the key code ``DCC:N24``). The throttle
elements ``ThrottledAlertSequenceId`` and ``ThrottledAlertCount`` sit, in that
order, right after the code.

Reading is safe on untrusted input: the document is size-bounded, and DTDs,
entity declarations and external references are refused (``defusedxml``).
Writing edits the original bytes: only the throttle elements are inserted or
replaced, every other byte (header order, namespaces, comments, whitespace, a
signature) stays as it was.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import attrs

try:
    import defusedxml
    import defusedxml.ElementTree as SafeElementTree
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "alertthrottle.duis needs defusedxml: pip install 'alertthrottle[duis]'"
    ) from exc

from .._core.alert import DCC_CODE_PREFIX, Alert, parse_code
from .._core.decision import ThrottleMetadata
from .._core.errors import AlertThrottleError, DuisError

__all__ = ["DUIS_NAMESPACE", "MAX_XML_BYTES", "DuisAlert", "read_alert", "write_alert"]

#: The namespace of DUIS messages (prefix ``sr`` by convention).
DUIS_NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
#: The largest document :func:`read_alert` accepts by default (an alert is a few KiB).
MAX_XML_BYTES = 1 << 20

_SR = "{" + DUIS_NAMESPACE + "}"
_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
_CODE_ELEMENT = {"DeviceAlertMessage": "AlertCode", "DCCAlertMessage": "DCCAlertCode"}
_SEQUENCE_ID = "ThrottledAlertSequenceId"
_COUNT = "ThrottledAlertCount"
# xs:dateTime, as DUIS writes ResponseDateTime.
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")
_DCC_NAME = re.compile(r"[0-9A-Za-z]{1,16}")
_DEVICE_CODE = re.compile(r"[0-9A-Fa-f]{4}")
# An XML start or end tag from its "<": attribute values cannot hold their own quote.
_TAG = re.compile(rb"</?([^\s/>]+)(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*/?>")
_SPACE = b" \t\r\n"


@attrs.frozen(slots=True)
class _Span:
    """Where one child of the alert message lies in the document's bytes."""

    local_name: str
    start: int
    end: int


@attrs.frozen(slots=True)
class DuisAlert:
    """A DUIS alert message as read by :func:`read_alert`.

    ``alert`` is what to feed to the policy. ``kind`` says which DUIS message it
    was (``"device"``: ``DeviceAlertMessage``; ``"dcc"``: ``DCCAlertMessage``),
    ``alert_code`` the code as written (``8014``, ``N24``),
    ``throttled_sequence_id`` and ``throttled_count`` the throttle elements the
    message already carried (``None`` when absent), ``signed`` whether it holds
    an XML signature. ``xml`` is the document's bytes, kept so that
    :func:`write_alert` can re-emit it unchanged apart from the throttle
    elements.
    """

    alert: Alert
    kind: Literal["device", "dcc"]
    alert_code: str
    response_id: str
    response_date_time: str
    throttled_sequence_id: int | None
    throttled_count: int | None
    signed: bool
    xml: bytes = attrs.field(repr=False)
    # Byte spans of the message's children; the code element is the first.
    children: tuple[_Span, ...] = attrs.field(repr=False, eq=False)


def read_alert(
    xml: bytes | str,
    *,
    timestamp: int | float | datetime | None = None,
    device_id: str | None = None,
    max_bytes: int = MAX_XML_BYTES,
) -> DuisAlert:
    """Read one DUIS alert message (``DeviceAlertMessage`` or ``DCCAlertMessage``).

    The alert's device is the originator in the header's ``ResponseID``
    (``originator:target:counter``) and its recipient the target; its code is
    the ``AlertCode`` (hex) or ``DCC:`` and the ``DCCAlertCode``. Its timestamp
    is the header's ``ResponseDateTime`` (UTC when it has no offset) unless
    ``timestamp`` is given; ``device_id`` overrides the originator. A ``str`` is
    read as UTF-8.

    Raises :class:`DuisError` naming the element at fault for malformed or
    hostile XML (a DTD, an entity, more than ``max_bytes``) and for a message
    that is not a DUIS alert.
    """
    data = _as_bytes(xml, max_bytes)
    root = _parse(data)
    if root.tag != _SR + "Response":
        raise DuisError("xml", _shorten(root.tag), f"must be a Response in {DUIS_NAMESPACE}")
    header = _child(root, "Header", "Header")
    body = _child(root, "Body", "Body")
    messages = [child for child in body if _local(child.tag) in _CODE_ELEMENT]
    if len(messages) != 1 or len(body) != 1:
        names = [_local(child.tag) for child in body]
        raise DuisError("Body", names, "must hold one DeviceAlertMessage or DCCAlertMessage")
    message = messages[0]
    path = f"Body.{_local(message.tag)}"
    kind, alert_code, code = _code(message, path)
    sequence_id = _optional_count(message, _SEQUENCE_ID, path, minimum=1)
    count = _optional_count(message, _COUNT, path, minimum=0)

    response_id = _text(_child(header, "ResponseID", "Header.ResponseID"), "Header.ResponseID")
    parts = response_id.split(":")
    if len(parts) != 3 or not all(parts):
        raise DuisError("Header.ResponseID", response_id, "must be originator:target:counter")
    originator, target, _counter = parts
    date_time = _text(
        _child(header, "ResponseDateTime", "Header.ResponseDateTime"), "Header.ResponseDateTime"
    )
    when = _date_time(date_time) if timestamp is None else timestamp
    try:
        alert = Alert(
            timestamp=when,
            device_id=originator if device_id is None else device_id,
            code=code,
            recipients=(target,),
        )
    except AlertThrottleError as exc:
        if exc.field == "device_id" and device_id is None:
            raise DuisError("Header.ResponseID", response_id, f"originator {exc.problem}") from None
        if exc.field == "timestamp" and timestamp is None:
            raise DuisError("Header.ResponseDateTime", date_time, exc.problem) from None
        raise
    return DuisAlert(
        alert=alert,
        kind=kind,
        alert_code=alert_code,
        response_id=response_id,
        response_date_time=date_time,
        throttled_sequence_id=sequence_id,
        throttled_count=count,
        signed=any(child.tag == _DSIG for child in root.iter()),
        xml=data,
        children=_child_spans(data, len(message)),
    )


def write_alert(message: DuisAlert, metadata: ThrottleMetadata) -> bytes:
    """The message's XML with ``metadata`` as its throttle elements.

    With something throttled (``metadata.throttled_count > 0``),
    ``ThrottledAlertSequenceId`` and ``ThrottledAlertCount`` are written right
    after the alert code, in that schema order, replacing any the message
    carried (never duplicated). With nothing throttled the message is returned
    as it was read. Every other byte is kept; so an XML signature over the body
    no longer verifies once elements are inserted (re-sign after writing).
    """
    if not isinstance(message, DuisAlert):
        raise DuisError("message", _shorten(message), "must be a DuisAlert from read_alert")
    if not isinstance(metadata, ThrottleMetadata):
        raise DuisError("metadata", _shorten(metadata), "must be a ThrottleMetadata")
    data = message.xml
    if metadata.sequence_id is None:
        return data
    code, *rest = message.children
    # Indent the new elements as the code element is indented.
    indent_start = code.start
    while indent_start > 0 and data[indent_start - 1] in _SPACE:
        indent_start -= 1
    indent = data[indent_start : code.start]
    prefix = _TAG.match(data, code.start).group(1)[: -len(code.local_name)]  # type: ignore[union-attr]

    def element(name: str, value: int) -> bytes:
        tag = prefix + name.encode()
        return indent + b"<" + tag + b">" + str(value).encode() + b"</" + tag + b">"

    pieces = [data[: code.end]]
    pieces.append(element(_SEQUENCE_ID, metadata.sequence_id))
    pieces.append(element(_COUNT, metadata.throttled_count))
    position = code.end
    for child in rest:
        if child.local_name in (_SEQUENCE_ID, _COUNT):
            # Drop the old element with the whitespace that indents it.
            start = child.start
            while start > position and data[start - 1] in _SPACE:
                start -= 1
            pieces.append(data[position:start])
            position = child.end
    pieces.append(data[position:])
    return b"".join(pieces)


# -- reading ----------------------------------------------------------------------------


def _as_bytes(xml: object, max_bytes: int) -> bytes:
    if isinstance(xml, str):
        data = xml.encode("utf-8", "surrogatepass")
    elif isinstance(xml, bytes | bytearray | memoryview):
        data = bytes(xml)
    else:
        raise DuisError("xml", _shorten(xml), "must be bytes or str")
    if len(data) > max_bytes:
        raise DuisError("xml", f"{len(data)} bytes", f"must be at most {max_bytes} bytes")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:2] in (b"\x00<", b"<\x00"):
        raise DuisError("xml", _shorten(data), "must be UTF-8 (DUIS is UTF-8)")
    return data


def _parse(data: bytes) -> Element:
    try:
        return SafeElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise DuisError("xml", "<!DOCTYPE ...>", "must not hold a DTD") from None
    except defusedxml.EntitiesForbidden:
        raise DuisError("xml", "<!ENTITY ...>", "must not declare entities") from None
    except defusedxml.DefusedXmlException as exc:
        raise DuisError("xml", type(exc).__name__, "must not refer to external resources") from None
    except ParseError as exc:
        raise DuisError("xml", _shorten(data), f"is not well-formed XML ({exc})") from None
    except ValueError as exc:  # e.g. an encoding expat cannot decode
        raise DuisError("xml", _shorten(data), f"cannot be read ({exc})") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(parent: Element, name: str, path: str) -> Element:
    found = parent.findall(_SR + name)
    if len(found) != 1:
        problem = "is missing" if not found else "appears more than once"
        raise DuisError(path, len(found), problem)
    return found[0]


def _text(element: Element, path: str) -> str:
    if len(element):
        raise DuisError(path, [_local(c.tag) for c in element], "must hold text, not elements")
    text = (element.text or "").strip()
    if not text:
        raise DuisError(path, element.text, "must not be empty")
    return text


def _code(message: Element, path: str) -> tuple[Literal["device", "dcc"], str, int]:
    """The message's kind, its code as written, and the code as a throttle key."""
    name = _local(message.tag)
    code_element = _CODE_ELEMENT[name]
    children = list(message)
    if not children or children[0].tag != _SR + code_element:
        raise DuisError(path, [_local(c.tag) for c in children], f"must start with {code_element}")
    alert_code = _text(children[0], f"{path}.{code_element}")
    if name == "DeviceAlertMessage":
        if not _DEVICE_CODE.fullmatch(alert_code):
            raise DuisError(f"{path}.{code_element}", alert_code, "must be 4 hexadecimal digits")
        return "device", alert_code, parse_code(alert_code)
    if not _DCC_NAME.fullmatch(alert_code):
        raise DuisError(f"{path}.{code_element}", alert_code, "must be 1 to 16 letters or digits")
    return "dcc", alert_code, parse_code(DCC_CODE_PREFIX + alert_code)


def _optional_count(message: Element, name: str, path: str, minimum: int) -> int | None:
    found = message.findall(_SR + name)
    if not found:
        return None
    if len(found) > 1:
        raise DuisError(f"{path}.{name}", len(found), "appears more than once")
    text = _text(found[0], f"{path}.{name}")
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < minimum:
        raise DuisError(f"{path}.{name}", text, f"must be an integer >= {minimum}")
    return int(text)


def _date_time(text: str) -> datetime:
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise DuisError(
            "Header.ResponseDateTime", text, "must be an xs:dateTime such as 2024-05-01T12:00:00Z"
        )
    moment, fraction, zone = match.groups()
    iso = moment + ("." + (fraction + "000000")[:6] if fraction else "")
    iso += "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(iso).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise DuisError("Header.ResponseDateTime", text, f"is not a valid time ({exc})") from None


def _child_spans(data: bytes, expected: int) -> tuple[_Span, ...]:
    """Byte spans of the alert message's children (Response > Body > message > child).

    A second, positional pass over a document ``defusedxml`` has accepted; it
    refuses DTDs and entities itself as well.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    spans: list[_Span] = []
    path: list[str] = []
    begin = 0

    def refuse(*_args: object) -> None:
        raise DuisError("xml", "<!DOCTYPE ...>", "must not hold a DTD")

    def in_message() -> bool:
        # Response > Body > DeviceAlertMessage | DCCAlertMessage > this element
        return len(path) == 4 and path[1] == DUIS_NAMESPACE + "}Body"

    def start(name: str, _attributes: object) -> None:
        nonlocal begin
        path.append(name)
        if in_message():
            begin = parser.CurrentByteIndex

    def end(name: str) -> None:
        if in_message():
            here = parser.CurrentByteIndex
            tag = _TAG.match(data, here)
            if tag is None:  # pragma: no cover - expat stands on a tag here
                raise DuisError("xml", _shorten(data[here:]), "has a tag this reader cannot place")
            spans.append(_Span(_local(name), begin, tag.end()))
        path.pop()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:  # pragma: no cover - defusedxml accepted the same bytes
        raise DuisError("xml", _shorten(data), f"is not well-formed XML ({exc})") from None
    if len(spans) != expected:  # pragma: no cover - both passes read the same tree
        raise DuisError("xml", len(spans), f"must have {expected} message children")
    return tuple(spans)


def _shorten(value: object) -> object:
    """A hostile document can be large: errors show its first 80 characters."""
    if isinstance(value, bytes | str) and len(value) > 80:
        return value[:80] + (b"..." if isinstance(value, bytes) else "...")  # type: ignore[operator]
    return value
