"""alertthrottle: alert storm protection for GB smart metering (SECMP0062).

Feed timestamped alerts to a :class:`ThrottlePolicy`; get, for each, a
:class:`Decision` with DUIS-style metadata and the episode events that fell
due. See ``docs/semantics.md`` for the exact rules.
"""

from ._alert import Alert, DeviceInfo, format_code, parse_code, parse_device_id
from ._capacity import CapacityGuard, CapacityThresholds
from ._decision import Decision, Stats, ThrottleMetadata, Verdict
from ._digest import DigestBuilder, DigestRow
from ._events import CapacityLevel, LevelChanged, ThrottlingEnded, ThrottlingStarted
from ._exceptions import (
    AlertThrottleError,
    EventError,
    InvalidAlertError,
    LateAlertError,
    PolicyError,
)
from ._incidents import (
    Incident,
    IncidentBook,
    IncidentState,
    IncidentUpdate,
    incidents_per_recipient,
)
from ._policy import ThrottlePolicy
from ._threshold import PolicyConfig, Threshold

__version__ = "0.1.0.dev0"

__all__ = [
    "Alert",
    "AlertThrottleError",
    "CapacityGuard",
    "CapacityLevel",
    "CapacityThresholds",
    "Decision",
    "DeviceInfo",
    "DigestBuilder",
    "DigestRow",
    "EventError",
    "Incident",
    "IncidentBook",
    "IncidentState",
    "IncidentUpdate",
    "InvalidAlertError",
    "LateAlertError",
    "LevelChanged",
    "PolicyConfig",
    "PolicyError",
    "Stats",
    "Threshold",
    "ThrottleMetadata",
    "ThrottlePolicy",
    "ThrottlingEnded",
    "ThrottlingStarted",
    "Verdict",
    "__version__",
    "format_code",
    "incidents_per_recipient",
    "parse_code",
    "parse_device_id",
]
