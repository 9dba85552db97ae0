"""System capacity: how many alerts, of every code, the DSP is taking, as GREEN / AMBER / RED.

Per-device throttling protects recipients from one device's storm; it does not
see the total load, and exempt codes bypass it entirely. A :class:`CapacityGuard`
counts every alert (exempt ones too) in one exact sliding window and turns the
count into a level with its own hysteresis, so an adapter can engage throttling,
page an operator or shed load when the system, not one key, is under pressure.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from .._core.alert import parse_timestamp
from .._core.config import build_from_dict
from .._core.errors import PolicyError, shown
from .._core.events import CapacityLevel, LevelChanged
from .._core.validation import PERIOD, integer

__all__ = ["CapacityGuard", "CapacityLevel", "CapacityThresholds"]

_GREEN = CapacityLevel.GREEN
_AMBER = CapacityLevel.AMBER
_RED = CapacityLevel.RED
_NO_CHANGES: tuple[LevelChanged, ...] = ()


_COUNT = integer(1)


@attrs.frozen(slots=True, init=False)
class CapacityThresholds:
    """When the system is AMBER or RED, by the count of all alerts in ``(t - period, t]``.

    A level is entered as soon as the window holds ``amber`` (``red``) alerts,
    and left only when it holds fewer than ``amber_clear`` (``red_clear``);
    the clear values default to the enter values (no hysteresis). Leaving RED
    falls to AMBER or, if the count is also below ``amber_clear``, to GREEN.
    """

    period: int | float = attrs.field(validator=PERIOD)
    amber: int = attrs.field(validator=_COUNT)
    red: int = attrs.field(validator=_COUNT)
    amber_clear: int = attrs.field(validator=_COUNT)
    red_clear: int = attrs.field(validator=_COUNT)

    def __init__(
        self,
        period: int | float,
        amber: int,
        red: int,
        amber_clear: int | None = None,
        red_clear: int | None = None,
    ) -> None:
        self.__attrs_init__(
            period,
            amber,
            red,
            amber if amber_clear is None else amber_clear,
            red if red_clear is None else red_clear,
        )

    def __attrs_post_init__(self) -> None:
        if self.amber > self.red:
            raise PolicyError("amber", self.amber, f"must be <= red ({shown(self.red)})")
        if self.amber_clear > self.amber:
            raise PolicyError(
                "amber_clear", self.amber_clear, f"must be <= amber ({shown(self.amber)})"
            )
        if self.red_clear > self.red:
            raise PolicyError("red_clear", self.red_clear, f"must be <= red ({shown(self.red)})")

    def entered(self, count: int) -> CapacityLevel:
        """The level a window of ``count`` alerts reaches, ignoring hysteresis."""
        if count >= self.red:
            return _RED
        if count >= self.amber:
            return _AMBER
        return _GREEN

    def clear_of(self, level: CapacityLevel) -> int:
        """The count below which ``level`` is left (0 for GREEN, which is never left)."""
        return (0, self.amber_clear, self.red_clear)[level]

    def as_dict(self) -> dict[str, int | float]:
        """The thresholds as plain data, ready for JSON or TOML."""
        return {
            "period": self.period,
            "amber": self.amber,
            "red": self.red,
            "amber_clear": self.amber_clear,
            "red_clear": self.red_clear,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], path: str = "") -> CapacityThresholds:
        """Build thresholds from plain data; errors name the key path (``capacity.red``)."""
        return build_from_dict(
            cls,
            data,
            path,
            known=("period", "amber", "red", "amber_clear", "red_clear"),
            required=("period", "amber", "red"),
        )


class CapacityGuard:
    """Counts every alert in an exact sliding window and reports the system's capacity level.

    :meth:`observe` records one alert; :meth:`advance` moves the clock without
    one. Both return the :class:`LevelChanged` events that happened up to that
    time, in order of ``at``: a level can fall between alerts (when old alerts
    leave the window), so falls are dated when the count crossed the clear
    value, not when somebody looked. Memory is one float per alert in the
    window. Like the policy, the guard never reads the wall clock; a time below
    its clock is taken as the clock (late alerts still count).
    """

    __slots__ = ("_clock", "_level", "_period", "_rise_at", "_stay_at", "_thresholds", "_times")

    def __init__(self, thresholds: CapacityThresholds) -> None:
        if not isinstance(thresholds, CapacityThresholds):
            raise PolicyError("thresholds", thresholds, "must be a CapacityThresholds")
        self._thresholds = thresholds
        self._period = thresholds.period
        self._times: deque[float] = deque()
        self._clock: float = -math.inf
        self._level = _GREEN
        # The window count that raises the level, and the one it needs to stay.
        self._rise_at: float = thresholds.amber
        self._stay_at = 0

    @property
    def thresholds(self) -> CapacityThresholds:
        """The thresholds in force."""
        return self._thresholds

    @property
    def level(self) -> CapacityLevel:
        """The level at the clock."""
        return self._level

    @property
    def count(self) -> int:
        """The number of alerts in the window ``(clock - period, clock]``."""
        return len(self._times)

    @property
    def clock(self) -> float | None:
        """The largest time seen; ``None`` before any."""
        return None if self._clock == -math.inf else self._clock

    def observe(self, at: float | object) -> tuple[LevelChanged, ...]:
        """Count one alert at ``at`` and return the level changes up to and including it."""
        return self._observe(parse_timestamp(at, "at"))

    def advance(self, now: float | object) -> tuple[LevelChanged, ...]:
        """Move the clock to ``now`` and return the level falls due by then.

        A ``now`` below the clock moves nothing and returns nothing.
        """
        t = parse_timestamp(now, "now")
        if t < self._clock:
            return _NO_CHANGES
        self._clock = t
        times = self._times
        if times and times[0] + self._period <= t:
            return self._expire(t)
        return _NO_CHANGES

    def _observe(self, t: float) -> tuple[LevelChanged, ...]:
        """``observe`` without validation, for the policy's hot path."""
        if t < self._clock:
            t = self._clock
        else:
            self._clock = t
        times = self._times
        changes = self._expire(t) if times and times[0] + self._period <= t else _NO_CHANGES
        times.append(t)
        if len(times) >= self._rise_at:
            return (*changes, self._rise(t))
        return changes

    def _rise(self, t: float) -> LevelChanged:
        old = self._level
        count = len(self._times)
        new = self._thresholds.entered(count)
        self._set(new)
        return LevelChanged(at=t, old=old, new=new, window_count=count)

    def _expire(self, now: float) -> tuple[LevelChanged, ...]:
        """Drop the alerts that left the window by ``now``; date each fall at its departure."""
        times = self._times
        period = self._period
        changes: list[LevelChanged] = []
        while times and times[0] + period <= now:
            if self._level is _GREEN:
                # GREEN is never left: no need to look at the count between departures.
                while times and times[0] + period <= now:
                    times.popleft()
                break
            leaving = times[0] + period
            while times and times[0] + period == leaving:
                times.popleft()
            count = len(times)
            if count < self._stay_at:
                old = level = self._level
                while level is not _GREEN and count < self._thresholds.clear_of(level):
                    level = CapacityLevel(level - 1)
                self._set(level)
                changes.append(LevelChanged(at=leaving, old=old, new=level, window_count=count))
        return tuple(changes)

    def _set(self, level: CapacityLevel) -> None:
        thresholds = self._thresholds
        self._level = level
        self._stay_at = thresholds.clear_of(level)
        self._rise_at = (
            thresholds.amber if level is _GREEN else thresholds.red if level is _AMBER else math.inf
        )

    def dump(self) -> dict[str, Any]:
        """The guard's whole state as plain data (snapshots); :meth:`restored` reads it back."""
        return {
            "thresholds": self._thresholds.as_dict(),
            "clock": self.clock,
            "level": self._level.name,
            "times": list(self._times),
        }

    @classmethod
    def restored(
        cls,
        thresholds: CapacityThresholds,
        clock: float | None,
        level: CapacityLevel,
        times: list[float],
    ) -> CapacityGuard:
        """A guard in the state :meth:`dump` saw; :class:`PolicyError` names what cannot hold."""
        now = -math.inf if clock is None else clock
        if times != sorted(times) or any(t + thresholds.period <= now or t > now for t in times):
            raise PolicyError("times", len(times), "must be sorted and inside the window")
        count = len(times)
        if level < thresholds.entered(count) or count < thresholds.clear_of(level):
            raise PolicyError("level", level.name, f"cannot hold with {count} alerts in the window")
        guard = cls(thresholds)
        guard._times.extend(times)
        guard._clock = now
        guard._set(level)
        return guard

    def _check(self) -> None:
        """Assert the guard's invariants (tests run it after every step)."""
        times = list(self._times)
        assert times == sorted(times)
        assert all(s + self._period > self._clock for s in times)
        count = len(times)
        thresholds = self._thresholds
        level = self._level
        # Never below the level the count alone reaches, and never above one it could not hold.
        assert level >= thresholds.entered(count)
        assert count >= thresholds.clear_of(level)
        assert self._stay_at == thresholds.clear_of(level)
