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
from collections.abc import Callable, Iterable, Mapping, Sequence

from .._core.alert import Alert, DeviceInfo
from .._core.columns import AlertColumns, shaped_columns, shapes_of
from .._core.decision import Decision, Verdict
from .._core.errors import AlertThrottleError, PolicyError
from .._core.shapes import ShapeTable
from .._core.timefmt import HOUR
from .._engine.policy import ThrottlePolicy
from .._io.policyfile import PolicySpec
from .._io.traffic import TrafficReader
from .._io.trafficerrors import SkippedRow
from .._ops.shadow import ShadowPolicy
from .lane import Lane
from .report import Report
from .tables import Counts, HourRows, policy_report
from .tally import Tally

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
            self._lanes[0].feed_columns = self._shadow.feed_many
        self._observers = list(observers)
        for i, observer in enumerate(self._observers):
            if not callable(observer):
                raise PolicyError(
                    f"observers[{i}]", observer, "must be a function of (alert, decisions)"
                )
        self._busiest = busiest
        self._counts = Counts()
        self._tally = Tally(len(self._lanes))
        self._totals = [0] * len(self._lanes)
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
        stay fed and counted. A :class:`TrafficReader` is read in blocks of
        columns, which the policies decide without an ``Alert`` per row.
        """
        # Each policy counts one alert per decision, so the least total is the alerts
        # every policy has decided; blocks add their decisions to these.
        self._totals = [lane.policy.stats.total for lane in self._lanes]
        try:
            if self._observers or (
                len(self._lanes) > 1 and any(lane.policy.late == "reject" for lane in self._lanes)
            ):
                # Observers see each alert as it is decided (the root-cause tally reads the
                # make of the record being decided). Policies that reject late alerts would
                # stop at different alerts within a block: lanes before the one that stopped
                # must have decided exactly the alerts they decide when fed one by one.
                self._tally.fold(self._counts)
                self._run(alerts, self._feed_many, progress)
            elif isinstance(alerts, TrafficReader):
                self._run_columns(alerts, progress)
            else:
                self._run(alerts, self._feed_block, progress)
        except AlertThrottleError:
            raise
        except BaseException:
            # Not a refused alert: a policy may have stopped inside a block uncounted.
            self._count = min(lane.policy.stats.total for lane in self._lanes)
            raise

    def _run(
        self,
        alerts: Iterable[Alert],
        feed: Callable[[Iterable[Alert]], None],
        progress: Callable[[int], None] | None,
    ) -> None:
        """Feed ``alerts`` in pieces with ``feed``, reporting progress between them."""
        iterator = iter(alerts)
        counts = self._counts
        if counts.first is None:
            head = next(iterator, None)
            if head is None:
                return
            counts.first = head.timestamp
            iterator = itertools.chain((head,), iterator)
        every = PROGRESS_EVERY
        alone = feed == self._feed_many
        while True:
            before = self._count
            # Up to the next multiple of PROGRESS_EVERY, where progress is reported.
            size = every - before % every
            if not alone:
                size = min(size, _BLOCK)
            try:
                feed(itertools.islice(iterator, size))
            finally:
                if alone:
                    self._totals = [lane.policy.stats.total for lane in self._lanes]
                self._count = min(self._totals)
                # A policy's clock is the latest timestamp fed to it: late alerts are
                # clamped to it and never move it back.
                counts.last = self._lanes[0].policy.clock
            if self._count - before < size:
                break
            if progress is not None and self._count % every == 0:
                progress(self._count)

    def _run_columns(self, reader: TrafficReader, progress: Callable[[int], None] | None) -> None:
        """Feed the reader's blocks of columns, cut where progress is reported."""
        every = PROGRESS_EVERY
        counts = self._counts
        for block in reader.blocks(_BLOCK):
            if counts.first is None:
                counts.first = block.timestamps[0]
            rest: AlertColumns | None = block
            while rest is not None:
                part = rest
                # Up to the next multiple of PROGRESS_EVERY, where progress is reported.
                room = every - self._count % every
                rest = None
                if len(part) > room:
                    part, rest = _rows(part, 0, room), _rows(part, room, len(part))
                self._decide_columns(part)
                if progress is not None and self._count % every == 0:
                    progress(self._count)
        if counts.first is not None:
            self._count = min(self._totals)
            counts.last = self._lanes[0].policy.clock

    def _decide_columns(self, block: AlertColumns) -> None:
        """Feed ``block`` to each lane in turn and count what every lane decided."""
        results: list[list[Decision]] = []
        error: AlertThrottleError | None = None
        rows = block
        for lane in self._lanes:
            try:
                decisions = lane.feed_columns(rows)
            except AlertThrottleError as exc:
                # Every lane stops at the same alert (a late one under "reject" is fed
                # alert by alert with several lanes): later lanes get the rows before it.
                decisions = exc.decisions or []
                if len(decisions) < len(rows):
                    rows = _rows(rows, 0, len(decisions))
                error = error or _as_fed_alone(exc)
            results.append(decisions)
        if shapes_of(block) is None:
            self._count_block(block, block.device_ids, block.codes, block.recipients, results)
        else:
            # Counted by shape: the columns from the table are not gathered.
            self._count_block(block, (), (), (), results)
        if error is not None:
            raise error

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
        # Comprehensions, not map(attrgetter): CPython specialises their attribute loads.
        self._count_block(
            block,
            [alert.device_id for alert in block],
            [alert.code for alert in block],
            [alert.recipients for alert in block],
            results,
        )
        if error is not None:
            raise error

    def _count_block(
        self,
        block: AlertColumns | list[Alert],
        device_ids: Sequence[str],
        codes: Sequence[int],
        recipients: Sequence[tuple[str, ...]],
        results: list[list[Decision]],
    ) -> None:
        """Count the alerts of a block (with its columns, none for a shaped block) that
        every lane decided, as :meth:`_feed_many` would one by one; ``results`` are each
        lane's decisions."""
        totals = self._totals
        for i, decisions in enumerate(results):
            totals[i] += len(decisions)
        done = min(map(len, results))
        lanes = self._lanes
        clock = lanes[0].policy.clock
        if done:
            shaped = shapes_of(block) if isinstance(block, AlertColumns) else None
            if done < len(block):
                device_ids, codes, recipients = device_ids[:done], codes[:done], recipients[:done]
                results = [decisions[:done] for decisions in results]
                if shaped is not None:
                    shaped = (shaped[0][:done], shaped[1])
            # Each lane's verdicts, and the few decisions with events or late.
            # With shapes, each lane's kinds are added to the keys of the rows.
            tally = self._tally
            kinds, late = [], False
            keys: Sequence[int] | None = None if shaped is None else shaped[0]
            for i, (lane, decisions) in enumerate(zip(lanes, results, strict=True)):
                if keys is None:
                    verdicts, noted = tally.kinds(decisions)
                    kinds.append(verdicts)
                else:
                    keys, noted = tally.add_kinds(decisions, keys, tally.values(i, shaped[1]))  # type: ignore[index]
                late = late or (i == 0 and any(d.late for d in noted))
                for decision in noted:
                    if decision.events:
                        lane.note(decision.events)
            if shaped is None:
                tally.add(_hours(block, done, late, clock), device_ids, codes, recipients, kinds)
            elif late or clock is None:
                tally.add_shaped(_hours(block, done, late, clock), keys, shaped[1], self._counts)  # type: ignore[arg-type]
            else:
                self._count_runs(block.timestamps, done, clock, keys, shaped[1])  # type: ignore[arg-type, union-attr]
        self._count = min(totals)
        # A policy's clock is the latest timestamp fed to it: late alerts are
        # clamped to it and never move it back.
        self._counts.last = clock

    def _count_runs(
        self,
        times: Sequence[int | float],
        done: int,
        clock: float,
        keys: list[int],
        table: ShapeTable,
    ) -> None:
        """Count the first ``done`` rows of a block of shapes with no late alert (so in time
        order, ``clock`` at least their latest time) an hour's run at a time, each run's
        rows with one hour: most blocks are one run, the others end an hour."""
        tally, counts = self._tally, self._counts
        start = 0
        while start < done:
            hour = int(times[start]) // HOUR
            end = (hour + 1) * HOUR
            stop = done if clock < end else bisect.bisect_left(times, end, start, done)
            tally.add_shaped(
                hour, keys if stop - start == len(keys) else keys[start:stop], table, counts
            )
            start = stop

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
        self._tally.fold(self._counts)
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


