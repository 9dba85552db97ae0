"""The replay loop: feed alert traffic through one or more policies and account for everything.

Every what-if in the package runs through :class:`Replay`: ``simulate`` and
``sweep`` (several policies side by side), shadow comparisons (the first
policy fed through a :class:`ShadowPolicy`) and the root-cause report (an
observer that tallies each decision by device make). The loop reads the
alerts once and feeds each to every policy, so policies compared side by side
see exactly the same traffic; :mod:`.tables` turns what it counted into a
:class:`Report` of plain, frozen values.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .._core.alert import Alert, DeviceInfo
from .._core.decision import Decision, Verdict
from .._core.errors import AlertThrottleError, PolicyError
from .._core.timefmt import HOUR
from .._engine.policy import ThrottlePolicy
from .._io.policyfile import PolicySpec
from .._io.traffic import SkippedRow
from .._ops.shadow import ShadowPolicy
from .lane import Lane
from .report import Report
from .tables import Counts, DeviceCounts, HourRows, policy_report

__all__ = ["PROGRESS_EVERY", "Observer", "Replay", "simulate"]

#: How often (in alerts) a replay reports progress.
PROGRESS_EVERY = 1 << 16

#: Alerts fed to the policies at a time with ``feed_many``. Small enough that most alerts
#: are freed before the garbage collector's older generations see them (65,536 at a time
#: made CPython's collector several times busier than feeding them one by one).
_BLOCK = 1 << 9

#: Called after every alert the policies decided, with their decisions in policy order.
Observer = Callable[[Alert, list[Decision]], None]


class Replay:
    """Feeds alerts through several policies at once and builds the :class:`Report`.

    Use :meth:`run` (any number of times, in time order) then :meth:`report`;
    or :func:`simulate`, which does both. ``policies`` are specs (each builds
    its own policy) or policies to feed as they are.

    ``candidates`` are shadow configurations for the first policy: it is fed
    through a :class:`ShadowPolicy` holding them, so its own figures are
    unchanged and :attr:`Report.shadow` says what each candidate would have
    done. Candidate names must be distinct and not ``"live"``; a candidate
    runs with the live late mode, so one asking for another is refused.

    ``observers`` are called after each alert every policy decided, with the
    alert and the decisions: the way to add a report that needs more than the
    built-in counts.
    """

    def __init__(
        self,
        policies: Sequence[PolicySpec | ThrottlePolicy],
        *,
        busiest: int = 10,
        candidates: Sequence[PolicySpec] = (),
        observers: Sequence[Observer] = (),
    ) -> None:
        if not policies:
            raise PolicyError("policies", policies, "at least one policy is needed")
        for i, policy in enumerate(policies):
            if not isinstance(policy, PolicySpec | ThrottlePolicy):
                raise PolicyError(
                    f"policies[{i}]", policy, "must be a PolicySpec or ThrottlePolicy"
                )
        self._lanes = [Lane(policy) for policy in policies]
        self._shadow = _shadow(self._lanes[0], candidates) if candidates else None
        if self._shadow is not None:
            # The live lane counts the decisions ShadowPolicy returns, which are the live ones.
            self._lanes[0].feed = self._shadow.feed
            self._lanes[0].feed_many = self._shadow.feed_many
        self._observers = list(observers)
        for i, observer in enumerate(self._observers):
            if not callable(observer):
                raise PolicyError(
                    f"observers[{i}]", observer, "must be a function of (alert, decisions)"
                )
        self._busiest = busiest
        self._counts = Counts()
        self._count = 0

    @property
    def alerts(self) -> int:
        """Alerts replayed so far."""
        return self._count

    @property
    def policies(self) -> list[ThrottlePolicy]:
        """The policies being fed, in order."""
        return [lane.policy for lane in self._lanes]

    def run(self, alerts: Iterable[Alert], progress: Callable[[int], None] | None = None) -> None:
        """Feed ``alerts`` to every policy, counting as it goes.

        ``progress`` is called with the running alert count every
        :data:`PROGRESS_EVERY` alerts. If an alert raises (a late one under
        ``late = "reject"``, a bad row from a reader), the alerts before it
        stay fed and counted.
        """
        iterator = iter(alerts)
        counts = self._counts
        if counts.first is None:
            head = next(iterator, None)
            if head is None:
                return
            counts.first = head.timestamp
            iterator = itertools.chain((head,), iterator)
        feed = self._feed_block
        if self._observers or (
            len(self._lanes) > 1 and any(lane.policy.late == "reject" for lane in self._lanes)
        ):
            # Observers see each alert as it is decided (the root-cause tally reads the
            # make of the record being decided). Policies that reject late alerts would
            # stop at different alerts within a block: lanes before the one that stopped
            # must have decided exactly the alerts they decide when fed one by one.
            feed = self._feed_many
        every = PROGRESS_EVERY
        while True:
            before = self._count
            # Up to the next multiple of PROGRESS_EVERY, where progress is reported.
            size = every - before % every
            if feed == self._feed_block:
                size = min(size, _BLOCK)
            try:
                feed(itertools.islice(iterator, size))
            finally:
                # Each policy counts one alert per successful feed, so the least
                # total is the alerts every policy has decided.
                self._count = min(lane.policy.stats.total for lane in self._lanes)
                # A policy's clock is the latest timestamp fed to it: late alerts are
                # clamped to it and never move it back.
                counts.last = self._lanes[0].policy.clock
            if self._count - before < size:
                break
            if progress is not None and self._count % every == 0:
                progress(self._count)

    def _feed_block(self, alerts: Iterable[Alert]) -> None:
        """Feed ``alerts`` to every policy with ``feed_many`` and count them in bulk.

        The same counts as :meth:`_feed_many` alert by alert: if reading the
        alerts raises, those read before are fed and counted, then it re-raises;
        if an alert raises in a policy, the alerts before it are counted.
        """
        block: list[Alert] = []
        try:
            block.extend(alerts)
        finally:
            if block:
                self._decide_block(block)

    def _decide_block(self, block: list[Alert]) -> None:
        """Feed ``block`` to each lane in turn and count what every lane decided."""
        results: list[list[Decision]] = []
        error: AlertThrottleError | None = None
        for lane in self._lanes:
            try:
                decisions = lane.feed_many(block)
            except AlertThrottleError as exc:
                # Without observers or late="reject", every lane stops at the same alert
                # (one that is no Alert): the later lanes are fed the alerts before it.
                decisions = exc.decisions or []
                del block[len(decisions) :]
                error = error or _as_fed_alone(exc)
            results.append(decisions)
        done = min(len(decisions) for decisions in results)
        if done:
            self._tally(block[:done] if done < len(block) else block, results)
        if error is not None:
            raise error

    def _tally(self, alerts: list[Alert], results: list[list[Decision]]) -> None:
        """Count a block of decided alerts, as :meth:`_feed_many` would one by one."""
        for decisions in results:
            del decisions[len(alerts) :]
        verdicts = [list(map(_VERDICT, decisions)) for decisions in results]
        codes = list(map(_CODE, alerts))
        recipients = list(map(_RECIPIENTS, alerts))
        times = list(map(_TIMESTAMP, alerts))
        hours = self._counts.hours
        if all(map(operator.le, times, itertools.islice(times, 1, None))):
            # In time order: an hour's alerts are one run, counted by (code, recipients).
            for hour, start, stop in _hour_runs(times):
                table = hours.setdefault(hour, {})
                cells = [codes[start:stop], recipients[start:stop]]
                _count_cells(cells, [v[start:stop] for v in verdicts], _only(table))
        else:
            late = [int(t) // HOUR for t in times]
            _count_cells([late, codes, recipients], verdicts, lambda c: hours.setdefault(c[0], {}))
        device_ids = list(map(_DEVICE_ID, alerts))
        devices = _devices(self._counts.devices, Counter(device_ids), len(results))
        for i, (lane, lane_verdicts) in enumerate(zip(self._lanes, verdicts, strict=False)):
            # Every alert is counted as throttled, then those that were not are taken off.
            kept = map(operator.is_not, lane_verdicts, itertools.repeat(Verdict.THROTTLE))
            for device, n in Counter(itertools.compress(device_ids, kept)).items():
                devices[device][1 + i] -= n
            for events in filter(None, map(_EVENTS, results[i])):
                lane.note(events)

    def _feed_many(self, alerts: Iterable[Alert]) -> None:
        """Feed ``alerts`` to every policy, count them and show them to the observers."""
        # The hot loop. Alerts come in time order, so the hour's table is looked up
        # again only when an alert leaves the current hour (late ones do).
        devices, devices_get = self._counts.devices, self._counts.devices.get
        hours = self._counts.hours
        lanes = self._lanes
        feeds = [lane.feed for lane in lanes]
        observe = self._observe()
        width = len(lanes)
        deliver = Verdict.DELIVER
        throttle = Verdict.THROTTLE
        start = end = 0
        rows: HourRows = {}
        for alert in alerts:
            t = alert.timestamp
            if not start <= t < end:
                hour = int(t) // HOUR
                start, end = hour * HOUR, (hour + 1) * HOUR
                rows = hours.setdefault(hour, {})
            # Every policy decides before anything is counted: an alert that raises
            # is not counted at all.
            decisions = [feed(alert) for feed in feeds]
            key = (alert.code, alert.recipients)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [0] * (3 * width)
            device = alert.device_id
            sent = devices_get(device)
            if sent is None:
                sent = devices[device] = [0] * (1 + width)
            sent[0] += 1
            for i, decision in enumerate(decisions):
                verdict = decision.verdict
                if verdict is deliver:
                    row[3 * i] += 1
                elif verdict is throttle:
                    row[3 * i + 1] += 1
                    sent[1 + i] += 1
                else:
                    row[3 * i + 2] += 1
                if decision.events:
                    lanes[i].note(decision.events)
            if observe is not None:
                observe(alert, decisions)

    def _observe(self) -> Observer | None:
        """The one function the loop calls per alert: ``None``, the observer, or all of them."""
        observers = self._observers
        if len(observers) <= 1:
            return observers[0] if observers else None

        def every(alert: Alert, decisions: list[Decision]) -> None:
            for observe in observers:
                observe(alert, decisions)

        return every

    def report(
        self,
        *,
        source: str = "",
        devices: Mapping[str, DeviceInfo] | None = None,
        skipped: int = 0,
        skipped_rows: Sequence[SkippedRow] = (),
    ) -> Report:
        """The report so far; ``devices`` (makes) and skipped rows come from the reader."""
        infos = devices or {}
        policies = tuple(
            policy_report(self._counts, i, lane, infos, skipped=skipped, busiest=self._busiest)
            for i, lane in enumerate(self._lanes)
        )
        return Report(
            source=source,
            alerts=self._count,
            first=self._counts.first,
            last=self._counts.last,
            skipped=skipped,
            skipped_rows=tuple(skipped_rows),
            policies=policies,
            shadow=None if self._shadow is None else self._shadow.comparison,
        )


_TIMESTAMP = operator.attrgetter("timestamp")
_DEVICE_ID = operator.attrgetter("device_id")
_CODE = operator.attrgetter("code")
_RECIPIENTS = operator.attrgetter("recipients")
_VERDICT = operator.attrgetter("verdict")
_EVENTS = operator.attrgetter("events")


def _hour_runs(times: list[int | float]) -> Iterator[tuple[int, int, int]]:
    """(hour since the epoch, start, stop) of each hour's run of ``times``, which are in order."""
    start, end = 0, len(times)
    while start < end:
        hour = int(times[start]) // HOUR
        # Times are >= 0, so int(t) // HOUR == hour exactly when t < (hour + 1) * HOUR.
        stop = bisect.bisect_left(times, (hour + 1) * HOUR, start, end)
        yield hour, start, stop
        start = stop


