"""The exceptions alertthrottle raises.

Every error the library raises on purpose derives from one root, and every
error about a bad value is also a builtin ``ValueError``, so callers can catch
either the library's own type or the builtin they already handle::

    AlertThrottleError (Exception)
    ├── InvalidAlertError (+ ValueError)   an alert field (its DUIS throttling metadata
    │   │                                  included), or a time given to advance()
    │   └── TrafficError                   ... read from a traffic file, at file:line
    ├── LateAlertError (+ ValueError)      an alert older than the clock, with late="reject"
    ├── PolicyError (+ ValueError)         a Threshold, PolicyConfig, policy or operations option
    ├── ScenarioError (+ ValueError)       a synthetic scenario's name or parameter
    ├── SnapshotError (+ ValueError)       a policy snapshot that cannot be restored whole
    ├── StateStoreError                    a shared state store (Redis) failed or timed out
    ├── DuisError (+ ValueError)           a DUIS XML message that is malformed, hostile or no alert
    └── EventError (+ ValueError)          an event with a bad field, or an event stream that
                                           cannot be one policy's (an episode ending that
                                           never started, or twice)

Each carries ``field`` (the name of the offending field, dotted for nested
values such as ``per_code.8014.limit``), ``value`` (the value as given) and
``problem`` (what is allowed). The message shows the value's ``repr``, cut
short when it is long, so a hostile value cannot make the message huge.
An error raised from ``ThrottlePolicy.feed_many`` also carries ``index``: the
position in the batch at which it stopped (the alerts before it stay applied),
and ``decisions``: the decisions of those alerts, exactly as ``feed`` returned
them, so that no count or event they carry is lost.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlertThrottleError",
    "DuisError",
    "EventError",
    "InvalidAlertError",
    "LateAlertError",
    "PolicyError",
    "ScenarioError",
    "SnapshotError",
    "StateStoreError",
    "TrafficError",
]


#: The longest ``repr`` of a bad value shown in a message; the value itself is kept whole.
_SHOWN = 200


def shown(value: object) -> str:
    """``repr(value)``, at most about 200 characters, never raising: for messages."""
    if type(value) is int and value.bit_length() > 600:
        # repr() of a huge int is slow, and refused past 4300 digits.
        return f"<int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object with a failing repr>"
    if len(text) > _SHOWN:
        return f"{text[: _SHOWN - 20]}...{text[-17:]} ({len(text):,} characters)"
    return text


class AlertThrottleError(Exception):
    """Root of every exception alertthrottle raises on purpose."""

    field: str
    value: object
    index: int | None
    #: The ``Decision`` list of a stopped ``feed_many`` (typed loosely: the decision
    #: module imports this one).
    decisions: list[Any] | None

    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"{field}: {problem}, got {shown(value)}")
        self.field = field
        self.value = value
        self.problem = problem
        self.index = None
        self.decisions = None

    def at_index(self, index: int, decisions: list[Any] | None = None) -> None:
        """Record where a ``feed_many`` call stopped, and the decisions made before."""
        self.index = index
        self.decisions = decisions
        self.add_note(f"feed_many stopped at index {index}; the alerts before it were applied")


class InvalidAlertError(AlertThrottleError, ValueError):
    """An alert (or a time passed to ``advance``) has a bad field; nothing was changed."""


class LateAlertError(AlertThrottleError, ValueError):
    """An alert is older than the policy's clock and the policy rejects late alerts."""


class PolicyError(AlertThrottleError, ValueError):
    """A threshold, a policy configuration or a policy option is invalid.

    Also raised for the options of the operations helpers (capacity thresholds,
    incident strategies, digest preferences).
    """


class EventError(AlertThrottleError, ValueError):
    """An event has a bad field, or does not fit the stream seen so far.

    Raised when an event is made with a bad value (a non-canonical device id, a
    time out of bounds, a negative count), and by the consumers of policy events
    (``IncidentBook``, ``DigestBuilder``) for an end without its start; the
    consumer is unchanged.
    """


class ScenarioError(AlertThrottleError, ValueError):
    """A synthetic traffic scenario was asked for by an unknown name or with a bad parameter."""


class TrafficError(InvalidAlertError):
    """A row of a traffic (or devices) file is malformed; ``source`` and ``line`` say where.

    The message reads ``file:line: field: problem, got value`` so that an
    editor or a terminal can jump to the row.
    """

    source: str
    line: int

    def __init__(self, source: str, line: int, field: str, value: object, problem: str) -> None:
        super().__init__(field, value, problem)
        self.source = source
        self.line = line
        self.args = (f"{source}:{line}: {self.args[0]}",)


class SnapshotError(AlertThrottleError, ValueError):
    """A snapshot is truncated, corrupted, of a newer format or for another configuration.

    ``field`` names the part of the snapshot at fault (``version``, ``checksum``,
    ``state.keys[3].times``...). Nothing was restored.
    """


class StateStoreError(AlertThrottleError):
    """The server holding a shared policy's state failed, refused or timed out.

    Raised by ``alertthrottle.redis.RedisThrottlePolicy`` for every Redis error.
    Each alert is applied on the server whole or not at all; after a timeout the
    caller cannot know which, but the server's totals stay consistent either way.
    ``value`` is the namespace; the message names the server's error.
    """


class DuisError(AlertThrottleError, ValueError):
    """A DUIS XML message cannot be read or written; nothing was changed.

    ``field`` names the part at fault as a path of DUIS element names
    (``Header.ResponseID``, ``Body.DeviceAlertMessage.AlertCode``) or ``xml``
    for the document as a whole (malformed, too large, a DTD or an entity).
    """
