"""Thresholds and policy configurations, validated when they are made."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from .alert import AlertCode, format_code, parse_code
from .errors import AlertThrottleError, PolicyError
from .validation import LIMIT, PERIOD, instance_of, integer, optional

__all__ = ["PolicyConfig", "Threshold", "build_from_dict", "check_keys"]

_Value = TypeVar("_Value")
_SAMPLE_EVERY = optional(integer(2))


@attrs.frozen(slots=True, init=False)
class Threshold:
    """When a key's alerts are throttled, and what still gets through.

    Throttling starts when more than ``limit`` alerts of a key fall within a
    sliding window of ``period`` seconds, and ends when fewer than
    ``resume_below`` do (default ``limit``; lower is hysteresis). During an
    episode every ``sample_every``-th alert, or one alert per
    ``sample_interval`` seconds, is still delivered (at most one of the two).
    """

    limit: int = attrs.field(validator=LIMIT)
    period: int | float = attrs.field(validator=PERIOD)
    resume_below: int = attrs.field(validator=LIMIT)
    sample_every: int | None = attrs.field(default=None, validator=_SAMPLE_EVERY)
    sample_interval: int | float | None = attrs.field(default=None, validator=optional(PERIOD))

    def __init__(
        self,
        limit: int,
        period: int | float,
        resume_below: int | None = None,
        sample_every: int | None = None,
        sample_interval: int | float | None = None,
    ) -> None:
        self.__attrs_init__(
            limit,
            period,
            limit if resume_below is None else resume_below,
            sample_every,
            sample_interval,
        )

    def __attrs_post_init__(self) -> None:
        if self.resume_below > self.limit:
            raise PolicyError(
                "resume_below", self.resume_below, f"must be <= limit ({self.limit})"
            )
        if self.sample_every is not None and self.sample_interval is not None:
            raise PolicyError(
                "sample_interval",
                self.sample_interval,
                "cannot be set together with sample_every",
            )

    def as_dict(self) -> dict[str, int | float]:
        """The threshold as plain data, optional fields only when set."""
        data: dict[str, int | float] = {
            "limit": self.limit,
            "period": self.period,
            "resume_below": self.resume_below,
        }
        if self.sample_every is not None:
            data["sample_every"] = self.sample_every
        if self.sample_interval is not None:
            data["sample_interval"] = self.sample_interval
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object], path: str = "") -> Threshold:
        """Build a threshold from plain data; errors name the key path (``default.limit``)."""
        return build_from_dict(
            cls,
            data,
            path,
            known=("limit", "period", "resume_below", "sample_every", "sample_interval"),
            required=("limit", "period"),
        )


def check_keys(
    data: Mapping[str, object], path: str, *, known: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Refuse unknown and missing keys of a plain-data table, naming the key path."""
    allowed = sorted(known)
    for key in data:
        if key not in allowed:
            raise PolicyError(f"{path}{key}", data[key], _unknown_key(key, allowed))
    for key in required:
        if key not in data:
            raise PolicyError(f"{path}{key}", None, "is required")


def _unknown_key(key: str, allowed: list[str]) -> str:
    """The problem of an unknown key: the keys allowed, and the one a typo most likely meant."""
    problem = f"unknown key; the keys here are {', '.join(allowed)}"
    # A key is any str TOML allows (a hostile one can be huge): only short ones are compared.
    close = difflib.get_close_matches(key, allowed, n=1) if len(key) <= 40 else []
    return f"{problem} (did you mean {close[0]}?)" if close else problem


def build_from_dict(
    cls: Callable[..., _Value],
    data: Mapping[str, object],
    path: str,
    *,
    known: Iterable[str],
    required: Iterable[str],
) -> _Value:
    """``cls(**data)`` after :func:`check_keys`, its errors prefixed with ``path``."""
    check_keys(data, path, known=known, required=required)
    try:
        return cls(**data)
    except PolicyError as exc:
        raise PolicyError(f"{path}{exc.field}", exc.value, exc.problem) from None


def _code_key(value: object, field: str) -> int:
    try:
        return parse_code(value, field)
    except AlertThrottleError as exc:
        raise PolicyError(field, value, exc.problem) from None


