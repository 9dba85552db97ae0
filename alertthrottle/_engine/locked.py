"""``LockedPolicy``: one policy shared by threads, every call under one lock.

A :class:`ThrottlePolicy` is not thread-safe: two threads inside ``feed`` at
once can leave its windows and schedules inconsistent for good. The usual
design gives each worker its own policy (docs/scaling.md); when threads must
share one, this wrapper serialises every call, so the policy sees one call at
a time, exactly as a single thread would have made them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .._core.alert import Alert
from .._core.columns import AlertColumns
from .._core.config import PolicyConfig
from .._core.decision import Decision, Stats, ThrottleMetadata
from .._core.errors import PolicyError
from .._core.events import Event, ThrottlingStarted
from .capacity import CapacityGuard
from .policy import ThrottlePolicy
from .reconfigure import ConfigChange
from .state import EngageAt, LateMode

__all__ = ["LockedPolicy"]


class LockedPolicy:
    """A thread-safe face of a :class:`ThrottlePolicy`: each call holds one re-entrant lock.

    Hand the wrapper, never the wrapped policy, to the threads. Calls are
    atomic with respect to each other; for a sequence of calls that must see
    no other thread in between (feed then snapshot, say), use :meth:`hold`.
    """

    __slots__ = ("_lock", "_policy")

    def __init__(self, policy: ThrottlePolicy) -> None:
        if not isinstance(policy, ThrottlePolicy):
            raise PolicyError("policy", policy, "must be a ThrottlePolicy")
        self._policy = policy
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"LockedPolicy({self._policy!r})"

    @contextmanager
    def hold(self) -> Iterator[ThrottlePolicy]:
        """Hold the lock and give the policy itself, for calls that must go together.

        The policy must not be kept or used once the ``with`` block is left.
        """
        with self._lock:
            yield self._policy

    # -- feeding ------------------------------------------------------------------------

    def feed(self, alert: Alert) -> Decision:
        """:meth:`ThrottlePolicy.feed` under the lock."""
        with self._lock:
            return self._policy.feed(alert)

    def feed_many(self, alerts: Iterable[Alert]) -> list[Decision]:
        """:meth:`ThrottlePolicy.feed_many` under the lock: the batch is not interleaved."""
        with self._lock:
            return self._policy.feed_many(alerts)

    def feed_columns(self, columns: AlertColumns) -> list[Decision]:
        """:meth:`ThrottlePolicy.feed_columns` under the lock: the block is not interleaved."""
        with self._lock:
            return self._policy.feed_columns(columns)

    def advance(self, now: float | object) -> list[Event]:
        """:meth:`ThrottlePolicy.advance` under the lock."""
        with self._lock:
            return self._policy.advance(now)

    def reconfigure(
        self, new_config: PolicyConfig, *, at: float | object, reason: str
    ) -> ConfigChange:
        """:meth:`ThrottlePolicy.reconfigure` under the lock."""
        with self._lock:
            return self._policy.reconfigure(new_config, at=at, reason=reason)

    # -- reading --------------------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """:attr:`ThrottlePolicy.stats`, read under the lock (the totals add up)."""
        with self._lock:
            return self._policy.stats

    def pending_counts(self) -> dict[tuple[str, int], ThrottleMetadata]:
        """:meth:`ThrottlePolicy.pending_counts` under the lock."""
        with self._lock:
            return self._policy.pending_counts()

    def open_episodes(self) -> list[ThrottlingStarted]:
        """:meth:`ThrottlePolicy.open_episodes` under the lock."""
        with self._lock:
            return self._policy.open_episodes()

    @property
    def clock(self) -> float | None:
        """:attr:`ThrottlePolicy.clock`."""
        with self._lock:
            return self._policy.clock

    @property
    def config(self) -> PolicyConfig:
        """:attr:`ThrottlePolicy.config`."""
        with self._lock:
            return self._policy.config

    @property
    def config_history(self) -> tuple[ConfigChange, ...]:
        """:attr:`ThrottlePolicy.config_history`."""
        with self._lock:
            return self._policy.config_history

    @property
    def late(self) -> LateMode:
        """:attr:`ThrottlePolicy.late`."""
        return self._policy.late

    @property
    def max_keys(self) -> int | None:
        """:attr:`ThrottlePolicy.max_keys`."""
        return self._policy.max_keys

    @property
    def capacity(self) -> CapacityGuard | None:
        """:attr:`ThrottlePolicy.capacity` (read it through :meth:`hold` when it must agree)."""
        return self._policy.capacity

    @property
    def engage_at(self) -> EngageAt:
        """:attr:`ThrottlePolicy.engage_at`."""
        return self._policy.engage_at

    # -- state that survives ------------------------------------------------------------

    def snapshot(self, *, compress: bool = False, key: bytes | None = None) -> bytes:
        """:meth:`ThrottlePolicy.snapshot` under the lock: a state between two calls."""
        with self._lock:
            return self._policy.snapshot(compress=compress, key=key)

    def save(
        self, path: str | os.PathLike[str], *, compress: bool = False, key: bytes | None = None
    ) -> None:
        """:meth:`ThrottlePolicy.save` under the lock."""
        with self._lock:
            self._policy.save(path, compress=compress, key=key)

    def _check(self) -> None:
        """Assert the wrapped policy's invariants, under the lock."""
        with self._lock:
            self._policy._check()