def _only(table: HourRows) -> Callable[[tuple[Any, ...]], HourRows]:
    """The hour table of every cell of a run: ``table``."""
    return lambda _cell: table


def _count_cells(
    cells: list[list[Any]],
    verdicts: list[list[Verdict]],
    table_of: Callable[[tuple[Any, ...]], HourRows],
) -> None:
    """Add each lane's verdicts to the rows of the cells whose columns are ``cells`` (per
    alert: its cell, ending with (code, recipients)); ``table_of`` is a cell's hour table.

    One pass counts each (cell, then per lane: DELIVER?, EXEMPT?); the flags are bools,
    which hash as cheaply as ints (a Verdict's hash is Python code).
    """
    flags: list[Iterator[bool]] = []
    for lane in verdicts:
        flags.append(map(operator.is_, lane, itertools.repeat(Verdict.DELIVER)))
        flags.append(map(operator.is_, lane, itertools.repeat(Verdict.EXEMPT)))
    size = len(cells)
    rows: dict[tuple[Any, ...], list[int]] = {}
    # New rows are made in the order their first alerts came, as the loop makes them.
    for key, n in Counter(zip(*cells, *flags, strict=True)).items():
        cell = key[:size]
        row = rows.get(cell)
        if row is None:
            table = table_of(cell)
            code_recipients = cell[-2:]
            row = table.get(code_recipients)
            if row is None:
                row = table[code_recipients] = [0] * (3 * len(verdicts))
            rows[cell] = row
        for i in range(len(verdicts)):
            delivered, exempt = key[size + 2 * i], key[size + 2 * i + 1]
            row[3 * i + (0 if delivered else 2 if exempt else 1)] += n


