"""Shadow policies: candidate configurations see the live traffic, and nobody sees them.

A dry run for a parameter change: feed a :class:`ShadowPolicy` instead of the
live policy; it returns the live decisions only, runs each candidate on the
same alerts, and keeps a running :class:`ShadowComparison` of what each
would have delivered, throttled and notified, and how many verdicts differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from .._core.alert import Alert
from .._core.config import PolicyConfig
from .._core.decision import Decision, Verdict
from .._core.errors import AlertThrottleError, PolicyError
from .._core.events import Event, LevelChanged, ThrottlingStarted
from .._engine.capacity import CapacityGuard
from .._engine.policy import ThrottlePolicy

__all__ = ["ShadowComparison", "ShadowPolicy", "ShadowTally"]

LIVE = "live"


@attrs.frozen(slots=True, kw_only=True)
class ShadowTally:
    """What one policy did (live) or would have done (a candidate) with the shadowed alerts.

    ``episodes`` counts episodes started and ``notifications`` the episode
    events (starts and ends) that would have been sent. ``different`` counts
    alerts whose verdict differs from the live one; of those,
    ``delivered_instead`` would have reached their recipients (``DELIVER`` or
    ``EXEMPT``) where live throttled them, and ``throttled_instead`` would
    have been throttled where live let them through (both 0 for live).
    """

    name: str
    config: PolicyConfig
    alerts: int = 0
    delivered: int = 0
    throttled: int = 0
    exempt: int = 0
    episodes: int = 0
    notifications: int = 0
    different: int = 0
    delivered_instead: int = 0
    throttled_instead: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The tally as plain data (config as ``PolicyConfig.as_dict``), ready for JSON."""
        data = attrs.asdict(self, recurse=False)
        data["config"] = self.config.as_dict()
        return data


