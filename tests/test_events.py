"""Events are values checked when made: any bad field raises EventError naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import anything, assert_refusal

from alertthrottle import (
    CapacityLevel,
    EventError,
    LevelChanged,
    ThrottlingEnded,
    ThrottlingStarted,
    parse_code,
)
from alertthrottle._core.events import checked_ended, checked_started

DEVICE = "00-0D-6F-00-0A-BC-12-34"
STARTED = {"device_id": DEVICE, "code": 0x8014, "at": 3, "sequence_id": 1, "window_count": 4}
ENDED = {
    "device_id": DEVICE,
    "code": 0x8014,
    "at": 14,
    "sequence_id": 1,
    "started_at": 3,
    "throttled_count": 3,
    "sampled_count": 0,
}
LEVEL = {"at": 5, "old": CapacityLevel.GREEN, "new": CapacityLevel.AMBER, "window_count": 7}


def _time(value: object) -> bool:
    return type(value) in (int, float) and 0 <= value < 253_402_300_800  # type: ignore[operator]


def _dcc_code(value: int) -> bool:
    """Whether ``value`` is the int of a DCC alert code: 0x10000 plus 1 to 16 ASCII
    letters or digits read as one big-endian number."""
    number = value - 0x10000
    if number <= 0 or number.bit_length() > 128:
        return False
    text = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return 1 <= len(text) <= 16 and all(chr(b).isascii() and chr(b).isalnum() for b in text)


def _count(minimum: int):  # type: ignore[no-untyped-def]
    return lambda value: type(value) is int and value >= minimum


RULES = {
    "device_id": lambda value: value == DEVICE,
    "code": lambda value: type(value) is int and (0 <= value <= 0xFFFF or _dcc_code(value)),
    "at": _time,
    "started_at": lambda value: _time(value) and value <= ENDED["at"],
    "sequence_id": _count(1),
    "window_count": _count(1),
    "throttled_count": _count(0),
    "sampled_count": _count(0),
    "recipients": lambda value: type(value) is tuple and all(type(r) is str and r for r in value),
}


@pytest.mark.parametrize(
    ("kind", "fields"), [(ThrottlingStarted, STARTED), (ThrottlingEnded, ENDED)]
)
@given(data=st.data())
def test_any_bad_episode_event_field_is_refused_naming_it(kind, fields, data):
    field = data.draw(st.sampled_from([*fields, "recipients"]))
    value = data.draw(anything | st.lists(st.text(max_size=3), max_size=2).map(tuple))
    given_ = {**fields, field: value}
    if kind is ThrottlingEnded and field == "at" and _time(value) and value < ENDED["started_at"]:
        # A good time on its own, but before the episode started: the pair is
        # refused, named by the field that is compared.
        with pytest.raises(EventError) as info:
            kind(**given_)
        assert_refusal(info.value, "started_at", ENDED["started_at"])
        return
    if RULES[field](value):
        assert getattr(kind(**given_), field) == value
        return
    with pytest.raises(EventError) as info:
        kind(**given_)
    assert_refusal(info.value, field, value)


@given(st.sampled_from(sorted(LEVEL)), anything)
def test_any_bad_level_change_field_is_refused_naming_it(field, value):
    rules = {
        "at": _time,
        "old": lambda v: isinstance(v, CapacityLevel),
        "new": lambda v: isinstance(v, CapacityLevel),
        "window_count": _count(0),
    }
    given_ = {**LEVEL, field: value}
    if rules[field](value):
        assert getattr(LevelChanged(**given_), field) == value
        return
    with pytest.raises(EventError) as info:
        LevelChanged(**given_)
    assert_refusal(info.value, field, value)


def test_dcc_codes_and_non_canonical_ids():
    dcc = parse_code("DCC:N24")
    assert ThrottlingStarted(**{**STARTED, "code": dcc}).code == dcc
    with pytest.raises(EventError) as info:
        ThrottlingStarted(**{**STARTED, "device_id": DEVICE.lower()})
    assert info.value.field == "device_id"
    with pytest.raises(EventError) as info:
        ThrottlingEnded(**{**ENDED, "started_at": 15})
    assert (info.value.field, info.value.value) == ("started_at", 15)


def test_the_engines_unchecked_constructors_make_the_checked_events() -> None:
    """checked_started/checked_ended (the engine's) give what the constructors give."""
    recipients = ("ops", "dno")
    started = checked_started(DEVICE, 0x8014, 3, 1, 4, recipients)
    expected = ThrottlingStarted(**STARTED, recipients=recipients)
    assert type(started) is ThrottlingStarted
    assert started == expected and hash(started) == hash(expected)
    assert repr(started) == repr(expected) and started.recipients == recipients
    ended = checked_ended(started, 14, 3, 0)
    expected_end = ThrottlingEnded(**ENDED, recipients=recipients)
    assert type(ended) is ThrottlingEnded
    assert ended == expected_end and repr(ended) == repr(expected_end)
    with pytest.raises(AttributeError):
        ended.at = 15  # type: ignore[misc]
