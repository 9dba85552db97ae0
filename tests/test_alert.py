"""Alert fields: normalisation of device ids, codes and times; refusal of bad values."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertthrottle import Alert, DeviceInfo, InvalidAlertError, format_code, parse_code
from alertthrottle._core.alert import parse_device_id

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
