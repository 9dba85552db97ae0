"""Composable validators and the library's bounds, shared by every value that checks input.

A validator is a small frozen object, usable two ways: as an ``attrs``
validator (``attrs.field(validator=LIMIT)``, called with the instance, the
attribute and the value) and directly, as ``LIMIT.check("default.limit", value)``,
by code that validates plain data (snapshot restore, policy files). Like
``attrs.validators`` they compose: :func:`and_` runs several in turn and
:func:`optional` lets ``None`` through. Each raises the library's own error
(the class it was built with, :class:`PolicyError` unless said otherwise) whose
message names the field, shows the value and says what is allowed.

The bounds keep every number a policy holds far from where arithmetic breaks
(floats above 2**53 lose whole seconds; a window of 10**400 seconds overflows),
and refuse early what is almost certainly a mistake of units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import attrs

from .errors import AlertThrottleError, InvalidAlertError, PolicyError

__all__ = [
    "COUNT",
    "LIMIT",
    "MAX_LIMIT",
    "MAX_SECONDS",
    "MAX_TIMESTAMP",
    "PERIOD",
    "Validator",
    "and_",
    "check_timestamp",
    "in_",
    "instance_of",
    "integer",
    "optional",
    "seconds",
    "text",
]

#: Timestamps are epoch seconds before the year 10000 (9999-12-31T23:59:59Z is the last).
MAX_TIMESTAMP = 253_402_300_800
#: The largest ``limit`` of a threshold.
MAX_LIMIT = 1_000_000
#: The longest period (and sample interval): 366 days, in seconds.
MAX_SECONDS = 366 * 86_400

ErrorType = type[AlertThrottleError]

# Units people give by mistake for seconds, smallest first: (name, units per second).
_UNITS = (("milliseconds", 1_000), ("microseconds", 1_000_000), ("nanoseconds", 1_000_000_000))


@attrs.frozen(slots=True, repr=False)
class Validator:
    """A check of one value, as an ``attrs`` validator or through :meth:`check`.

    ``test`` says whether a value passes; ``allowed`` completes the sentence
    ``field: ...`` of the error when it does not.
    """

    test: Callable[[Any], bool]
    allowed: str
    error: ErrorType = PolicyError

    def __repr__(self) -> str:
        return f"<validator {self.allowed!r} raising {self.error.__name__}>"

    def __call__(self, _instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(attribute.name, value)

    def check(self, field: str, value: object) -> None:
        """Raise ``error`` naming ``field`` and showing ``value`` unless ``value`` passes."""
        if not self.test(value):
            raise self.error(field, value, self.allowed)


@attrs.frozen(slots=True)
class _And:
    validators: tuple[Validator | _And | _Optional, ...]

    def __call__(self, _instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(attribute.name, value)

    def check(self, field: str, value: object) -> None:
        for validator in self.validators:
            validator.check(field, value)


@attrs.frozen(slots=True)
class _Optional:
    validator: Validator | _And | _Optional

    def __call__(self, _instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(attribute.name, value)

    def check(self, field: str, value: object) -> None:
        if value is not None:
            self.validator.check(field, value)


def and_(*validators: Validator | _And | _Optional) -> _And:
    """All of ``validators``, in order: the first that fails raises."""
    return _And(validators)


def optional(validator: Validator | _And | _Optional) -> Validator | _Optional:
    """``None``, or a value that passes ``validator``."""
    if isinstance(validator, Validator):
        test = validator.test
        return Validator(
            lambda value: value is None or test(value),
            f"{validator.allowed} or None",
            validator.error,
        )
    return _Optional(validator)


def integer(
    minimum: int, maximum: int | None = None, *, error: ErrorType = PolicyError
) -> Validator:
    """An ``int`` (never a ``bool``) in ``minimum..maximum`` (no upper bound when ``None``)."""
    if maximum is None:
        return Validator(
            lambda value: type(value) is int and minimum <= value,
            f"must be an integer >= {minimum}",
            error,
        )
    return Validator(
        lambda value: type(value) is int and minimum <= value <= maximum,
        f"must be an integer in {minimum:,}..{maximum:,}",
        error,
    )


def seconds(maximum: int = MAX_SECONDS, *, error: ErrorType = PolicyError) -> Validator:
    """A duration: an ``int`` or ``float`` (never a ``bool``), > 0 and at most ``maximum``.

    NaN fails every comparison and the infinities exceed ``maximum``, so both
    are refused with the rest.
    """
    days = f" ({maximum / 86_400:g} days)" if maximum % 86_400 == 0 else ""
    return Validator(
        lambda value: (type(value) is int or type(value) is float) and 0 < value <= maximum,
        f"must be a number of seconds > 0 and <= {maximum:,}{days}",
        error,
    )


def text(*, error: ErrorType = PolicyError) -> Validator:
    """A non-empty ``str``."""
    return Validator(
        lambda value: type(value) is str and value != "", "must be a non-empty str", error
    )


def instance_of(
    kind: type, name: str | None = None, *, error: ErrorType = PolicyError
) -> Validator:
    """An instance of ``kind`` (subclasses included), described as ``name``."""
    return Validator(
        lambda value: isinstance(value, kind), f"must be a {name or kind.__name__}", error
    )


def in_(options: Collection[object], *, error: ErrorType = PolicyError) -> Validator:
    """One of ``options`` (compared by equality; shown in the message)."""
    shown = " or ".join(repr(option) for option in options)
    return Validator(lambda value: value in options, f"must be {shown}", error)


#: A threshold's ``limit`` (and ``resume_below``).
LIMIT = integer(1, MAX_LIMIT)
#: A window length or sample interval.
PERIOD = seconds()
#: A count of alerts (never negative).
COUNT = integer(0)


def _beyond_year_9999(value: int | float) -> str:
    """What is wrong with a timestamp at or after the year 10000, and what it probably is."""
    allowed = f"must be epoch seconds before the year 10000 (< {MAX_TIMESTAMP})"
    for unit, divisor in _UNITS:
        # Compared before dividing: an int too large for a float cannot be divided.
        if value < MAX_TIMESTAMP * divisor:
            in_seconds = value / divisor
            moment = datetime.fromtimestamp(in_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return (
                f"{allowed}; it looks like epoch {unit}: divide by {divisor:,} "
                f"for {in_seconds:.16g} s ({moment})"
            )
    return allowed


def check_timestamp(
    value: object, field: str = "timestamp", *, error: ErrorType = InvalidAlertError
) -> int | float:
    """Return ``value`` if it is epoch seconds the library can hold, else raise ``error``.

    An ``int`` or ``float`` (never a ``bool``), finite, ``>= 0`` and before the
    year 10000 (``< MAX_TIMESTAMP``). A value that looks like epoch
    milliseconds, microseconds or nanoseconds is refused with a message that
    says so and gives it in seconds.
    """
    if type(value) is int or type(value) is float:
        number: int | float = value
        if 0 <= number < MAX_TIMESTAMP:
            return number
        if MAX_TIMESTAMP <= number < math.inf:
            raise error(field, value, _beyond_year_9999(number))
        raise error(field, value, f"must be finite, >= 0 and < {MAX_TIMESTAMP} (the year 10000)")
    raise error(field, value, "must be an int or float of epoch seconds")
