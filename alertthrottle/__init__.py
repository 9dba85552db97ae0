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
    ScenarioError,
    SnapshotError,
    TrafficError,
)
from ._incidents import (
    Incident,
    IncidentBook,
    IncidentState,
    IncidentUpdate,
    incidents_per_recipient,
)
from ._partition import partition_for
from ._policy import ThrottlePolicy
from ._policyfile import PolicySpec, builtin_policy, load_policy, parse_policy
from ._reconfigure import ConfigChange, SettingChange
from ._rootcause import (
    RootCauseReport,
    RootCauseRow,
    load_device_registry,
    root_cause_csv,
    root_cause_json,
    root_cause_report,
)
from ._scenarios import GeneratedTraffic, Scenario, generate_scenario
from ._shadow import ShadowComparison, ShadowPolicy, ShadowTally
from ._simulate import Replay, simulate
from ._threshold import PolicyConfig, Threshold
from ._traffic import TrafficReader, merge_traffic, read_traffic, write_traffic

__version__ = "0.1.0.dev0"

__all__ = [
    "Alert",
    "AlertThrottleError",
    "CapacityGuard",
    "CapacityLevel",
    "CapacityThresholds",
    "ConfigChange",
    "Decision",
    "DeviceInfo",
    "DigestBuilder",
    "DigestRow",
    "EventError",
    "GeneratedTraffic",
    "Incident",
    "IncidentBook",
    "IncidentState",
    "IncidentUpdate",
    "InvalidAlertError",
    "LateAlertError",
    "LevelChanged",
    "PolicyConfig",
    "PolicyError",
    "PolicySpec",
    "Replay",
    "RootCauseReport",
    "RootCauseRow",
    "Scenario",
    "ScenarioError",
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
    "TrafficError",
    "TrafficReader",
    "Verdict",
    "__version__",
    "builtin_policy",
    "format_code",
    "generate_scenario",
    "incidents_per_recipient",
    "load_device_registry",
    "load_policy",
    "merge_traffic",
    "parse_code",
    "parse_device_id",
    "parse_policy",
    "partition_for",
    "read_traffic",
    "root_cause_csv",
    "root_cause_json",
    "root_cause_report",
    "simulate",
    "write_traffic",
]
