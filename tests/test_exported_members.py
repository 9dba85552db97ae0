"""The public surface is deliberate: this list changes only on purpose."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from types import FunctionType, ModuleType

import pytest

import alertthrottle
import alertthrottle.duis
import alertthrottle.redis
import alertthrottle.reports
import alertthrottle.testing
from alertthrottle import (
    Alert,
    AlertColumns,
    CapacityThresholds,
    DeviceInfo,
    LevelChanged,
    PolicyConfig,
    PolicySpec,
    Threshold,
    ThrottlePolicy,
    ThrottlingEnded,
    ThrottlingStarted,
    simulate,
)

EXPECTED = [
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


PUBLIC_FACES = (
    alertthrottle,
    alertthrottle.duis,
    alertthrottle.redis,
    alertthrottle.reports,
    alertthrottle.testing,
)


def test_all_is_the_curated_sorted_list():
    assert alertthrottle.__all__ == EXPECTED
    assert sorted(alertthrottle.__all__) == alertthrottle.__all__


@pytest.mark.parametrize("face", PUBLIC_FACES, ids=lambda m: m.__name__)
def test_all_imports_are_exported(face: ModuleType) -> None:
    """Every public name a face holds is in its ``__all__``: nothing is exported by accident.

    Submodules (``alertthrottle.cli``, ``alertthrottle.reports``, ...) appear as
    attributes once imported; they are reached by their own path, not exported.
    """
    included_private_members = ["__version__"] if face is alertthrottle else []
    members = sorted(
        name
        for name, value in vars(face).items()
        if (not name.startswith("_") or name in included_private_members)
        and not isinstance(value, ModuleType)
    )
    assert sorted(face.__all__) == members


@pytest.mark.parametrize("face", PUBLIC_FACES, ids=lambda m: m.__name__)
def test_public_classes_and_functions_say_where_to_import_them(face: ModuleType) -> None:
    for name in face.__all__:
        member = getattr(face, name)
        if isinstance(member, type | FunctionType):
            assert member.__module__ == face.__name__, name
            assert "alertthrottle._" not in repr(member), name


VALUES = [
    Alert(1.5, "00-0D-6F-00-0A-BC-12-34", 0x8014, ("DNO-1",)),
    AlertColumns([1.5, 2], ["00-0D-6F-00-0A-BC-12-34"] * 2, [0x8014, 1], [("DNO-1",), ()]),
    DeviceInfo("Acme", "M1", "1.0"),
    Threshold(3, 10, resume_below=2, sample_every=5),
    PolicyConfig(Threshold(3, 10), {0x8015: Threshold(5, 60)}, {0x8F35}),
    PolicySpec(
        PolicyConfig(Threshold(3, 10)), name="p", capacity=CapacityThresholds(60, 10, 20)
    ),
    ThrottlingStarted("00-0D-6F-00-0A-BC-12-34", 0x8014, 3, 1, 4, recipients=("DNO-1",)),
    ThrottlingEnded("00-0D-6F-00-0A-BC-12-34", 0x8014, 14, 1, 3, 3, 0),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_pickle_through_their_public_path(value: object) -> None:
    data = pickle.dumps(value)
    assert b"alertthrottle._" not in data
    assert pickle.loads(data) == value


def test_decisions_stats_events_and_reports_pickle() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(1, 10)))
    decisions = [policy.feed(Alert(t, "00-0D-6F-00-0A-BC-12-34", 1)) for t in (0, 1, 2)]
    report = simulate([Alert(t, "00-0D-6F-00-0A-BC-12-34", 1) for t in (0, 1, 2)], [PolicySpec(
        PolicyConfig(Threshold(1, 10)))])  # fmt: skip
    for value in (*decisions, policy.stats, *policy.advance(100), report):
        data = pickle.dumps(value)
        assert b"alertthrottle._" not in data, type(value)
        assert pickle.loads(data) == value
    assert isinstance(report, alertthrottle.reports.Report)
    assert LevelChanged.__module__ == "alertthrottle"


def test_reports_module_surface():
    assert alertthrottle.reports.__all__ == [
        "CapacityReport",
        "DeviceRow",
        "FlowRow",
        "HourRow",
        "IncidentCounts",
        "MakeRow",
        "Notifications",
        "PolicyReport",
        "Report",
        "SkippedRow",
        "Totals",
    ]
    for name in alertthrottle.reports.__all__:
        assert not hasattr(alertthrottle, name), name


def test_redis_module_surface():
    assert alertthrottle.redis.__all__ == ["RedisThrottlePolicy"]
    assert alertthrottle.redis.RedisThrottlePolicy.__module__ == "alertthrottle.redis"
    assert not hasattr(alertthrottle, "RedisThrottlePolicy")


def test_testing_package_surface():
    assert alertthrottle.testing.__all__ == sorted(alertthrottle.testing.__all__)
    assert set(alertthrottle.testing.__all__) == {
        "DEFAULT_CODES",
        "DEFAULT_DEVICES",
        "DEFAULT_PERIODS",
        "ReferencePolicy",
        "alert_streams",
        "alerts",
        "policy_configs",
        "thresholds",
    }


def test_exceptions_hierarchy():
    for name in (
        "EventError",
        "InvalidAlertError",
        "LateAlertError",
        "PolicyError",
        "ScenarioError",
        "SnapshotError",
        "TrafficError",
    ):
        error = getattr(alertthrottle, name)
        assert issubclass(error, alertthrottle.AlertThrottleError)
        assert issubclass(error, ValueError)


def test_every_public_name_is_in_the_api_reference():
    api = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    undocumented = [
        name
        for module in (alertthrottle, alertthrottle.testing, alertthrottle.reports)
        for name in module.__all__
        if not re.search(rf"\b{re.escape(name)}\b", api)
    ]
    assert undocumented == []


#: The documented members (docs/api.md) of the policy classes; engine operations stay private.
POLICY_MEMBERS = {
    "advance",
    "capacity",
    "clock",
    "config",
    "config_history",
    "engage_at",
    "feed",
    "feed_columns",
    "feed_many",
    "late",
    "load",
    "max_keys",
    "open_episodes",
    "pending_counts",
    "reconfigure",
    "restore",
    "save",
    "snapshot",
    "stats",
}
LOCKED_MEMBERS = (POLICY_MEMBERS - {"load", "restore"}) | {"hold"}


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_policy_classes_expose_only_their_documented_members() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(1, 10)), max_keys=5)
    for t in (0, 1, 2, 30):
        policy.feed(Alert(t, "00-0D-6F-00-0A-BC-12-34", 1))
    locked = alertthrottle.LockedPolicy(policy)
    assert _public(ThrottlePolicy) == _public(policy) == POLICY_MEMBERS
    assert _public(alertthrottle.LockedPolicy) == _public(locked) == LOCKED_MEMBERS
    api = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    assert [name for name in sorted(POLICY_MEMBERS | LOCKED_MEMBERS) if f"`{name}" not in api] == []
