"""One policy inside a replay: the policy, how it is fed, and what it says about episodes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .._core.alert import Alert
from .._core.columns import AlertColumns
from .._core.decision import Decision
from .._core.events import Event, LevelChanged, ThrottlingStarted
from .._core.timefmt import HOUR
from .._engine.policy import ThrottlePolicy
from .._io.policyfile import PolicySpec

__all__ = ["Cell", "Lane", "spec_of"]

#: An episode's or a table cell's place: (hour since the epoch, code, recipients).
Cell = tuple[int, int, tuple[str, ...]]


def spec_of(policy: ThrottlePolicy, name: str = "policy") -> PolicySpec:
    """The :class:`PolicySpec` that builds a policy configured like ``policy``."""
    guard = policy.capacity
    return PolicySpec(
        policy.config,
        policy.late,
        name,
        None if guard is None else guard.thresholds,
        policy.engage_at,
    )


class Lane:
    """A policy being replayed (built from its spec, or given), and its episode starts.

    ``feed``, ``feed_many`` and ``feed_columns`` are what the replay calls per
    alert, per block of alerts and per block of columns: the policy's own, or a
    shadow wrapper's whose decisions are the policy's.
    """

    __slots__ = (
        "device_days",
        "device_episodes",
        "episodes",
        "feed",
        "feed_columns",
        "feed_many",
        "levels",
        "policy",
        "spec",
        "started_events",
    )

    def __init__(self, policy: PolicySpec | ThrottlePolicy) -> None:
        if isinstance(policy, ThrottlePolicy):
            self.spec = spec_of(policy)
            self.policy = policy
        else:
            self.spec = policy
            self.policy = policy.build()
        self.feed: Callable[[Alert], Decision] = self.policy.feed
        self.feed_many: Callable[[list[Alert]], list[Decision]] = self.policy.feed_many
        self.feed_columns: Callable[[AlertColumns], list[Decision]] = self.policy.feed_columns
        self.episodes: dict[Cell, int] = {}
        self.device_episodes: dict[str, int] = {}
        self.device_days: set[tuple[str, int, tuple[str, ...]]] = set()
        # Kept for the incident books, built once the device makes are known.
        self.started_events: list[ThrottlingStarted] = []
        self.levels: list[LevelChanged] = []

    def note(self, events: Iterable[Event]) -> None:
        """Count a decision's episode starts and keep the capacity guard's level changes."""
        for event in events:
            if type(event) is ThrottlingStarted:
                self.started(event)
            elif type(event) is LevelChanged:
                self.levels.append(event)

    def started(self, event: ThrottlingStarted) -> None:
        """Count one episode start in its cell, for its device and device-day."""
        self.started_events.append(event)
        hour = int(event.at) // HOUR
        cell = (hour, event.code, event.recipients)
        self.episodes[cell] = self.episodes.get(cell, 0) + 1
        device = event.device_id
        self.device_episodes[device] = self.device_episodes.get(device, 0) + 1
        self.device_days.add((device, hour // 24, event.recipients))
