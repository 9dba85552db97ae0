"""A policy's configuration history: the audited changes between configurations."""

from __future__ import annotations

import attrs

from .._core.alert import format_code
from .._core.config import PolicyConfig
from .._core.events import LevelChanged, ThrottlingEnded

__all__ = ["ConfigChange", "SettingChange", "diff_configs", "initial_entry"]

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
    episode ends the change caused or let fall due and, with a capacity guard,
    the level falls due by ``at`` (also returned to the caller of
    :meth:`ThrottlePolicy.reconfigure`, in order of ``at``).
    """

    version: int
    at: int | float | None
    reason: str
    config: PolicyConfig
    changes: tuple[SettingChange, ...] = ()
    events: tuple[ThrottlingEnded | LevelChanged, ...] = ()


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