def _per_code(value: object) -> Mapping[int, Threshold]:
    if not isinstance(value, Mapping):
        raise PolicyError("per_code", value, "must be a mapping of alert code to Threshold")
    table: dict[int, Threshold] = {}
    for key, threshold in value.items():
        code = _code_key(key, "per_code")
        if not isinstance(threshold, Threshold):
            raise PolicyError(f"per_code.{format_code(code)}", threshold, "must be a Threshold")
        if code in table:
            raise PolicyError("per_code", key, f"names code {format_code(code)} twice")
        table[code] = threshold
    return MappingProxyType(dict(sorted(table.items())))


def _exempt_codes(value: object) -> frozenset[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise PolicyError("exempt_codes", value, "must be a set or list of alert codes")
    return frozenset(_code_key(code, "exempt_codes") for code in value)


@attrs.frozen(slots=True)
class PolicyConfig:
    """Which threshold applies to which alert code, and which codes are exempt.

    ``default`` applies to codes without their own threshold in ``per_code``;
    ``default=None`` throttles only the codes in ``per_code``. Codes in
    ``exempt_codes`` are never throttled nor counted. Codes may be given as
    ints or hex text; they are stored as ints.
    """

    default: Threshold | None = attrs.field(
        default=None, validator=optional(instance_of(Threshold))
    )
    per_code: Mapping[int, Threshold] = attrs.field(
        factory=dict, converter=_per_code, hash=False
    )
    exempt_codes: frozenset[int] = attrs.field(factory=frozenset, converter=_exempt_codes)

    def __attrs_post_init__(self) -> None:
        both = sorted(self.exempt_codes.intersection(self.per_code))
        if both:
            raise PolicyError(
                "exempt_codes",
                [format_code(code) for code in both],
                "codes cannot be both exempt and in per_code",
            )

    def __reduce__(self) -> tuple[type[PolicyConfig], tuple[object, ...]]:
        # per_code is a read-only mappingproxy, which pickle refuses: rebuild from a dict.
        return (PolicyConfig, (self.default, dict(self.per_code), self.exempt_codes))

    def threshold_for(self, code: AlertCode) -> Threshold | None:
        """The threshold that applies to ``code``, or ``None`` (exempt or unthrottled)."""
        number = parse_code(code)
        if number in self.exempt_codes:
            return None
        return self.per_code.get(number, self.default)

    def is_exempt(self, code: AlertCode) -> bool:
        """Whether alerts of ``code`` bypass throttling entirely."""
        return parse_code(code) in self.exempt_codes

    def as_dict(self) -> dict[str, Any]:
        """The configuration as plain data (codes as hex text), ready for JSON or TOML."""
        data: dict[str, Any] = {
            "exempt_codes": [format_code(code) for code in sorted(self.exempt_codes)],
        }
        if self.default is not None:
            data["default"] = self.default.as_dict()
        data["per_code"] = {
            format_code(code): threshold.as_dict() for code, threshold in self.per_code.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PolicyConfig:
        """Build a configuration from plain data (as :meth:`as_dict` writes, or parsed TOML).

        Errors name the key path, e.g. ``per_code.8014.limit``.
        """
        check_keys(data, "", known=("default", "per_code", "exempt_codes"))
        default_data = data.get("default")
        default = None
        if default_data is not None:
            if not isinstance(default_data, Mapping):
                raise PolicyError("default", default_data, "must be a table of threshold fields")
            default = Threshold.from_dict(default_data, "default.")
        per_code_data = data.get("per_code", {})
        if not isinstance(per_code_data, Mapping):
            raise PolicyError("per_code", per_code_data, "must be a table keyed by alert code")
        per_code: dict[int, Threshold] = {}
        for key, value in per_code_data.items():
            code = _code_key(key, "per_code")
            path = f"per_code.{key}"
            if not isinstance(value, Mapping):
                raise PolicyError(path, value, "must be a table of threshold fields")
            if code in per_code:
                raise PolicyError("per_code", key, f"names code {format_code(code)} twice")
            per_code[code] = Threshold.from_dict(value, f"{path}.")
        return cls(default=default, per_code=per_code, exempt_codes=data.get("exempt_codes", ()))
