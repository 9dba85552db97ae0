"""The public surface is deliberate: this list changes only on purpose."""

from __future__ import annotations

import alertthrottle
import alertthrottle.reports
import alertthrottle.testing

EXPECTED = [
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


def test_all_is_the_curated_sorted_list():
    assert alertthrottle.__all__ == EXPECTED
    assert sorted(alertthrottle.__all__) == alertthrottle.__all__


def test_every_exported_name_exists_and_says_where_it_lives():
    for name in alertthrottle.__all__:
        member = getattr(alertthrottle, name)
        module = getattr(member, "__module__", "alertthrottle")
        assert module.startswith("alertthrottle"), (name, module)


def test_reports_module_surface():
    import alertthrottle.reports

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
    import alertthrottle.redis

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
    import re
    from pathlib import Path

    api = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    undocumented = [
        name
        for module in (alertthrottle, alertthrottle.testing, alertthrottle.reports)
        for name in module.__all__
        if not re.search(rf"\b{re.escape(name)}\b", api)
    ]
    assert undocumented == []