def _devices(devices: DeviceCounts, offered: Counter[str], width: int) -> DeviceCounts:
    """Add ``offered`` to the per-device counts (offered, and throttled by every lane),
    new devices in the order they came.
    """
    get = devices.get
    for device, n in offered.items():
        sent = get(device)
        if sent is None:
            devices[device] = [n] * (1 + width)
        elif width == 1:
            sent[0] += n
            sent[1] += n
        else:
            for i in range(1 + width):
                sent[i] += n
    return devices


def _as_fed_alone(exc: AlertThrottleError) -> AlertThrottleError:
    """``exc`` as feeding its alert alone raises it: no batch index, decisions or note."""
    note = exc.__notes__[-1] if getattr(exc, "__notes__", None) else None
    if note is not None and note.startswith("feed_many stopped at index"):
        exc.__notes__.pop()
    exc.index = exc.decisions = None
    return exc


def _shadow(live: Lane, candidates: Sequence[PolicySpec]) -> ShadowPolicy:
    """The shadow wrapper of the live lane's policy, the candidates checked first."""
    for i, candidate in enumerate(candidates):
        if not isinstance(candidate, PolicySpec):
            raise PolicyError(f"candidates[{i}]", candidate, "must be a PolicySpec")
        if candidate.late != live.spec.late:
            raise PolicyError(
                f"candidates.{candidate.name}.late",
                candidate.late,
                f"must be the live policy's late mode, {live.spec.late!r} (a shadow "
                "candidate sees the alerts as the live policy takes them)",
            )
    names = [candidate.name for candidate in candidates]
    if len(set(names)) != len(names):
        raise PolicyError("candidates", names, "names must be distinct")
    return ShadowPolicy(live.policy, {candidate.name: candidate.config for candidate in candidates})


def simulate(
    alerts: Iterable[Alert],
    policies: Sequence[PolicySpec | ThrottlePolicy],
    *,
    source: str = "",
    devices: Mapping[str, DeviceInfo] | None = None,
    busiest: int = 10,
    progress: Callable[[int], None] | None = None,
    candidates: Sequence[PolicySpec] = (),
) -> Report:
    """Replay ``alerts`` (in time order) through ``policies`` and return the :class:`Report`.

    ``devices`` maps device ids to makes for the root-cause table. Skipped
    rows are counted by the reader; pass them through :meth:`Replay.report`
    when reading files (the CLI does). ``candidates`` shadow the first
    policy (see :class:`Replay`).
    """
    replay = Replay(policies, busiest=busiest, candidates=candidates)
    replay.run(alerts, progress)
    return replay.report(source=source, devices=devices)
