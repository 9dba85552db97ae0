"""Counting decided blocks of alerts in bulk, from their columns.

The replay decides alerts a block at a time; :class:`Tally` counts each block
with a few C-level ``Counter`` passes over its columns (no Python code per
alert but a comprehension of identity tests on the decisions) and folds what
it counted into the replay's :class:`Counts` only when they are read. The
counts are exactly those of the alert-by-alert loop.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .._core.decision import Decision, Verdict
from .tables import Counts

__all__ = ["Tally"]

_THROTTLE = Verdict.THROTTLE
_DELIVER = Verdict.DELIVER
#: Where each kind of verdict (0 THROTTLE, 1 DELIVER, 2 EXEMPT) goes in a policy's
#: three counts of an hour row (DELIVER, THROTTLE, EXEMPT).
_SLOT = (1, 0, 2)
#: The kind :meth:`Tally.kinds` gives a decision it has to look at.
_OTHER = 3


def _kind(decision: Decision) -> int:
    """A decision's verdict as a small int: 0 THROTTLE, 1 DELIVER, 2 EXEMPT."""
    verdict = decision.verdict
    return 0 if verdict is _THROTTLE else 1 if verdict is _DELIVER else 2


class Tally:
    """Counts of decided blocks not yet folded into :class:`Counts`.

    A policy's verdicts are counted as small ints (0 THROTTLE, 1 DELIVER, 2
    EXEMPT): they hash and compare at C speed, where a Verdict's hash is Python
    code. ``hours`` counts, per hour, alerts per (code, recipients, each policy's
    verdict), and ``mixed`` per (hour, code, ...) for a block that spans hours;
    ``offered`` counts alerts per device, and ``kept[i]`` those of a device that
    policy ``i`` did not throttle (fewer than the throttled ones in a storm).

    Most decisions are shared instances with nothing to report (no events, not
    late): ``plain`` keeps the last such decision met per verdict, and
    :meth:`kinds` tells a decision that is one of them by identity alone.
    """

    __slots__ = ("hours", "kept", "mixed", "offered", "plain")

    def __init__(self, width: int) -> None:
        self.hours: dict[int, Counter[tuple[Any, ...]]] = {}
        self.mixed: Counter[tuple[Any, ...]] = Counter()
        self.offered: Counter[str] = Counter()
        self.kept: list[Counter[str]] = [Counter() for _ in range(width)]
        self.plain: list[Decision | None] = [None, None, None]

    def kinds(self, decisions: list[Decision]) -> tuple[list[int], list[Decision]]:
        """Each decision's verdict as a small int (0 THROTTLE, 1 DELIVER, 2 EXEMPT), and
        the decisions with events or late, in order."""
        throttle, deliver, exempt = self.plain
        # Identity tests only: no attribute is loaded for a plain decision.
        kinds = [
            0 if d is throttle else 1 if d is deliver else 2 if d is exempt else _OTHER
            for d in decisions
        ]
        noted: list[Decision] = []
        if _OTHER not in kinds:
            return kinds, noted
        plain = self.plain
        at = kinds.index(_OTHER)
        while True:
            decision = decisions[at]
            kind = kinds[at] = _kind(decision)
            if decision.events or decision.late:
                noted.append(decision)
            else:
                # The latest: a one-off (a delivery with metadata) gives way to the shared one.
                plain[kind] = decision
            try:
                at = kinds.index(_OTHER, at + 1)
            except ValueError:
                return kinds, noted

    def add(
        self,
        hours: int | list[int],
        device_ids: Sequence[str],
        codes: Sequence[int],
        recipients: Sequence[tuple[str, ...]],
        kinds: Sequence[list[int]],
    ) -> None:
        """Count a block of alerts (as columns) and each policy's :meth:`kinds` of verdicts.

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
