"""The validators: what they accept (up to each bound), what they refuse, and how they say so."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import anything, assert_refusal

from alertthrottle import AlertThrottleError, InvalidAlertError, PolicyError, SnapshotError
from alertthrottle._core.validation import (
    LIMIT,
    MAX_LIMIT,
    MAX_SECONDS,
    MAX_TIMESTAMP,
    PERIOD,
    and_,
    check_timestamp,
    in_,
    instance_of,
    integer,
    optional,
    seconds,
    text,
)


def refusal(check: Any, field: str, value: object) -> AlertThrottleError:
    with pytest.raises(AlertThrottleError) as info:
        check(field, value)
    return info.value


# -- integer, LIMIT --------------------------------------------------------------------


@given(st.integers(1, MAX_LIMIT))
def test_limit_accepts_every_value_up_to_the_bound(value: int) -> None:
    LIMIT.check("limit", value)


@pytest.mark.parametrize("value", [0, -1, MAX_LIMIT + 1, 10**10, 10**400, True, 1.0, "1", None])
def test_limit_refuses_out_of_range_and_wrong_types(value: object) -> None:
    error = refusal(LIMIT.check, "limit", value)
    assert type(error) is PolicyError and isinstance(error, ValueError)
    assert error.problem == "must be an integer in 1..1,000,000"
    assert_refusal(error, "limit", value)


@given(anything)
def test_integer_refuses_whatever_is_not_an_int_in_range(value: object) -> None:
    validator = integer(2, 9, error=InvalidAlertError)
    if type(value) is int and 2 <= value <= 9:
        validator.check("n", value)
    else:
        assert_refusal(refusal(validator.check, "n", value), "n", value)


def test_integer_without_maximum() -> None:
    validator = integer(0)
    validator.check("count", 10**100)
    error = refusal(validator.check, "count", -1)
    assert error.problem == "must be an integer >= 0"


# -- seconds, PERIOD -------------------------------------------------------------------


@given(st.one_of(st.integers(1, MAX_SECONDS), st.floats(0, MAX_SECONDS, exclude_min=True)))
def test_period_accepts_every_duration_up_to_366_days(value: float) -> None:
    PERIOD.check("period", value)


@pytest.mark.parametrize(
    "value",
    [0, 0.0, -1, MAX_SECONDS + 1, MAX_SECONDS + 0.001, 10**400, math.inf, math.nan, True, "60"],
)
def test_period_refuses_out_of_range_and_wrong_types(value: object) -> None:
    error = refusal(PERIOD.check, "period", value)
    assert type(error) is PolicyError
    assert error.problem == "must be a number of seconds > 0 and <= 31,622,400 (366 days)"
    assert_refusal(error, "period", value)


def test_seconds_with_a_bound_that_is_not_whole_days() -> None:
    assert seconds(90).allowed == "must be a number of seconds > 0 and <= 90"


# -- timestamps ------------------------------------------------------------------------


@given(st.one_of(st.integers(0, MAX_TIMESTAMP - 1), st.floats(0, MAX_TIMESTAMP, exclude_max=True)))
def test_timestamps_are_accepted_up_to_the_year_10000(value: float) -> None:
    assert check_timestamp(value) is value


@given(anything)
def test_timestamp_refusals_name_field_and_value(value: object) -> None:
    if type(value) in (int, float) and 0 <= value < MAX_TIMESTAMP:  # type: ignore[operator]
        return
    error = refusal(lambda field, v: check_timestamp(v, field), "now", value)
    assert type(error) is InvalidAlertError
    assert_refusal(error, "now", value)


@pytest.mark.parametrize(
    ("value", "unit", "divisor"),
    [
        (1_705_276_800_000, "milliseconds", "1,000"),
        (1_705_276_800_123.5, "milliseconds", "1,000"),
        (1_705_276_800_000_000, "microseconds", "1,000,000"),
        (1_705_276_800_000_000_000, "nanoseconds", "1,000,000,000"),
    ],
)
def test_timestamps_in_smaller_units_are_refused_saying_so(
    value: float, unit: str, divisor: str
) -> None:
    with pytest.raises(InvalidAlertError) as info:
        check_timestamp(value)
    problem = info.value.problem
    assert f"looks like epoch {unit}" in problem
    assert f"divide by {divisor}" in problem
    assert "2024-01-15T00:00:" in problem


@pytest.mark.parametrize("value", [MAX_TIMESTAMP * 10**9, 10**400, math.inf, -1, math.nan])
def test_timestamps_beyond_any_unit_get_the_plain_bound(value: float) -> None:
    with pytest.raises(InvalidAlertError) as info:
        check_timestamp(value)
    assert "looks like" not in info.value.problem
    assert str(MAX_TIMESTAMP) in info.value.problem


def test_timestamp_error_class_is_the_callers() -> None:
    with pytest.raises(SnapshotError) as info:
        check_timestamp(-1, "state.clock", error=SnapshotError)
    assert info.value.field == "state.clock"


# -- composition -----------------------------------------------------------------------


@attrs.frozen
class Sample:
    size: int | None = attrs.field(default=None, validator=optional(integer(1, 5)))
    name: str = attrs.field(default="x", validator=and_(text(), in_(("x", "y"))))
    kind: object = attrs.field(default=1, validator=instance_of(int, "whole number"))


def test_validators_work_inside_attrs_classes_and_name_the_attribute() -> None:
    assert Sample(size=5, name="y").size == 5
    assert Sample().size is None
    with pytest.raises(PolicyError) as info:
        Sample(size=6)
    assert (info.value.field, info.value.value) == ("size", 6)
    assert info.value.problem == "must be an integer in 1..5 or None"
    with pytest.raises(PolicyError) as info:
        Sample(name="")
    assert info.value.problem == "must be a non-empty str"
    with pytest.raises(PolicyError) as info:
        Sample(name="z")
    assert info.value.problem == "must be 'x' or 'y'"
    with pytest.raises(PolicyError) as info:
        Sample(kind="1")
    assert info.value.problem == "must be a whole number"


def test_optional_of_a_composite_lets_none_through() -> None:
    validator = optional(and_(integer(0), integer(0, 3)))
    validator.check("n", None)
    validator.check("n", 3)
    assert refusal(validator.check, "n", 4).problem == "must be an integer in 0..3"


def test_validators_show_what_they_allow() -> None:
    assert repr(LIMIT) == "<validator 'must be an integer in 1..1,000,000' raising PolicyError>"


# -- messages --------------------------------------------------------------------------


def test_messages_show_long_and_huge_values_cut_short() -> None:
    huge = refusal(LIMIT.check, "limit", 10**5000)
    assert "<int of 16610 bits>" in str(huge) and huge.value == 10**5000
    long = refusal(LIMIT.check, "limit", "x" * 10_000)
    assert len(str(long)) < 400 and "(10,002 characters)" in str(long)


def test_messages_survive_a_failing_repr() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    error = refusal(LIMIT.check, "limit", Hostile())
    assert "Hostile object with a failing repr" in str(error)
