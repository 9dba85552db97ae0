"""Runtime reconfiguration: a new ``PolicyConfig`` in force from a given time, audited.

The rules (docs/reconfiguration.md) in one line each: episodes due by ``at``
close first under the old thresholds, in order of ``at`` with the capacity
guard's level falls up to ``at``; a code that loses its threshold (exempt
or unthrottled) ends its open episodes at ``at`` and keeps their counts
pending; a code whose threshold changes keeps its windows (rings resized) and
its open episodes, which end at ``at`` if the new threshold says they are over.
The state changes themselves are :meth:`EngineState._new_config`'s.
"""

from __future__ import annotations

from operator import attrgetter

from .._core.alert import parse_timestamp
from .._core.config import PolicyConfig
from .._core.errors import InvalidAlertError, PolicyError
from .._core.events import LevelChanged, ThrottlingEnded
from .history import ConfigChange, SettingChange, diff_configs
from .state import EngineState

__all__ = ["ConfigChange", "SettingChange", "apply_config", "check_change", "diff_configs"]

_AT = attrgetter("at")


def check_change(
    new_config: object, at: object, reason: object, clock: float | None
) -> int | float:
    """Refuse a bad reconfiguration request (``PolicyError``); return the time ``at`` it means."""
    if not isinstance(new_config, PolicyConfig):
        raise PolicyError("new_config", new_config, "must be a PolicyConfig")
    if type(reason) is not str or not reason.strip():
        raise PolicyError("reason", reason, "must be a non-empty str saying why")
    try:
        t = parse_timestamp(at, "at")
    except InvalidAlertError as exc:
        raise PolicyError("at", at, exc.problem) from None
    if clock is not None and t < clock:
        raise PolicyError("at", at, f"is before the policy clock ({clock})")
    return t


def apply_config(
    state: EngineState, new_config: PolicyConfig, at: object, reason: object
) -> ConfigChange:
    """Put ``new_config`` in force in ``state`` at ``at`` (see the module docstring)."""
    t = check_change(new_config, at, reason, state.clock)
    assert isinstance(reason, str)  # check_change refused anything else

    # Episodes over by `at` end under the thresholds they started with, merged in
    # order of `at` with the capacity guard's falls up to `at`, as `advance(at)`
    # returns them: events dated `at` are returned now, so none may come later
    # dated before it. The change's own ends, dated `at`, follow.
    events: list[ThrottlingEnded | LevelChanged] = [*state._advance_episodes(t)]
    guard = state.capacity
    if guard is not None:
        falls = guard.advance(t)
        if falls:
            events = sorted((*events, *falls), key=_AT)
    previous = state.config
    events.extend(state._new_config(new_config, t))
    change = ConfigChange(
        version=len(state.config_history) + 1,
        at=t,
        reason=reason,
        config=new_config,
        changes=diff_configs(previous, new_config),
        events=tuple(events),
    )
    state._record(change)
    return change
