"""Putting a nearly time-ordered alert stream back in order, with bounded memory.

Real logs come merged from several systems, or written by threads that race:
each alert is a little late compared with its neighbours, never by much. A
policy takes such an alert as late (clamped to its clock, or refused).
:func:`reorder` holds alerts back for ``window`` seconds of event time and
lets them out in time order, so a stream whose disorder stays within the
window comes out sorted; memory holds the alerts of one window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from sortedcontainers import SortedList

from .._core.alert import Alert
from .._core.errors import InvalidAlertError, PolicyError

__all__ = ["MAX_WINDOW", "reorder"]

#: The longest reorder window: 366 days, the longest threshold period.
MAX_WINDOW = 366 * 86_400


def _checked_window(window: object) -> float:
    if (
        type(window) not in (int, float)
        or not 0 <= window <= MAX_WINDOW  # type: ignore[operator]
        or not math.isfinite(window)  # type: ignore[arg-type]
    ):
        raise PolicyError(
            "window", window, f"must be a number of seconds from 0 to {MAX_WINDOW:,} (366 days)"
        )
    return float(window)  # type: ignore[arg-type]


def reorder(alerts: Iterable[Alert], *, window: float) -> Iterator[Alert]:
    """Yield ``alerts`` in time order, each held back until the stream is ``window`` s past it.

    An alert is released once the newest time seen is more than ``window``
    seconds after its own; alerts of the same time keep their order. An
    alert later than that (behind one already released) comes out at once,
    out of order: a policy takes it as late, as it would without reordering.
    If every alert is at most ``window`` seconds older than the newest one
    before it, the output is the stream sorted by time. Memory holds the
    alerts of the last ``window`` seconds. ``window`` outside 0..366 days
    raises :class:`PolicyError` before anything is read.
    """
    return _reordered(alerts, _checked_window(window))


def _reordered(alerts: Iterable[Alert], window: float) -> Iterator[Alert]:
    # (timestamp, arrival number, alert): unique arrival numbers keep alerts of the same
    # time in arrival order and mean that the alerts themselves are never compared.
    held: SortedList = SortedList()  # type: ignore[type-arg]
    add, pop = held.add, held.pop
    newest = -math.inf
    for number, alert in enumerate(alerts):
        if type(alert) is not Alert:
            raise InvalidAlertError("alert", alert, "must be an alertthrottle.Alert")
        t = alert.timestamp
        add((t, number, alert))
        if t > newest:
            newest = t
            cutoff = newest - window
            while held[0][0] < cutoff:
                yield pop(0)[2]
    for item in held:
        yield item[2]
