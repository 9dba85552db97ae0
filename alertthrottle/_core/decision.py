"""The outcome of feeding one alert, its DUIS metadata, and running totals."""

from __future__ import annotations

import enum

import attrs

from .errors import InvalidAlertError
from .events import Event

__all__ = [
    "NO_METADATA",
    "Decision",
    "Stats",
    "ThrottleMetadata",
    "Verdict",
    "made_decision",
    "pending_metadata",
]


class Verdict(enum.StrEnum):
    """What happens to one alert."""

    DELIVER = "DELIVER"
    """It reaches its recipients (a sample during an episode included)."""
    THROTTLE = "THROTTLE"
    """It is held back and counted for the key's next delivered alert."""
    EXEMPT = "EXEMPT"
    """Its code is exempt: it reaches its recipients and is not counted."""


class _MetadataSlots:
    """The storage of a :class:`ThrottleMetadata`, as plain writable slots.

    For :func:`pending_metadata`, as :class:`_DecisionSlots` is for Decision.
    """

    __slots__ = ("__weakref__", "previously_throttled", "sequence_id", "throttled_count")

    previously_throttled: bool
    throttled_count: int
    sequence_id: int | None


@attrs.frozen(slots=True, init=False)
class ThrottleMetadata(_MetadataSlots):
    """DUIS-style throttling metadata carried by a delivered alert.

    ``throttled_count`` alerts of the same key were held back since its previous
    delivered alert, all in episode ``sequence_id``. With nothing held back,
    the count is 0 and the sequence id ``None``. Any other combination raises
    :class:`InvalidAlertError`.
    """

    previously_throttled: bool
    throttled_count: int
    sequence_id: int | None

    def __init__(
        self,
        previously_throttled: bool | None = None,
        throttled_count: int = 0,
        sequence_id: int | None = None,
    ) -> None:
        # Checked by hand, cheapest first: the engine builds one for every delivery
        # that reports a count.
        if type(throttled_count) is not int or throttled_count < 0:
            raise InvalidAlertError("throttled_count", throttled_count, "must be an integer >= 0")
        throttled = throttled_count > 0
        if previously_throttled is None:
            previously_throttled = throttled
        elif previously_throttled is not throttled:
            raise InvalidAlertError(
                "previously_throttled",
                previously_throttled,
                "must be True exactly when throttled_count > 0",
            )
        if throttled:
            if type(sequence_id) is not int or sequence_id < 1:
                raise InvalidAlertError(
                    "sequence_id",
                    sequence_id,
                    "must be an integer >= 1 when throttled_count > 0",
                )
        elif sequence_id is not None:
            raise InvalidAlertError(
                "sequence_id", sequence_id, "must be None when throttled_count is 0"
            )
        _set_previously_throttled(self, previously_throttled)
        _set_throttled_count(self, throttled_count)
        _set_sequence_id(self, sequence_id)

    def to_duis(self) -> dict[str, int]:
        """The optional DUIS elements for a ``DeviceAlertMessage``.

        ``{"ThrottledAlertCount": n, "ThrottledAlertSequenceId": s}``, or ``{}``
        when nothing was throttled (so an older DUIS recipient sees no change).
        """
        if self.sequence_id is None:
            return {}
        return {
            "ThrottledAlertCount": self.throttled_count,
            "ThrottledAlertSequenceId": self.sequence_id,
        }


# Frozen: only the constructor writes the slots, through their setters.
_set_previously_throttled, _set_throttled_count, _set_sequence_id = (
    vars(_MetadataSlots)[field.name].__set__ for field in attrs.fields(ThrottleMetadata)
)


def pending_metadata(throttled_count: int, sequence_id: int) -> ThrottleMetadata:
    """``ThrottleMetadata(True, throttled_count, sequence_id)`` of the engine's counts.

    A key's pending count (``>= 1``) and its episode's number (``>= 1``) pass the
    constructor's checks by construction, so they are not run again; built as
    :func:`made_decision` builds a Decision.
    """
    metadata = _MetadataSlots()
    metadata.previously_throttled = True
    metadata.throttled_count = throttled_count
    metadata.sequence_id = sequence_id
    metadata.__class__ = ThrottleMetadata
    return metadata  # type: ignore[return-value]  # a ThrottleMetadata now


