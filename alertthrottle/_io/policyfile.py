"""Policy files: a :class:`PolicyConfig` plus the late-alert mode, in TOML.

A policy file reads like this (every key optional but one of ``default``
and ``per_code`` is needed for anything to be throttled)::

    name = "proposed"             # label in reports (default: the file's stem)
    late = "clamp"                # or "reject"
    exempt_codes = ["8F35", "8F36"]

    [default]
    limit = 10
    period = 3600
    resume_below = 5

    [per_code.8014]
    limit = 20
    period = 86400
    sample_every = 10

An optional ``[capacity]`` table adds a :class:`CapacityGuard` (``period``,
``amber``, ``red`` and optionally ``amber_clear``, ``red_clear``), and the
top-level ``engage_at = "always" | "amber" | "red"`` says from which level
per-device throttling starts episodes (anything but ``"always"`` needs the
table; see docs/operations.md)::

    engage_at = "amber"

    [capacity]
    period = 60
    amber = 5000
    amber_clear = 4000
    red = 20000

Errors name the key path (``per_code.8014.limit: must be an integer in
1..1,000,000, got 0``). A few policies are built in (see :data:`BUILTIN_POLICIES`), so a
fresh install can compare them without writing a file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._core.config import PolicyConfig, check_keys
from .._core.errors import PolicyError
from .._engine.capacity import CapacityGuard, CapacityThresholds
from .._engine.policy import EngageAt, LateMode, ThrottlePolicy
from .encoding import BadByte

__all__ = [
    "BUILTIN_POLICIES",
    "DEFAULT_POLICY",
    "PolicySpec",
    "builtin_policy",
    "load_policy",
    "parse_policy",
]

_TOP_LEVEL = ("name", "late", "engage_at", "exempt_codes", "default", "per_code", "capacity")


def _check_late(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("clamp", "reject"):
        raise PolicyError("late", value, "must be 'clamp' or 'reject'")


def _check_name(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not str or not value.strip():
        raise PolicyError("name", value, "must be a non-empty string")


def _check_config(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, PolicyConfig):
        raise PolicyError("config", value, "must be a PolicyConfig")


def _check_capacity(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, CapacityThresholds):
        raise PolicyError("capacity", value, "must be a CapacityThresholds or None")


def _check_engage_at(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("always", "amber", "red"):
        raise PolicyError("engage_at", value, "must be 'always', 'amber' or 'red'")


@attrs.frozen(slots=True)
class PolicySpec:
    """A named policy as a file describes it: configuration, late mode and a label.

    ``capacity`` (optional) gives every policy built from it its own
    :class:`CapacityGuard`; ``engage_at`` is the level from which episodes start.
    """

    config: PolicyConfig = attrs.field(validator=_check_config)
    late: LateMode = attrs.field(default="clamp", validator=_check_late)
    name: str = attrs.field(default="policy", validator=_check_name)
    capacity: CapacityThresholds | None = attrs.field(default=None, validator=_check_capacity)
    engage_at: EngageAt = attrs.field(default="always", validator=_check_engage_at)

    def __attrs_post_init__(self) -> None:
        if self.capacity is None and self.engage_at != "always":
            raise PolicyError("engage_at", self.engage_at, "needs a [capacity] table")

    def build(self) -> ThrottlePolicy:
        """A fresh :class:`ThrottlePolicy` (and guard, if any) with this configuration."""
        guard = CapacityGuard(self.capacity) if self.capacity is not None else None
        return ThrottlePolicy(self.config, late=self.late, capacity=guard, engage_at=self.engage_at)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as a policy file holds it (codes as hex text).

        ``engage_at`` and ``capacity`` are present only when there is a capacity guard.
        """
        data: dict[str, Any] = {"name": self.name, "late": self.late}
        if self.capacity is not None:
            data["engage_at"] = self.engage_at
        data.update(self.config.as_dict())
        if self.capacity is not None:
            data["capacity"] = self.capacity.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, name: str = "policy") -> PolicySpec:
        """Build from plain data (parsed TOML); ``name`` is used when the data has none."""
        check_keys(data, "", known=_TOP_LEVEL)
        config = PolicyConfig.from_dict(
            {
                key: value
                for key, value in data.items()
                if key not in ("name", "late", "engage_at", "capacity")
            }
        )
        late = data.get("late", "clamp")
        capacity = data.get("capacity")
        thresholds = None
        if capacity is not None:
            if not isinstance(capacity, Mapping):
                raise PolicyError("capacity", capacity, "must be a table")
            thresholds = CapacityThresholds.from_dict(capacity, "capacity.")
        engage_at = data.get("engage_at", "always")
        return cls(config, late, data.get("name", name), thresholds, engage_at)  # type: ignore[arg-type]

    def to_toml(self) -> str:
        """The policy as a normalised TOML file (what ``check-policy`` prints)."""
        data = self.as_dict()
        lines = [
            f"name = {_toml_value(self.name)}",
            f"late = {_toml_value(self.late)}",
            f"exempt_codes = {_toml_value(data['exempt_codes'])}",
        ]
        if "engage_at" in data:
            lines.append(f"engage_at = {_toml_value(data['engage_at'])}")
        tables: list[tuple[str, Mapping[str, object]]] = []
        if "capacity" in data:
            tables.append(("capacity", data["capacity"]))
        if "default" in data:
            tables.append(("default", data["default"]))
        # A DCC code ("DCC:N24") is not a bare TOML key: quote every key that is not one.
        tables.extend(
            (f"per_code.{_toml_key(code)}", table) for code, table in data["per_code"].items()
        )
        for header, table in tables:
            lines.append("")
            lines.append(f"[{header}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else _toml_value(key)


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    # JSON's strings, integers and finite floats are also TOML's, once DEL is escaped
    # (and characters beyond the BMP are left as they are: TOML has no surrogate pairs).
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def parse_policy(text: str, *, name: str = "policy") -> PolicySpec:
    """Read a policy from TOML text; ``name`` labels it unless the text names itself."""
    if type(text) is not str:
        raise PolicyError("toml", type(text).__name__, "must be TOML text (a str)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(str(exc), text, name)[0] from None
    return PolicySpec.from_dict(data, name=name)


def _syntax_error(message: str, text: str, name: str) -> tuple[PolicyError, int | None]:
    """A TOML syntax error saying line and column (that line's text as the value); the line."""
    # tomllib ends its messages with "(at line L, column C)" (or "(at end of document)").
    where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if where is None:
        return PolicyError("toml", name, f"is not valid TOML ({message})"), None
    line, column = int(where[1]), int(where[2])
    reason = message[: where.start()]
    lines = text.splitlines()
    error = PolicyError(
        "toml",
        lines[line - 1] if line <= len(lines) else "",
        f"is not valid TOML at line {line}, column {column} ({reason[:1].lower()}{reason[1:]})",
    )
    return error, line


def load_policy(path: str | os.PathLike[str]) -> PolicySpec:
    """Read a policy file; it is labelled by its ``name`` key, else by the file's stem.

    Raises :class:`PolicyError` naming the key path, its message led by
    ``file:line:`` (or ``file:`` when the problem has no line); a file that
    cannot be read raises ``OSError``.
    """
    file = Path(path)
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = BadByte(data, exc)
        error = PolicyError(
            "toml",
            # U+FFFD marks the byte: a backslash escape would be doubled by the repr.
            bad.row.decode("utf-8", "replace"),
            f"has a byte that is not UTF-8 (0x{bad.byte:02X} at line {bad.line}, column "
            f"{bad.column}); TOML files are UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        )
        raise _in_file(error, path, bad.line) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        error, where = _syntax_error(str(exc), text, file.stem)
        raise _in_file(error, path, where) from None
    try:
        return PolicySpec.from_dict(table, name=file.stem)
    except PolicyError as exc:
        raise _in_file(exc, path, None) from None


def _in_file(error: PolicyError, path: str | os.PathLike[str], line: int | None) -> PolicyError:
    """``error`` with its message led by the file's name (and ``:line`` when known)."""
    where = f"{os.fspath(path)}:{line}" if line else os.fspath(path)
    error.args = (f"{where}: {error.args[0]}",)
    return error


#: Built-in policies by name, as TOML text (``--policy dcc-like`` and the like).
BUILTIN_POLICIES: Mapping[str, str] = {
    # The shape of what the consultation was asked to approve: one generous global
    # threshold for every code (phase 1), the exclusion list exempt, nothing else.
    "dcc-like": """\
name = "dcc-like"
late = "clamp"
exempt_codes = ["8F35", "8F36", "8F75"]

[default]
limit = 100
period = 3600
""",
    # What docs/scenarios.md proposes: per-code thresholds for the codes that storm,
    # a day-long window and deep hysteresis so that one storm of one device is one
    # episode, and samples that carry the held-back count to the recipient.
    "proposed": """\
name = "proposed"
late = "clamp"
exempt_codes = ["8F35", "8F36", "8F75"]

[default]
limit = 10
period = 3600
resume_below = 3
sample_interval = 3600

[per_code.8014]
limit = 10
period = 86400
resume_below = 1
sample_interval = 21600

[per_code.8015]
limit = 10
period = 86400
resume_below = 1
sample_interval = 21600

[per_code.8F84]
limit = 10
period = 3600
resume_below = 2
sample_every = 10
""",
}

#: The policy ``simulate`` uses when given none.
DEFAULT_POLICY = "proposed"


def builtin_policy(name: str) -> PolicySpec:
    """One of :data:`BUILTIN_POLICIES`, parsed."""
    text = BUILTIN_POLICIES.get(name) if type(name) is str else None
    if text is None:
        raise PolicyError(
            "policy", name, f"is not a built-in policy; use {sorted(BUILTIN_POLICIES)}"
        )
    return parse_policy(text, name=name)
