"""alertthrottle: alert storm protection for GB smart metering (SECMP0062).

Feed timestamped alerts to a :class:`ThrottlePolicy`; get, for each, a
:class:`Decision` with DUIS-style metadata and the episode events that fell
due. See ``docs/semantics.md`` for the exact rules.
"""

from ._core.alert import Alert, DeviceInfo, format_code, parse_code, parse_device_id
from ._core.columns import AlertColumns
from ._core.config import PolicyConfig, Threshold
from ._core.decision import Decision, Stats, ThrottleMetadata, Verdict
from ._core.errors import (
    AlertThrottleError,
    DuisError,
    EventError,
    InvalidAlertError,
    LateAlertError,
    PolicyError,
    ScenarioError,
    SnapshotError,
    StateStoreError,
    TrafficError,
)
from ._core.events import CapacityLevel, Event, LevelChanged, ThrottlingEnded, ThrottlingStarted
from ._core.public import publish
from ._engine.capacity import CapacityGuard, CapacityThresholds
from ._engine.history import ConfigChange, SettingChange
from ._engine.locked import LockedPolicy
from ._engine.partition import partition_for
from ._engine.policy import EngageAt, LateMode, ThrottlePolicy
from ._io.devices import load_device_registry
from ._io.policyfile import PolicySpec, builtin_policy, load_policy, parse_policy
from ._io.reorder import reorder
from ._io.traffic import TrafficReader, read_traffic
from ._io.trafficwrite import merge_traffic, write_traffic
from ._ops.digest import DigestBatch, DigestBuilder, DigestRow
from ._ops.incidents import (
    Incident,
    IncidentBook,
    IncidentState,
    IncidentUpdate,
    incidents_per_recipient,
)
from ._ops.rootcause import RootCauseReport, RootCauseRow, root_cause_csv, root_cause_json
from ._ops.shadow import ShadowComparison, ShadowPolicy, ShadowTally
from ._replay.replay import Replay, simulate
from ._replay.rootcause import root_cause_report
from ._replay.scenarios import GeneratedTraffic, Scenario, generate_scenario
from ._version import __version__

__all__ = [
    "Alert",
    "AlertColumns",
    "AlertThrottleError",
    "CapacityGuard",
    "CapacityLevel",
    "CapacityThresholds",
    "ConfigChange",
    "Decision",
    "DeviceInfo",
    "DigestBatch",
    "DigestBuilder",
    "DigestRow",
    "DuisError",
    "EngageAt",
    "Event",
    "EventError",
    "GeneratedTraffic",
    "Incident",
    "IncidentBook",
    "IncidentState",
    "IncidentUpdate",
    "InvalidAlertError",
    "LateAlertError",
    "LateMode",
    "LevelChanged",
    "LockedPolicy",
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
    "StateStoreError",
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
    "reorder",
    "root_cause_csv",
    "root_cause_json",
    "root_cause_report",
    "simulate",
    "write_traffic",
]

# Reprs, tracebacks and pickles show the public path, not the private module.
publish(globals(), __name__)
del publish
