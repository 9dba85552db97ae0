"""Shared by the value tests: arbitrary values of every kind, and the shape of a refusal."""

from __future__ import annotations

from datetime import UTC

from hypothesis import strategies as st

from alertthrottle import AlertThrottleError
from alertthrottle._core.validation import MAX_LIMIT, MAX_SECONDS, MAX_TIMESTAMP

#: Numbers at and around every bound, where off-by-one mistakes live.
edges = st.sampled_from(
    [
        -1,
        0,
        1,
        2,
        0.5,
        -0.0,
        MAX_LIMIT,
        MAX_LIMIT + 1,
        MAX_SECONDS,
        MAX_SECONDS + 1,
        float(MAX_SECONDS) + 1e-6,
        MAX_TIMESTAMP - 1,
        MAX_TIMESTAMP,
        MAX_TIMESTAMP - 1e-4,
        float(MAX_TIMESTAMP),
        2**53,
        10**400,
        float("inf"),
        float("nan"),
    ]
)
#: Values of every kind a careless or hostile caller might pass.
anything = st.one_of(
    edges,
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**1200),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.lists(st.text(max_size=3), max_size=3),
    st.tuples(st.integers()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.builds(object),
)


def assert_refusal(error: AlertThrottleError, field: str, value: object) -> None:
    """``error`` names ``field``, keeps ``value`` and says both in its message."""
    assert isinstance(error, ValueError)
    assert error.field == field
    assert error.value is value
    message = str(error)
    assert message.startswith(f"{field}: {error.problem}, got ")
    if type(value) is not int or value.bit_length() < 600:
        shown = repr(value)
        assert shown in message or (len(shown) > 200 and shown[:100] in message)


class _Float(float):
    pass


class _Int(int):
    pass


class _Str(str):
    pass


#: Values equal to good ones, or a float at its edges, of a type an exact-type fast path
#: must not let through: a subclass instance, a bool, a NaN, an infinity, a negative zero.
LOOKALIKES: list[object] = [
    True,
    False,
    _Float(1.5),
    _Float("nan"),
    _Int(1),
    _Int(0x8014),
    _Str("00-0D-6F-00-0A-BC-12-34"),
    _Str("00:0d:6f:00:0a:bc:12:34"),
    _Str("8014"),
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
    5e-324,
    -5e-324,
]
lookalikes = st.sampled_from(LOOKALIKES)
