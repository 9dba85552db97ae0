"""Stable partitioning of devices, for one policy per partition of a keyed stream.

Every alert of a key goes to the partition of its device, so per-key state
never has to be shared: N policies, one per partition, decide exactly as one
policy would (docs/scaling.md says how, and what differs).
"""

from __future__ import annotations

import hashlib

from .._core.alert import parse_device_id
from .._core.errors import PolicyError

__all__ = ["partition_for"]


def partition_for(device_id: str, partitions: int) -> int:
    """The partition, in ``0..partitions - 1``, that owns ``device_id``'s alerts.

    Stable across processes, machines and Python versions (unlike the salted
    builtin ``hash``): BLAKE2b with an 8-byte digest of the canonical EUI-64
    spelling (ASCII), read big-endian, modulo ``partitions``. Any spelling of
    the same device gives the same partition.
    """
    canonical = parse_device_id(device_id)
    if type(partitions) is not int or partitions < 1:
        raise PolicyError("partitions", partitions, "must be an integer >= 1")
    digest = hashlib.blake2b(canonical.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions
