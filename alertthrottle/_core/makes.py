"""Device makes: the one way a device's manufacturer, model and firmware are combined and kept.

A make can come from the traffic (columns of a row), from a registry file
(``--devices``) or from a generated scenario. The traffic's own parts win;
the registry fills only what the traffic leaves out. Registries are keyed by
canonical device id.
"""

from __future__ import annotations

from collections.abc import Mapping

from .alert import DeviceInfo, parse_device_id
from .errors import AlertThrottleError, PolicyError

__all__ = ["UNKNOWN_MAKE", "device_table", "fill_make", "with_registry"]

#: A device whose make nobody gave.
UNKNOWN_MAKE = DeviceInfo()


def fill_make(given: DeviceInfo, known: DeviceInfo | None) -> DeviceInfo:
    """``given``, each part it leaves out (``None``) filled from ``known``."""
    if known is None or None not in (given.manufacturer, given.model, given.firmware):
        return given
    return DeviceInfo(
        given.manufacturer if given.manufacturer is not None else known.manufacturer,
        given.model if given.model is not None else known.model,
        given.firmware if given.firmware is not None else known.firmware,
    )


def with_registry(
    devices: Mapping[str, DeviceInfo], registry: Mapping[str, DeviceInfo] | None
) -> dict[str, DeviceInfo]:
    """Every device of either table: the traffic's makes, filled from the registry."""
    merged = dict(registry or {})
    for device_id, info in devices.items():
        merged[device_id] = fill_make(info, merged.get(device_id))
    return merged


def device_table(devices: object, field: str = "devices") -> dict[str, DeviceInfo]:
    """A copy of a device registry keyed by canonical device id; anything else is refused.

    ``None`` is the empty registry. A value that is not a mapping of device
    ids to :class:`DeviceInfo` raises :class:`PolicyError` naming ``field``.
    """
    if devices is None:
        return {}
    if not isinstance(devices, Mapping):
        raise PolicyError(field, devices, "must be a mapping of device id to DeviceInfo")
    table: dict[str, DeviceInfo] = {}
    for device_id, info in devices.items():
        try:
            canonical = parse_device_id(device_id, field)
        except AlertThrottleError as exc:
            raise PolicyError(field, device_id, exc.problem) from None
        if not isinstance(info, DeviceInfo):
            raise PolicyError(f"{field}.{canonical}", info, "must be a DeviceInfo")
        table[canonical] = info
    return table
