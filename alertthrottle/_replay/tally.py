"""Counting decided blocks of alerts in bulk, from their columns.

The replay decides alerts a block at a time; :class:`Tally` counts each block
with a few C-level ``Counter`` passes over its columns (no Python code per
alert: the decisions that are not the plain THROTTLE one are found by identity
at C speed, and only those are looked at one by one) and folds what
it counted into the replay's :class:`Counts` only when they are read. A block
a reader made of shapes (see :mod:`.._core.shapes`) is counted in one pass of
one small int per row (its shape and each policy's verdict); the cells and
devices are found when folding, once per distinct int. The counts are exactly
those of the alert-by-alert loop.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .._core.decision import NO_METADATA, Decision, Verdict
from .._core.shapes import ShapeTable
from .tables import Counts, HourRows

__all__ = ["Tally"]

_THROTTLE = Verdict.THROTTLE
_DELIVER = Verdict.DELIVER
#: Where each kind of verdict (0 THROTTLE, 1 DELIVER, 2 EXEMPT) goes in a policy's
#: three counts of an hour row (DELIVER, THROTTLE, EXEMPT).
_SLOT = (1, 0, 2)
#: The values of the kinds of verdict (THROTTLE, DELIVER, EXEMPT) as blocks without shapes
#: count them.
KINDS = (0, 1, 2)


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
    late, no metadata): ``plain`` keeps the last such decision met per verdict, and
    :meth:`kinds` tells a decision that is one of them by identity alone.
    """

    __slots__ = (
        "_cells",
        "_cells_table",
        "_indices",
        "_sent",
        "_sent_devices",
        "_unique",
        "hours",
        "kept",
        "mixed",
        "offered",
        "plain",
        "shaped",
    )

    def __init__(self, width: int) -> None:
        self.hours: dict[int, Counter[tuple[Any, ...]]] = {}
        self.mixed: Counter[tuple[Any, ...]] = Counter()
        self.offered: Counter[str] = Counter()
        self.kept: list[Counter[str]] = [Counter() for _ in range(width)]
        self.plain: list[Decision | None] = [None, None, None]
        #: Blocks with shapes, in the order they came, as (hour, table, counts): each count
        #: keyed by shape + size * (kinds + 3 ** width * (row's hour - hour)), ``size``
        #: the table's and ``kinds`` each policy ``i``'s kind times ``3 ** i``.
        self.shaped: list[tuple[int, ShapeTable, Counter[int]]] = []
        # Each shape's cell of the last table folded (see _cells_of), and the cells by value.
        self._cells_table: ShapeTable | None = None
        self._cells: list[tuple[int, tuple[str, ...]]] = []
        self._unique: dict[tuple[int, tuple[str, ...]], tuple[int, tuple[str, ...]]] = {}
        # Of the same table, for one policy: each shape's device counts in ``_sent_devices``
        # (None until folded).
        self._sent: list[list[int] | None] = []
        self._sent_devices: dict[str, list[int]] | None = None
        #: 0, 1, 2, ...: the indices of the longest block of decisions met so far.
        self._indices: list[int] = []

    def values(self, index: int, table: ShapeTable) -> tuple[int, int, int]:
        """The values of policy ``index``'s kinds of verdict in a shaped block's keys."""
        scale = table.size * 3**index
        return 0, scale, 2 * scale

    def kinds(self, decisions: list[Decision]) -> tuple[list[int], list[Decision]]:
        """Each decision's verdict as a small int (0 THROTTLE, 1 DELIVER, 2 EXEMPT), and
        the decisions with events or late, in order."""
        _, deliver, exempt = self.plain
        noted: list[Decision] = []
        note = self._noter(noted, KINDS)
        kinds = [0] * len(decisions)
        for i in self._others(decisions):
            d = decisions[i]
            kinds[i] = 1 if d is deliver else 2 if d is exempt else note(d)
        return kinds, noted

    def add_kinds(
        self, decisions: list[Decision], keys: Sequence[int], values: tuple[int, int, int]
    ) -> tuple[Sequence[int], list[Decision]]:
        """Each row's key in ``keys`` plus its decision's kind of verdict as its value in
        ``values`` (THROTTLE's is 0), and the decisions with events or late, in order:
        ``keys`` itself if every decision is the plain THROTTLE one."""
        others = self._others(decisions)
        if not others:
            return keys, []
        _, deliver, exempt = self.plain
        _, v1, v2 = values
        noted: list[Decision] = []
        note = self._noter(noted, values)
        # A throttled row's key is its key so far: most rows in a storm.
        added = list(keys)
        for i in others:
            d = decisions[i]
            added[i] += v1 if d is deliver else v2 if d is exempt else note(d)
        return added, noted

    def _others(self, decisions: list[Decision]) -> list[int]:
        """The indices of the decisions that are not the plain THROTTLE one, in order.

        Found at C speed, by identity alone (a decision's ``==`` is Python code): in a
        storm most rows are throttled, and only the others are looked at one by one.
        """
        indices = self._indices
        if len(indices) < len(decisions):
            # Made once: compress hands these very ints out, making none per row.
            indices.extend(range(len(indices), len(decisions)))
        throttle = itertools.repeat(self.plain[0])
        return list(itertools.compress(indices, map(operator.is_not, decisions, throttle)))

    def _noter(
        self, noted: list[Decision], values: tuple[int, int, int]
    ) -> Callable[[Decision], int]:
        """The function that looks at a decision that is not plain: its kind's value in
        ``values``; it goes to ``noted`` (events or late) or becomes its kind's plain one."""
        plain = self.plain

        def note(decision: Decision) -> int:
            kind = _kind(decision)
            if decision.events or decision.late:
                noted.append(decision)
            elif decision.metadata is NO_METADATA:
                # A shared one (the engine's have no metadata), met first or again after
                # another: a one-off (a delivery with metadata) would not come again.
                plain[kind] = decision
            return values[kind]

        return note

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

    def add_shaped(
        self, hours: int | list[int], keys: list[int], table: ShapeTable, counts: Counts
    ) -> None:
        """Count a block made of shapes of ``table``, each row's key its shape plus each
        policy's kind of verdict (:meth:`kinds` with :meth:`values`): one C-level pass.

        Blocks without shapes counted before are folded into ``counts`` first, so the
        devices come in the order they came; so are those of another table, so a table
        is held no longer than a reader uses it (a reader starts a new one when one is
        full: memory stays bounded).
        """
        if self.offered or (self.shaped and self.shaped[-1][1] is not table):
            self.fold(counts)
        if self._cells_table is not None and self._cells_table is not table:
            self._forget(None)  # nor its cells
        shaped = self.shaped
        if isinstance(hours, int):
            if not shaped or shaped[-1][0] != hours or shaped[-1][1] is not table:
                shaped.append((hours, table, Counter()))
            shaped[-1][2].update(keys)
            return
        if not shaped or shaped[-1][1] is not table:
            shaped.append((hours[0], table, Counter()))
        step = table.size * 3 ** len(self.kept)
        base = shaped[-1][0]
        shaped[-1][2].update(map(operator.add, keys, [(hour - base) * step for hour in hours]))

    def fold(self, counts: Counts) -> None:
        """Add the counts to ``counts`` (new devices in the order they came) and start
        again from zero."""
        if self.shaped:
            self._fold_shaped(counts)
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

    def _fold_shaped(self, counts: Counts) -> None:
        """Fold the blocks with shapes: each distinct key's cell and device counted once."""
        hours = counts.hours
        for base, table, counted in self.shaped:
            cells = self._cells_of(table)
            rows = hours.get(base)
            if rows is None:
                rows = hours[base] = {}
            if len(self.kept) == 1:
                self._fold_one(counts, base, rows, cells, table, counted)
            else:
                self._fold_many(counts, base, rows, cells, table, counted)
        self.shaped.clear()

    def _forget(self, table: ShapeTable | None) -> None:
        """Drop what is kept of the last table folded, to keep ``table``'s."""
        self._cells_table, self._cells, self._unique = table, [], {}
        self._sent, self._sent_devices = [], None

    def _cells_of(self, table: ShapeTable) -> list[tuple[int, tuple[str, ...]]]:
        """Each shape's (code, recipients) cell, one tuple per distinct cell, so the hour
        rows' lookups match by identity.

        Kept from fold to fold and extended by the shapes added since: a table is
        append-only, and rebuilding the list for a whole table at every fold would
        cost a pass over the table per fold (a file whose blocks alternate between
        plain and unusual ones folds at every turn). Only the current table's are
        kept: :meth:`add_shaped` drops them when blocks of another table come.
        """
        if table is not self._cells_table:
            self._forget(table)
        cells, unique = self._cells, self._unique
        known = len(cells)
        if known < len(table.codes):
            new = list(zip(table.codes[known:], table.recipients[known:], strict=True))
            cells.extend(map(unique.setdefault, new, new))
        return cells

    def _fold_one(
        self,
        counts: Counts,
        base: int,
        rows: HourRows,
        cells: list[tuple[int, tuple[str, ...]]],
        table: ShapeTable,
        counted: Counter[int],
    ) -> None:
        """:meth:`_fold_shaped` of one segment for one policy (a key's kinds are its kind):
        a throttled row of the segment's first hour has its shape as key (most keys), and
        each shape's device counts are kept for the table."""
        devices = counts.devices
        if self._sent_devices is not devices:
            # A device's counts are lists of ``counts``: another Counts, other lists.
            self._sent, self._sent_devices = [], devices
        sents = self._sent
        sents.extend(itertools.repeat(None, len(cells) - len(sents)))
        ids, size, slot_of = table.device_ids, table.size, _SLOT
        for key, n in counted.items():
            if 0 <= key < size:  # THROTTLE, in the segment's first hour
                shape, kind, at = key, 0, rows
            else:
                kind, shape = divmod(key, size)
                at = rows
                if not 0 <= kind <= 2:  # a row of another hour than the segment's first
                    later, kind = divmod(kind, 3)
                    at = counts.hours.setdefault(base + later, {})
            cell = cells[shape]
            row = at.get(cell)
            if row is None:
                row = at[cell] = [0, 0, 0]
            row[slot_of[kind]] += n
            sent = sents[shape]
            if sent is None:
                sent = devices.get(ids[shape])
                if sent is None:
                    sent = devices[ids[shape]] = [0, 0]
                sents[shape] = sent
            sent[0] += n
            if not kind:  # THROTTLE
                sent[1] += n

    def _fold_many(
        self,
        counts: Counts,
        base: int,
        rows: HourRows,
        cells: list[tuple[int, tuple[str, ...]]],
        table: ShapeTable,
        counted: Counter[int],
    ) -> None:
        """:meth:`_fold_shaped` of one segment for several policies."""
        width = len(self.kept)
        span = 3**width
        plans = _plans(width)
        hours, devices = counts.hours, counts.devices
        devices_get, ids, size = devices.get, table.device_ids, table.size
        for key, n in counted.items():
            kind, shape = divmod(key, size)
            at = rows
            if kind >= span or kind < 0:  # a row of another hour than the block's first
                later, kind = divmod(kind, span)
                at = hours.setdefault(base + later, {})
            cell = cells[shape]
            row = at.get(cell)
            if row is None:
                row = at[cell] = [0] * (3 * width)
            slots, throttled = plans[kind]
            for slot in slots:
                row[slot] += n
            device = ids[shape]
            sent = devices_get(device)
            if sent is None:
                sent = devices[device] = [0] * (1 + width)
            sent[0] += n
            for lane in throttled:
                sent[lane] += n


@functools.cache
def _plans(width: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Per key's kinds (policy ``i``'s kind times ``3 ** i``): the slots of an hour row
    it adds to, and of a device's counts (1 + ``i`` for a throttled one)."""
    plans = []
    for kinds in range(3**width):
        slots, throttled = [], []
        for i in range(width):
            kinds, kind = divmod(kinds, 3)
            slots.append(3 * i + _SLOT[kind])
            if kind == 0:  # THROTTLE
                throttled.append(1 + i)
        plans.append((tuple(slots), tuple(throttled)))
    return plans
