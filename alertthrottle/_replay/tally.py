"""Counting decided blocks of alerts in bulk, from their columns.

The replay decides alerts a block at a time; :class:`Tally` counts each block
with a few C-level ``Counter`` passes over its columns (no Python code per
alert) and folds what it counted into the replay's :class:`Counts` only when
they are read. The counts are exactly those of the alert-by-alert loop.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .._core.decision import Decision, Verdict
from .tables import Counts

__all__ = ["Tally", "kinds"]

_THROTTLE = Verdict.THROTTLE
_DELIVER = Verdict.DELIVER
#: Where each kind of verdict (0 THROTTLE, 1 DELIVER, 2 EXEMPT) goes in a policy's
#: three counts of an hour row (DELIVER, THROTTLE, EXEMPT).
_SLOT = (1, 0, 2)


def kinds(decisions: Sequence[Decision]) -> list[int]:
    """Each decision's verdict as a small int: 0 THROTTLE, 1 DELIVER, 2 EXEMPT."""
    # A comprehension, not map(attrgetter): CPython specialises its attribute loads (and
    # without a walrus, which would make the name a cell of this function).
    return [
        0 if d.verdict is _THROTTLE else 1 if d.verdict is _DELIVER else 2 for d in decisions
    ]


class Tally:
    """Counts of decided blocks not yet folded into :class:`Counts`.

    A policy's verdicts are counted as small ints (0 THROTTLE, 1 DELIVER, 2
    EXEMPT): they hash and compare at C speed, where a Verdict's hash is Python
    code. ``hours`` counts, per hour, alerts per (code, recipients, each policy's
    verdict), and ``mixed`` per (hour, code, ...) for a block that spans hours;
    ``offered`` counts alerts per device, and ``kept[i]`` those of a device that
    policy ``i`` did not throttle (fewer than the throttled ones in a storm).
    """

    __slots__ = ("hours", "kept", "mixed", "offered")

    def __init__(self, width: int) -> None:
        self.hours: dict[int, Counter[tuple[Any, ...]]] = {}
        self.mixed: Counter[tuple[Any, ...]] = Counter()
        self.offered: Counter[str] = Counter()
        self.kept: list[Counter[str]] = [Counter() for _ in range(width)]

    def add(
        self,
        hours: int | list[int],
        device_ids: Sequence[str],
        codes: Sequence[int],
        recipients: Sequence[tuple[str, ...]],
        kinds: Sequence[list[int]],
    ) -> None:
        """Count a block of alerts (as columns) and each policy's :func:`kinds` of verdicts.

        ``hours`` is the hour of every alert of the block, or each alert's hour.
        """
        if isinstance(hours, int):
            cells = self.hours.get(hours)
            if cells is None:
                cells = self.hours[hours] = Counter()
            cells.update(zip(codes, recipients, *kinds, strict=True))
        else:
            self.mixed.update(zip(hours, codes, recipients, *kinds, strict=True))
        self.offered.update(device_ids)
        for kept, lane in zip(self.kept, kinds, strict=True):
            # THROTTLE is 0: compress keeps the devices of the other verdicts.
            kept.update(itertools.compress(device_ids, lane))

    def fold(self, counts: Counts) -> None:
        """Add the counts to ``counts`` (new devices in the order they came) and start
        again from zero."""
        width = len(self.kept)
        hours = counts.hours
        cells = [((hour, *key), n) for hour, c in self.hours.items() for key, n in c.items()]
        for (hour, code, recipients, *kinds), n in itertools.chain(cells, self.mixed.items()):
            rows = hours.get(hour)
            if rows is None:
                rows = hours[hour] = {}
            row = rows.get((code, recipients))
            if row is None:
                row = rows[code, recipients] = [0] * (3 * width)
            for i, kind in enumerate(kinds):
                row[3 * i + _SLOT[kind]] += n
        self.hours.clear()
        self.mixed.clear()
        devices = counts.devices
        for device, n in self.offered.items():
            # Every alert is counted as throttled, then those that were not are taken off.
            sent = devices.get(device)
            if sent is None:
                devices[device] = [n] * (1 + width)
            else:
                for i in range(1 + width):
                    sent[i] += n
        self.offered.clear()
        for i, kept in enumerate(self.kept, 1):
            for device, n in kept.items():
                devices[device][i] -= n
            kept.clear()
