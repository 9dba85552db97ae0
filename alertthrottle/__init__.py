"""alertthrottle: alert storm protection for GB smart metering (SECMP0062).

Feed timestamped alerts to a :class:`ThrottlePolicy`; get, for each, a
:class:`Decision` with DUIS-style metadata and the episode events that fell
due. See ``docs/semantics.md`` for the exact rules.
"""

from ._alert import Alert, DeviceInfo, format_code, parse_code, parse_device_id
from ._decision import Decision, Stats, ThrottleMetadata, Verdict
from ._events import ThrottlingEnded, ThrottlingStarted
from ._exceptions import (
    AlertThrottleError,
    InvalidAlertError,
    LateAlertError,
    PolicyError,
    SnapshotError,
)
from ._partition import partition_for
from ._policy import ThrottlePolicy
from ._reconfigure import ConfigChange, SettingChange
from ._shadow import ShadowComparison, ShadowPolicy, ShadowTally
from ._threshold import PolicyConfig, Threshold

__version__ = "0.1.0.dev0"

__all__ = [
    "Alert",
    "AlertThrottleError",
    "ConfigChange",
    "Decision",
    "DeviceInfo",
    "InvalidAlertError",
    "LateAlertError",
    "PolicyConfig",
    "PolicyError",
    "SettingChange",
    "ShadowComparison",
    "ShadowPolicy",
    "ShadowTally",
    "SnapshotError",
    "Stats",
    "Threshold",
    "ThrottleMetadata",
    "ThrottlePolicy",
    "ThrottlingEnded",
    "ThrottlingStarted",
    "Verdict",
    "__version__",
    "format_code",
    "parse_code",
    "parse_device_id",
    "partition_for",
]
