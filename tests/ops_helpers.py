"""Shared helpers of the operations tests: a naive capacity guard, bursty traffic, a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    CapacityLevel,
    CapacityThresholds,
    DeviceInfo,
    LevelChanged,
    PolicyConfig,
    Threshold,
    ThrottlePolicy,
)

GREEN, AMBER, RED = CapacityLevel.GREEN, CapacityLevel.AMBER, CapacityLevel.RED


@dataclass
class NaiveGuard:
    """Recounts every alert ever seen at every instant where the count can change."""

    thresholds: CapacityThresholds
    times: list[float] = field(default_factory=list)
    clock: float = float("-inf")
    level: CapacityLevel = GREEN

    def count_at(self, u: float) -> int:
        return sum(1 for s in self.times if s + self.thresholds.period > u)

    def _falls(self, now: float) -> list[LevelChanged]:
        period = self.thresholds.period
        departures = sorted({s + period for s in self.times if self.clock < s + period <= now})
        out = []
        for d in departures:
            count = self.count_at(d)
            level = self.level
            while level > GREEN and count < self.thresholds.clear_of(level):
                level = CapacityLevel(level - 1)
            if level != self.level:
                out.append(LevelChanged(at=d, old=self.level, new=level, window_count=count))
                self.level = level
        return out

    def observe(self, t: float) -> list[LevelChanged]:
        t = max(t, self.clock)
        out = self._falls(t)
        self.clock = t
        self.times.append(t)
        count = self.count_at(t)
        entered = max(
            (lvl for lvl, enter in ((AMBER, self.thresholds.amber), (RED, self.thresholds.red))
             if count >= enter),
            default=GREEN,
        )
        if entered > self.level:
            out.append(LevelChanged(at=t, old=self.level, new=entered, window_count=count))
            self.level = entered
        return out

    def advance(self, now: float) -> list[LevelChanged]:
        if now < self.clock:
            return []
        out = self._falls(now)
        self.clock = now
        return out


DAY = 86_400
DEVICES = [f"00-0D-6F-00-0A-BC-12-{n:02X}" for n in range(6)]
REGISTRY = {
    DEVICES[0]: DeviceInfo("Acme", "M1", "1.0"),
    DEVICES[1]: DeviceInfo("Acme", "M1", "1.0"),
    DEVICES[2]: DeviceInfo("Acme", "M1", "1.1"),
    DEVICES[3]: DeviceInfo("Bolt", None, None),
    # DEVICES[4] and [5] are unknown.
}
RECIPIENTS = [(), ("DNO-A",), ("SUP-B",), ("DNO-A", "SUP-B")]


@st.composite
def traffic(draw: st.DrawFn) -> list[Alert]:
    """Bursty alerts over up to three days, a few devices, codes and recipient sets."""
    alerts = []
    t = draw(st.integers(0, DAY))
    for _ in range(draw(st.integers(0, 120))):
        t += draw(st.sampled_from([0, 1, 1, 2, 5, 60, 3600, 20_000]))
        alerts.append(
            Alert(
                t,
                draw(st.sampled_from(DEVICES)),
                draw(st.sampled_from([0x8014, 0x8015, 0x8F84])),
                draw(st.sampled_from(RECIPIENTS)),
            )
        )
    return alerts


def run(alerts: list[Alert], config: PolicyConfig | None = None) -> list[Any]:
    """Feed the alerts, then advance far enough that every episode has ended."""
    policy = ThrottlePolicy(config or PolicyConfig(Threshold(limit=2, period=30, resume_below=1)))
    events = [e for alert in alerts for e in policy.feed(alert).events]
    events += policy.advance((alerts[-1].timestamp if alerts else 0) + 10 * DAY)
    return events