def _hours(
    block: AlertColumns | list[Alert], done: int, late: bool, clock: float | None
) -> int | list[int]:
    """The hour of the first ``done`` alerts of ``block``, if they share one, else each one's.

    ``clock`` is the first lane's after deciding them, so at least their latest time;
    with no late one among them they are in time order from the first, so they share
    its hour if the clock does.
    """
    if isinstance(block, AlertColumns):
        times: Sequence[int | float] = block.timestamps
    else:
        times = [block[0].timestamp]
    hour = int(times[0]) // HOUR
    if not late and clock is not None and clock < (hour + 1) * HOUR:
        return hour
    if isinstance(block, AlertColumns):
        times = block.timestamps[:done]
    else:
        times = [alert.timestamp for alert in block[:done]]
    return [int(t) // HOUR for t in times]


def _rows(columns: AlertColumns, start: int, stop: int) -> AlertColumns:
    """Rows ``start`` to ``stop`` of ``columns`` (checked again: a cut is rare), with their
    shapes if they have them."""
    shaped = shapes_of(columns)
    if shaped is not None:
        return shaped_columns(columns.timestamps[start:stop], shaped[0][start:stop], shaped[1])
    return AlertColumns(
        columns.timestamps[start:stop],
        columns.device_ids[start:stop],
        columns.codes[start:stop],
        columns.recipients[start:stop],
    )


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
