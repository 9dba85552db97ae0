"""Device makes: the traffic's parts win, the registry fills the rest; registries are checked."""

from __future__ import annotations

import pytest

from alertthrottle import DeviceInfo, PolicyError
from alertthrottle._core.makes import UNKNOWN_MAKE, device_table, fill_make, with_registry

DEV = "00-0D-6F-00-0A-BC-12-34"


def test_fill_make_keeps_the_given_parts() -> None:
    known = DeviceInfo("Acme", "M1", "1.0")
    assert fill_make(DeviceInfo(firmware="2.0"), known) == DeviceInfo("Acme", "M1", "2.0")
    assert fill_make(DeviceInfo("B", "M2", "3"), known) == DeviceInfo("B", "M2", "3")
    assert fill_make(UNKNOWN_MAKE, None) == UNKNOWN_MAKE


def test_with_registry_covers_both_tables() -> None:
    other = "00-0D-6F-00-0A-BC-12-35"
    registry = {DEV: DeviceInfo("Acme", "M1", "1.0"), other: DeviceInfo("Z")}
    merged = with_registry({DEV: DeviceInfo(firmware="2.0")}, registry)
    assert merged == {DEV: DeviceInfo("Acme", "M1", "2.0"), other: DeviceInfo("Z")}
    assert with_registry({DEV: DeviceInfo("A")}, None) == {DEV: DeviceInfo("A")}


def test_device_table_canonicalises_and_refuses() -> None:
    assert device_table({DEV.lower(): DeviceInfo("A")}) == {DEV: DeviceInfo("A")}
    assert device_table(None) == {}
    with pytest.raises(PolicyError, match="devices"):
        device_table([DEV])
    with pytest.raises(PolicyError, match="devices"):
        device_table({"not-a-device": DeviceInfo()})
    with pytest.raises(PolicyError, match=f"devices.{DEV}"):
        device_table({DEV: ("Acme",)})
