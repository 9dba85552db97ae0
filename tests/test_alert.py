"""Alert fields: normalisation of device ids, codes and times; refusal of bad values."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import re
import weakref
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import LOOKALIKES, anything, assert_refusal, lookalikes

from alertthrottle import Alert, DeviceInfo, InvalidAlertError, format_code, parse_code
from alertthrottle._core.alert import (
    _MAX_CODE,
    _MAX_FLOAT_TIME,
    DeviceIds,
    _AlertSlots,
    parse_device_id,
)

CANONICAL = "00-0D-6F-00-0A-BC-12-34"


@pytest.mark.parametrize(
    "spelling",
    [CANONICAL, "00-0d-6f-00-0a-bc-12-34", "00:0D:6F:00:0A:BC:12:34", "000D6F000ABC1234"],
)
def test_device_id_spellings_are_normalised(spelling):
    assert Alert(timestamp=0, device_id=spelling, code=1).device_id == CANONICAL


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "00-0D-6F-00-0A-BC-12",
        "00-0D-6F-00-0A-BC-12-3G",
        "00-0D:6F-00-0A-BC-12-34",
        " 00-0D-6F-00-0A-BC-12-34",
        "000D6F000ABC12345",
        0x000D6F000ABC1234,
        None,
        b"000D6F000ABC1234",
    ],
)
def test_bad_device_ids_are_refused_with_field_and_value(bad):
    with pytest.raises(InvalidAlertError) as info:
        Alert(timestamp=0, device_id=bad, code=1)
    assert info.value.field == "device_id"
    assert info.value.value == bad
    assert "device_id" in str(info.value) and repr(bad) in str(info.value)


@given(st.integers(0, 2**64 - 1), st.sampled_from(["-", ":", ""]), st.booleans())
def test_any_spelling_of_64_bits_round_trips(bits, sep, lower):
    raw = f"{bits:016X}"
    text = sep.join(raw[i : i + 2] for i in range(0, 16, 2))
    canonical = parse_device_id(text.lower() if lower else text)
    assert int(canonical.replace("-", ""), 16) == bits
    assert parse_device_id(canonical) == canonical


@pytest.mark.parametrize("spelling", ["8014", "0x8014", "0X8014", 0x8014, "8014".lower()])
def test_codes_are_hex_text_or_int(spelling):
    assert Alert(timestamp=0, device_id=CANONICAL, code=spelling).code == 0x8014


@pytest.mark.parametrize(
    "bad", [-1, 0x10000, "", "0x", "80145", "+801", "80_14", " 8014", "8014h", True, 8014.0, None]
)
def test_bad_codes_are_refused(bad):
    with pytest.raises(InvalidAlertError) as info:
        Alert(timestamp=0, device_id=CANONICAL, code=bad)
    assert info.value.field == "code" and info.value.value is bad


def test_code_formatting():
    assert format_code(0x8F84) == "8F84"
    assert format_code(0x14) == "0014"
    assert Alert(timestamp=0, device_id=CANONICAL, code="8f84").code_hex == "8F84"
    assert parse_code("f") == 15


def test_aware_datetimes_become_epoch_seconds():
    moment = datetime(2026, 11, 29, 3, 0, tzinfo=timezone(timedelta(hours=1)))
    alert = Alert(timestamp=moment, device_id=CANONICAL, code=1)
    assert alert.timestamp == moment.timestamp()
    assert alert == Alert(timestamp=moment.astimezone(UTC), device_id=CANONICAL, code=1)


@pytest.mark.parametrize(
    "bad",
    [
        math.nan,
        math.inf,
        -math.inf,
        -1,
        -0.5,
        True,
        False,
        "0",
        None,
        datetime(2026, 1, 1),
        datetime(1960, 1, 1, tzinfo=UTC),
    ],
)
def test_bad_times_are_refused(bad):
    with pytest.raises(InvalidAlertError) as info:
        Alert(timestamp=bad, device_id=CANONICAL, code=1)
    assert info.value.field == "timestamp"
    assert isinstance(info.value, ValueError)


def test_recipients():
    assert Alert(timestamp=0, device_id=CANONICAL, code=1, recipients=["A", "B"]).recipients == (
        "A",
        "B",
    )
    for bad in ("DNO", ["A", ""], [1], None):
        with pytest.raises(InvalidAlertError) as info:
            Alert(timestamp=0, device_id=CANONICAL, code=1, recipients=bad)
        assert info.value.field == "recipients"


def test_alerts_are_frozen_slotted_values():
    alert = Alert(timestamp=1, device_id=CANONICAL, code="8014")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        alert.code = 2  # type: ignore[misc]
    assert not hasattr(alert, "__dict__")
    assert alert == Alert(1, "000d6f000abc1234", 0x8014)
    assert hash(alert) == hash(Alert(1, "000d6f000abc1234", 0x8014))


def test_device_info():
    assert DeviceInfo(manufacturer="Acme", model="M1", firmware="1.2").model == "M1"
    assert DeviceInfo() == DeviceInfo(None, None, None)
    with pytest.raises(InvalidAlertError) as info:
        DeviceInfo(firmware="")
    assert info.value.field == "firmware"


# -- DCC alert codes -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["N24", "AD1", "N1", "CS01a", "ABCDEF0123456789"])
def test_dcc_codes_round_trip_and_never_meet_device_codes(name):
    code = parse_code(f"DCC:{name}")
    assert code > 0xFFFF
    assert format_code(code) == f"DCC:{name}"
    assert parse_code(code) == code  # the int parse_code gave is accepted back
    alert = Alert(timestamp=0, device_id=CANONICAL, code=f"DCC:{name}")
    assert alert.code == code and alert.code_hex == f"DCC:{name}"


def test_dcc_code_ad1_is_not_device_code_ad1():
    assert parse_code("AD1") == 0x0AD1
    assert parse_code("DCC:AD1") != 0x0AD1
    assert format_code(parse_code("AD1")) == "0AD1"
    assert format_code(parse_code("DCC:AD1")) == "DCC:AD1"
    # Case is kept: DCC codes are names, not numbers.
    assert parse_code("DCC:ad1") != parse_code("DCC:AD1")


def test_dcc_codes_sort_after_device_codes():
    codes = sorted(parse_code(c) for c in ["DCC:N24", "FFFF", "DCC:AD1", "0000"])
    assert [format_code(c) for c in codes] == ["0000", "FFFF", "DCC:AD1", "DCC:N24"]


@pytest.mark.parametrize(
    "bad",
    ["DCC:", "DCC:N-24", "DCC:N 24", "dcc:N24", "DCC:" + "N" * 17, "DCC:N24\n", "N24", "DCC:Ä"],
)
def test_bad_dcc_codes_are_refused(bad):
    with pytest.raises(InvalidAlertError) as info:
        Alert(timestamp=0, device_id=CANONICAL, code=bad)
    assert info.value.field == "code" and info.value.value is bad


@pytest.mark.parametrize("bad", [0x10000, 0x10000 + 0x20, 1 << 32, 1 << 200, 0x10000 + 0x4E2D34])
def test_ints_that_name_no_dcc_code_are_refused(bad):
    # 0x4E2D34 is "N-4": a byte a DCC code cannot hold.
    with pytest.raises(InvalidAlertError) as info:
        parse_code(bad)
    assert info.value.field == "code"


# -- bounds, the fast constructor, the device-id table -------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [253_402_300_800, 1_705_276_800_000, 1_705_276_800_000_000, 10**400, 2.0**53],
)
def test_times_from_the_year_10000_on_are_refused(bad):
    with pytest.raises(InvalidAlertError) as info:
        Alert(timestamp=bad, device_id=CANONICAL, code=1)
    assert (info.value.field, info.value.value) == ("timestamp", bad)
    assert "before the year 10000" in str(info.value)


def test_a_time_in_milliseconds_is_refused_with_a_hint():
    with pytest.raises(InvalidAlertError, match="looks like epoch milliseconds"):
        Alert(timestamp=1_705_276_800_000, device_id=CANONICAL, code=1)


def test_the_last_second_before_the_year_10000_is_accepted():
    assert Alert(253_402_300_799, CANONICAL, 1).timestamp == 253_402_300_799
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert Alert(last, CANONICAL, 1).timestamp == 253_402_300_799


@given(
    st.one_of(st.integers(0, 253_402_300_799), st.floats(0, 253_402_300_800, exclude_max=True)),
    st.integers(0, 2**64 - 1),
    st.integers(0, 0xFFFF),
    st.lists(st.text(min_size=1, max_size=4), max_size=2).map(tuple),
)
def test_from_parsed_equals_the_constructor_on_canonical_fields(t, bits, code, recipients):
    raw = f"{bits:016X}"
    device = "-".join(raw[i : i + 2] for i in range(0, 16, 2))
    alert = Alert.from_parsed(t, device, code, recipients)
    assert alert == Alert(t, device, code, recipients)
    assert type(alert) is Alert and alert.timestamp is t and alert.recipients == recipients


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("timestamp", (-1, CANONICAL, 1)),
        ("timestamp", (1_705_276_800_000, CANONICAL, 1)),
        ("timestamp", (True, CANONICAL, 1)),
        ("timestamp", (datetime(2026, 1, 1, tzinfo=UTC), CANONICAL, 1)),
        ("device_id", (0, "000d6f000abc1234", 1)),
        ("device_id", (0, "00-0d-6f-00-0a-bc-12-34", 1)),
        ("device_id", (0, b"00-0D-6F-00-0A-BC-12-34", 1)),
        ("code", (0, CANONICAL, "8014")),
        ("code", (0, CANONICAL, 0x10000)),
        ("code", (0, CANONICAL, False)),
        ("recipients", (0, CANONICAL, 1, ["DNO"])),
        ("recipients", (0, CANONICAL, 1, ("",))),
        ("recipients", (0, CANONICAL, 1, "DNO")),
    ],
)
def test_from_parsed_refuses_what_is_not_canonical(field, args):
    with pytest.raises(InvalidAlertError) as info:
        Alert.from_parsed(*args)
    assert info.value.field == field
    assert info.value.value is args[("timestamp", "device_id", "code", "recipients").index(field)]


def test_device_table_is_bounded_and_holds_only_valid_ids():
    table = DeviceIds(3)
    spellings = [f"00:0d:6f:00:00:00:00:{n:02x}" for n in range(7)]
    for spelling in spellings:
        assert table.canonical(spelling) == spelling.upper().replace(":", "-")
        assert len(table) <= 3
    assert table.lookup(spellings[-1]) == spellings[-1].upper().replace(":", "-")
    with pytest.raises(InvalidAlertError):
        table.canonical("not an id", "device")
    assert table.lookup("not an id") is None


def test_from_parsed_remembers_a_canonical_id_and_only_a_canonical_one():
    table = DeviceIds(2)
    assert table.is_canonical(CANONICAL) and table.lookup(CANONICAL) == CANONICAL
    assert not table.is_canonical(CANONICAL.lower()) and table.lookup(CANONICAL.lower()) is None
    assert not table.is_canonical("not an id") and len(table) == 1
    others = [CANONICAL[:-2] + f"{n:02X}" for n in range(5)]
    assert all(table.is_canonical(other) for other in others)
    assert len(table) <= 2
    # The lower-case spelling is known (as a spelling of the canonical id), not canonical.
    table.canonical(CANONICAL.lower())
    assert not table.is_canonical(CANONICAL.lower())


# -- the constructors' fast stores: what an Alert is, however it was built -----------------------
# Every constructor writes the fields into an _AlertSlots (Alert's writable base) and then
# switches its class to Alert: every test below fails if one escapes or a field is lost.

_ALERT_ARGS = (1_700_000_000.5, CANONICAL, 0x8F84, ("DNO", "Supplier"))


def _built_every_way() -> list[Alert]:
    t, d, c, r = _ALERT_ARGS
    return [
        Alert(t, d, c, r),
        Alert(timestamp=t, device_id=d, code=c, recipients=list(r)),
        Alert(t, d.lower(), f"{c:04x}", r),
        Alert.from_parsed(t, d, c, r),
        attrs.evolve(Alert(0, d, 1), timestamp=t, code=c, recipients=r),
    ]


def _writers_alive() -> list[object]:
    return [o for o in gc.get_objects() if type(o) is _AlertSlots]


def test_every_constructor_returns_a_frozen_alert_holding_each_field():
    for alert in _built_every_way():
        assert type(alert) is Alert
        assert (alert.timestamp, alert.device_id, alert.code, alert.recipients) == _ALERT_ARGS
        assert attrs.astuple(alert) == _ALERT_ARGS
        assert attrs.asdict(alert)["device_id"] == CANONICAL
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            alert.code = 1  # type: ignore[misc]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            del alert.code  # type: ignore[misc]
        assert weakref.ref(alert)() is alert
        assert repr(alert) == (
            "Alert(timestamp=1700000000.5, device_id='00-0D-6F-00-0A-BC-12-34', code=36740, "
            "recipients=('DNO', 'Supplier'))"
        )
        assert alert == _built_every_way()[0] and hash(alert) == hash(_built_every_way()[0])
    assert [f.name for f in attrs.fields(Alert)] == list(Alert.__match_args__)
    assert Alert.__match_args__ == ("timestamp", "device_id", "code", "recipients")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_alerts_pickle_copy_and_deepcopy_as_alerts(protocol):
    for alert in _built_every_way():
        for again in (pickle.loads(pickle.dumps(alert, protocol)), copy.copy(alert)):
            assert again == alert and type(again) is Alert
        deep = copy.deepcopy(alert)
        assert deep == alert and type(deep) is Alert and deep.recipients == alert.recipients
    match _built_every_way()[3]:
        case Alert(t, d, c, r):
            assert (t, d, c, r) == _ALERT_ARGS
        case _:
            pytest.fail("Alert's positional pattern does not match")


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("timestamp", (-1.0, CANONICAL, 1)),
        ("device_id", (0, "00-0D-6F", 1)),
        ("code", (0, CANONICAL, 0x10000)),
        ("recipients", (0, CANONICAL, 1, ("",))),
    ],
)
def test_a_refused_value_leaves_no_writer_behind(field, args):
    gc.collect()
    for make in (Alert, Alert.from_parsed):
        with pytest.raises(InvalidAlertError) as info:
            make(*args)
        assert info.value.field == field
    assert _writers_alive() == []
    built = [Alert(0, CANONICAL, 1), Alert.from_parsed(0, CANONICAL, 1)]
    assert _writers_alive() == [] and {type(a) for a in built} == {Alert}


def test_the_writer_is_layout_identical_and_writes_plainly():
    # The class switch needs the same layout (Alert adds no slot to its base); the fast
    # stores need object's own __setattr__ (else CPython puts a slow generic slot in the type).
    assert _AlertSlots.__basicsize__ == Alert.__basicsize__
    assert Alert.__bases__ == (_AlertSlots,) and Alert.__slots__ == ()
    assert _AlertSlots.__setattr__ is object.__setattr__
    assert _AlertSlots.__delattr__ is object.__delattr__
    assert _AlertSlots.__new__ is object.__new__ and _AlertSlots.__init__ is object.__init__


@attrs.frozen(slots=True, init=False)
class _Tagged(Alert):
    """A user's subclass with a slot of its own (another layout than Alert's), unset here."""

    tag: str = "x"


def test_a_subclass_still_gets_its_own_type_and_fields():
    plain_subclass = type("Sub", (Alert,), {})  # no __slots__: it has a __dict__
    same_layout = type("Same", (Alert,), {"__slots__": ()})  # switched to, like Alert
    for cls in (plain_subclass, same_layout, _Tagged):
        for alert in (cls(*_ALERT_ARGS), cls.from_parsed(*_ALERT_ARGS)):
            assert type(alert) is cls
            assert (alert.timestamp, alert.device_id, alert.code, alert.recipients) == _ALERT_ARGS


@given(
    st.one_of(st.integers(0, 253_402_300_799), st.floats(0, 253_402_300_800, exclude_max=True)),
    st.integers(0, 2**64 - 1),
    st.sampled_from(["-", ":", ""]),
    st.booleans(),
    st.one_of(st.integers(0, 0xFFFF), st.sampled_from(["DCC:N24", "DCC:AD1"])),
    st.lists(st.text(min_size=1, max_size=4), max_size=2).map(tuple),
)
def test_any_spelling_builds_the_alert_from_parsed_builds_of_its_canonical_fields(
    t, bits, sep, lower, code, recipients
):
    raw = f"{bits:016X}"
    spelled = sep.join(raw[i : i + 2] for i in range(0, 16, 2))
    spelled = spelled.lower() if lower else spelled
    alert = Alert(t, spelled, code, list(recipients))
    parsed = Alert.from_parsed(t, parse_device_id(spelled), parse_code(code), recipients)
    assert alert == parsed and hash(alert) == hash(parsed)
    assert type(alert) is type(parsed) is Alert
    assert attrs.astuple(parsed) == (t, parse_device_id(spelled), parse_code(code), recipients)


# -- any bad value, field by field (the spec's rules, written out independently) -----------------

_EUI64 = re.compile(r"[0-9A-Fa-f]{2}([-:]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){6}")
_CODE_TEXT = re.compile(r"(0[xX])?[0-9A-Fa-f]{1,4}")


def _valid(field: str, value: object) -> bool:
    if field == "timestamp":
        if isinstance(value, datetime):
            return value.utcoffset() is not None and 0 <= value.timestamp() < 253_402_300_800
        return type(value) in (int, float) and 0 <= value < 253_402_300_800
    if field == "device_id":
        return type(value) is str and _EUI64.fullmatch(value) is not None
    if field == "code":
        if type(value) is str:
            return _CODE_TEXT.fullmatch(value) is not None
        return type(value) is int and 0 <= value <= 0xFFFF
    try:  # recipients: any iterable but a str, of non-empty str
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return not isinstance(value, str) and all(type(i) is str and i for i in items)


@given(
    st.sampled_from(["timestamp", "device_id", "code", "recipients"]),
    anything
    | lookalikes
    | st.from_regex(_EUI64, fullmatch=True)
    | st.from_regex(_CODE_TEXT, fullmatch=True),
)
def test_every_bad_field_value_is_refused_naming_field_and_value(field, value):
    fields = {"timestamp": 0, "device_id": CANONICAL, "code": 1, "recipients": ()}
    fields[field] = value
    if _valid(field, value):
        assert Alert(**fields) == Alert(**fields)
        return
    with pytest.raises(InvalidAlertError) as info:
        Alert(**fields)
    assert_refusal(info.value, field, value)


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
@pytest.mark.parametrize("field", ["timestamp", "device_id", "code"])
def test_a_lookalike_of_a_good_value_is_refused_unless_the_spec_takes_it(field, value):
    # The constructor's fast path tests exact types first: a subclass, a bool or a NaN
    # must still reach the parsers and be refused (-0.0 and the tiniest float are times).
    fields = {"timestamp": 0, "device_id": CANONICAL, "code": 1}
    fields[field] = value
    if _valid(field, value):
        assert Alert(**fields).timestamp == value and field == "timestamp"
        return
    with pytest.raises(InvalidAlertError) as info:
        Alert(**fields)
    assert_refusal(info.value, field, value)


def test_from_parsed_refuses_none_as_recipients():
    with pytest.raises(InvalidAlertError, match="recipients"):
        Alert.from_parsed(1, "00-0D-6F-00-0A-BC-12-34", 1, None)  # type: ignore[arg-type]


def test_the_constructors_literal_bounds_are_the_named_ones() -> None:
    # Alert.__new__ and from_parsed write the common case's bounds as literals (a
    # constant costs less than a global load); they must stay the bounds named here.
    assert _MAX_FLOAT_TIME == 253402300800.0
    assert _MAX_CODE == 0xFFFF
    assert Alert(253402300799.5, "00-0D-6F-00-0A-BC-12-34", 0xFFFF).code == 0xFFFF
    for bad in (253402300800.0, -0.5):
        with pytest.raises(InvalidAlertError):
            Alert(bad, "00-0D-6F-00-0A-BC-12-34", 1)