@attrs.frozen(slots=True)
class ShadowComparison:
    """The live policy's tally and each candidate's, in the order the candidates were given."""

    live: ShadowTally
    candidates: tuple[ShadowTally, ...]

    def candidate(self, name: str) -> ShadowTally:
        """The tally of the candidate called ``name`` (``KeyError`` if none is)."""
        for tally in self.candidates:
            if tally.name == name:
                return tally
        raise KeyError(name)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per policy, live first, for tables and CSV (config left out)."""
        rows = []
        for tally in (self.live, *self.candidates):
            row = tally.as_dict()
            del row["config"]
            rows.append(row)
        return rows

    def as_dict(self) -> dict[str, Any]:
        """``{"live": {...}, "candidates": [{...}, ...]}``, ready for JSON."""
        return {
            "live": self.live.as_dict(),
            "candidates": [tally.as_dict() for tally in self.candidates],
        }


class _Tally:
    """The running counts behind a :class:`ShadowTally`."""

    __slots__ = (
        "alerts",
        "delivered",
        "delivered_instead",
        "different",
        "episodes",
        "exempt",
        "notifications",
        "throttled",
        "throttled_instead",
    )

    def __init__(self) -> None:
        self.alerts = self.delivered = self.throttled = self.exempt = 0
        self.episodes = self.notifications = 0
        self.different = self.delivered_instead = self.throttled_instead = 0

    def count(self, decision: Decision, live: Verdict) -> None:
        self.alerts += 1
        verdict = decision.verdict
        if verdict is Verdict.DELIVER:
            self.delivered += 1
        elif verdict is Verdict.THROTTLE:
            self.throttled += 1
        else:
            self.exempt += 1
        if verdict is not live:
            self.different += 1
            if live is Verdict.THROTTLE:
                self.delivered_instead += 1
            elif verdict is Verdict.THROTTLE:
                self.throttled_instead += 1
        self.events(decision.events)

    def events(self, events: Iterable[Event]) -> None:
        for event in events:
            # Capacity levels are the live policy's own business, not a notification.
            if isinstance(event, LevelChanged):
                continue
            self.notifications += 1
            if isinstance(event, ThrottlingStarted):
                self.episodes += 1

    def freeze(self, name: str, config: PolicyConfig) -> ShadowTally:
        return ShadowTally(
            name=name,
            config=config,
            **{slot: getattr(self, slot) for slot in _Tally.__slots__},
        )


def _names(candidates: object) -> list[tuple[str, PolicyConfig]]:
    if isinstance(candidates, Mapping):
        pairs = list(candidates.items())
    elif isinstance(candidates, Sequence) and not isinstance(candidates, str):
        pairs = [(f"candidate {number}", config) for number, config in enumerate(candidates, 1)]
    else:
        raise PolicyError("candidates", candidates, "must be a list or a mapping of PolicyConfig")
    for name, config in pairs:
        if type(name) is not str or not name or name == LIVE:
            raise PolicyError("candidates", name, f"names must be non-empty, not {LIVE!r}")
        if not isinstance(config, PolicyConfig):
            raise PolicyError(f"candidates.{name}", config, "must be a PolicyConfig")
    return pairs


class ShadowPolicy:
    """The live policy, with candidate configurations running alongside in the dark.

    ``candidates`` is a list of configs (named ``"candidate 1"``, ...) or a
    mapping of name to config. Each candidate starts from the live policy's
    current state (its keys, windows, open episodes and counts), switched to
    its own config at the live clock as :meth:`ThrottlePolicy.reconfigure`
    would; tallies count from then on. :meth:`feed`, :meth:`feed_many` and
    :meth:`advance` return the live results only: candidate decisions and
    events reach nobody, they are only counted.
    """

    def __init__(
        self,
        live: ThrottlePolicy,
        candidates: Sequence[PolicyConfig] | Mapping[str, PolicyConfig],
    ) -> None:
        if not isinstance(live, ThrottlePolicy):
            raise PolicyError("live", live, "must be a ThrottlePolicy")
        self._live = live
        self._live_tally = _Tally()
        self._shadows: list[tuple[str, ThrottlePolicy, _Tally]] = []
        for name, config in _names(candidates):
            if live.clock is None:
                guard = live.capacity
                shadow = ThrottlePolicy(
                    config,
                    late=live.late,
                    max_keys=live.max_keys,
                    # Its own guard: a candidate sees the same load, and engages as the live.
                    capacity=None if guard is None else CapacityGuard(guard.thresholds),
                    engage_at=live.engage_at,
                )
            else:
                shadow = ThrottlePolicy.restore(live.snapshot())
                shadow.reconfigure(config, at=live.clock, reason=f"shadow candidate {name}")
            self._shadows.append((name, shadow, _Tally()))
        names = [name for name, _, _ in self._shadows]
        if len(set(names)) != len(names):
            raise PolicyError("candidates", names, "names must be distinct")

    @property
    def live(self) -> ThrottlePolicy:
        """The live policy, whose decisions are the ones returned."""
        return self._live

    @property
    def candidates(self) -> Mapping[str, ThrottlePolicy]:
        """The candidate policies by name, for inspection (feed the shadow, not them)."""
        return MappingProxyType({name: shadow for name, shadow, _ in self._shadows})

    @property
    def comparison(self) -> ShadowComparison:
        """The running comparison so far (a value; later alerts do not change it)."""
        return ShadowComparison(
            self._live_tally.freeze(LIVE, self._live.config),
            tuple(tally.freeze(name, shadow.config) for name, shadow, tally in self._shadows),
        )

    def feed(self, alert: Alert) -> Decision:
        """Decide ``alert`` with the live policy, and with every candidate in the dark."""
        decision = self._live.feed(alert)
        verdict = decision.verdict
        self._live_tally.count(decision, verdict)
        for _, shadow, tally in self._shadows:
            tally.count(shadow.feed(alert), verdict)
        return decision

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """``feed`` each alert in order; an error's ``index`` says where the batch stopped,
        and its ``decisions`` are the live decisions of the alerts before it.
        """
        decisions: list[Decision] = []
        try:
            for alert in alerts:
                decisions.append(self.feed(alert))
        except AlertThrottleError as exc:
            exc.at_index(len(decisions), decisions)
            raise
        return decisions

    def advance(self, now: float | object) -> list[Event]:
        """Move every clock to ``now``; return the live episode ends (candidates' are counted)."""
        ended = self._live.advance(now)
        self._live_tally.events(ended)
        for _, shadow, tally in self._shadows:
            tally.events(shadow.advance(now))
        return ended
