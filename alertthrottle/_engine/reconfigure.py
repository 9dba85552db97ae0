"""Runtime reconfiguration: a new ``PolicyConfig`` in force from a given time, audited.

The rules (docs/reconfiguration.md) in one line each: episodes due by ``at``
close first under the old thresholds; a code that loses its threshold (exempt
or unthrottled) ends its open episodes at ``at`` and keeps their counts
pending; a code whose threshold changes keeps its windows (rings resized) and
its open episodes, which end at ``at`` if the new threshold says they are over.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import attrs

from .._core.alert import format_code, parse_timestamp
from .._core.config import PolicyConfig
from .._core.errors import InvalidAlertError, PolicyError
from .._core.events import ThrottlingEnded

if TYPE_CHECKING:
    from .policy import ThrottlePolicy, _Episode

__all__ = ["ConfigChange", "SettingChange", "apply_config", "diff_configs"]

#: A flattened setting's value: a threshold field, or ``True`` for an exempt code.
SettingValue = int | float | bool | None


@attrs.frozen(slots=True)
class SettingChange:
    """One setting that differs between two configurations; ``None`` means absent.

    ``path`` names the setting as :meth:`PolicyConfig.from_dict` would:
    ``default.limit``, ``per_code.8014.period``, or ``exempt_codes.8F75``
    (whose value is ``True`` while the code is exempt).
    """

    path: str
    before: SettingValue
    after: SettingValue


@attrs.frozen(slots=True, kw_only=True)
class ConfigChange:
    """An entry of a policy's configuration history (the audit trail).

    ``version`` counts configurations from 1 (the one the policy was built
    with, ``at=None``); ``config`` is the configuration in force from ``at``;
    ``changes`` is the diff from the previous version; ``events`` are the
    episode ends the change caused or let fall due (also returned to the
    caller of :meth:`ThrottlePolicy.reconfigure`, in order of ``at``).
    """

    version: int
    at: int | float | None
    reason: str
    config: PolicyConfig
    changes: tuple[SettingChange, ...] = ()
    events: tuple[ThrottlingEnded, ...] = ()


def _flatten(config: PolicyConfig) -> dict[str, SettingValue]:
    flat: dict[str, SettingValue] = {}
    if config.default is not None:
        for name, value in config.default.as_dict().items():
            flat[f"default.{name}"] = value
    for code, threshold in config.per_code.items():
        for name, value in threshold.as_dict().items():
            flat[f"per_code.{format_code(code)}.{name}"] = value
    for code in config.exempt_codes:
        flat[f"exempt_codes.{format_code(code)}"] = True
    return flat


def diff_configs(before: PolicyConfig, after: PolicyConfig) -> tuple[SettingChange, ...]:
    """Every setting that differs, sorted by path (empty when the two are equal)."""
    old = _flatten(before)
    new = _flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        was = old.get(path)
        now = new.get(path)
        # type() too: 10 and 10.0 are equal but are not the same setting as written.
        if was != now or type(was) is not type(now):
            changes.append(SettingChange(path, was, now))
    return tuple(changes)


def initial_entry(config: PolicyConfig) -> ConfigChange:
    """Version 1 of a history: the configuration a policy was built with."""
    return ConfigChange(version=1, at=None, reason="initial configuration", config=config)


def apply_config(
    policy: ThrottlePolicy, new_config: PolicyConfig, at: object, reason: object
) -> ConfigChange:
    """Put ``new_config`` in force in ``policy`` at ``at`` (see the module docstring)."""
    if not isinstance(new_config, PolicyConfig):
        raise PolicyError("new_config", new_config, "must be a PolicyConfig")
    if type(reason) is not str or not reason.strip():
        raise PolicyError("reason", reason, "must be a non-empty str saying why")
    try:
        t = parse_timestamp(at, "at")
    except InvalidAlertError as exc:
        raise PolicyError("at", at, exc.problem) from None
    if t < policy._clock:
        raise PolicyError("at", at, f"is before the policy clock ({policy._clock})")

    # Episodes over by `at` end under the thresholds they started with.
    # The capacity guard is not advanced here: its falls come, dated exactly, with
    # the next feed or advance (docs/operations.md).
    events: list[ThrottlingEnded] = policy._advance_episodes(t)
    previous = policy._config
    policy._config = new_config
    old_rules = dict(policy._rules)
    # Mutated in place: the hot path may hold a reference to the dict.
    policy._rules.clear()
    closed: list[ThrottlingEnded] = []
    # Episodes ended here whose keys an eviction had parked: they are filed again below.
    unparked: list[_Episode] = []
    for code, old_rule in old_rules.items():
        rule = policy._rule_for(code)
        keys = old_rule.keys
        if rule.threshold is None:
            # Exempt or unthrottled from now on: no windows are kept, open
            # episodes end now, and their counts wait (as for an idle key).
            for device_id, window in keys.items():
                episode = window.episode
                if episode is not None:
                    closed.append(episode.ended(t))
                    window.episode = None
                    policy._open -= 1
                if window.pending_sequence is not None:
                    policy._pending[device_id, code] = (window.pending, window.pending_sequence)
            policy._tracked -= len(keys)
            continue
        rule.keys = keys
        if keys and rule.size != old_rule.size:
            for window in keys.values():
                window.resize(rule.size)
        for window in keys.values():
            episode = window.episode
            if episode is None:
                continue
            episode.rule = rule
            end = episode.end_time()
            # Under the new threshold the window is already below resume_below.
            if end is not None and end <= t:
                closed.append(episode.ended(t))
                window.episode = None
                policy._open -= 1
                if episode.parked:
                    unparked.append(episode)
    closed.sort(key=lambda event: event.sequence_id)
    events.extend(closed)

    def open_episode(episode: _Episode) -> _Episode | None:
        return episode if episode.window.episode is episode else None

    policy._ends.retarget(open_episode)
    # One idle entry per tracked key but those still parked, re-filed where a new
    # period moves its window's end earlier; rebuilt in place, the hot path holds
    # the list.
    idle = policy._idle_heap
    kept: list[tuple[float, str, int]] = []
    for when, device_id, code in idle:
        rule = policy._rules[code]
        held = rule.keys.get(device_id)
        if held is not None:
            kept.append((min(when, held.recent(1) + rule.period), device_id, code))
    for episode in unparked:
        rule = episode.rule
        end = episode.window.recent(1) + rule.period
        kept.append((end, episode.started.device_id, rule.code))
    idle[:] = kept
    heapq.heapify(idle)
    # A shorter period may have emptied windows already.
    policy._drop_idle(t)

    change = ConfigChange(
        version=len(policy._history) + 1,
        at=t,
        reason=reason,
        config=new_config,
        changes=diff_configs(previous, new_config),
        events=tuple(events),
    )
    policy._history.append(change)
    return change