#: The metadata of every decision with nothing held back (shared, never copied).
NO_METADATA = ThrottleMetadata(False, 0, None)


class _DecisionSlots:
    """The storage of a :class:`Decision`: its five fields as plain, writable slots.

    Decision is frozen, and its attrs ``__init__`` writes each field through
    ``object.__setattr__`` (a call through a wrapper per field). The engine's
    decisions that are not shared constants are built as an instance of this,
    their base, by :func:`made_decision`: plain stores, then one ``__class__``
    store to Decision, which adds no slot and so has the same layout. The stores
    and the switch neither fail nor allocate, so nothing sees a Decision half
    built; none of this class is ever returned.
    """

    __slots__ = ("__weakref__", "events", "late", "metadata", "sampled", "verdict")

    verdict: Verdict
    metadata: ThrottleMetadata
    late: bool
    events: tuple[Event, ...]
    sampled: bool


@attrs.frozen(slots=True)
class Decision(_DecisionSlots):
    """What the policy decided for one alert.

    ``late`` says the alert was older than the clock and was treated as
    arriving at the clock time. ``events`` are the episode ends that fell due
    up to this alert's time, in order of ``at``, then this alert's
    ``ThrottlingStarted`` if it started one. ``sampled`` marks a delivery made
    as a sample during an episode; it is informational and left out of
    equality, which compares what docs/semantics.md defines. Decisions with nothing
    to report are shared instances.
    """

    verdict: Verdict
    metadata: ThrottleMetadata = NO_METADATA
    late: bool = False
    events: tuple[Event, ...] = ()
    sampled: bool = attrs.field(default=False, eq=False)


def made_decision(
    verdict: Verdict,
    metadata: ThrottleMetadata,
    late: bool,
    events: tuple[Event, ...],
    sampled: bool,
) -> Decision:
    """``Decision(verdict, metadata, late, events, sampled)``, built as the engine needs it.

    Equal to the constructor's in every way (same class, same fields); cheaper,
    through :class:`_DecisionSlots`. Decision checks nothing, so neither does this.
    """
    decision = _DecisionSlots()
    decision.verdict = verdict
    decision.metadata = metadata
    decision.late = late
    decision.events = events
    decision.sampled = sampled
    decision.__class__ = Decision
    return decision  # type: ignore[return-value]  # a Decision now


@attrs.frozen(slots=True)
class Stats:
    """Running totals of a policy; ``delivered + throttled + exempt == total`` always.

    ``late`` counts clamped late alerts (they are in the other counts too).
    The rest is informational and left out of equality, which compares the
    five totals docs/semantics.md defines: ``episodes`` counts episodes started and
    ``open_episodes`` those not yet ended; ``tracked_keys`` is the number of
    keys with state held in memory, and ``evicted`` the number of keys
    forgotten early to stay within ``max_keys``. ``dropped_counts`` is the number
    of pending counts of forgotten keys dropped to stay within ``max_keys`` (the
    oldest episode's first), and ``dropped_throttled`` the throttled alerts they
    held: reported on no delivered alert, but in full in their episode's
    ``ThrottlingEnded`` (docs/memory.md).
    """

    total: int = 0
    delivered: int = 0
    throttled: int = 0
    exempt: int = 0
    late: int = 0
    episodes: int = attrs.field(default=0, eq=False, kw_only=True)
    open_episodes: int = attrs.field(default=0, eq=False, kw_only=True)
    tracked_keys: int = attrs.field(default=0, eq=False, kw_only=True)
    evicted: int = attrs.field(default=0, eq=False, kw_only=True)
    dropped_counts: int = attrs.field(default=0, eq=False, kw_only=True)
    dropped_throttled: int = attrs.field(default=0, eq=False, kw_only=True)
