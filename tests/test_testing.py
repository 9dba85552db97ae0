"""The public strategies produce what they promise."""

from __future__ import annotations

from hypothesis import given

from alertthrottle import Alert, PolicyConfig, Threshold
from alertthrottle.testing import DEFAULT_PERIODS, alert_streams, alerts, policy_configs, thresholds


@given(thresholds(max_limit=3, sampling=False))
def test_thresholds_respect_bounds(threshold):
    assert isinstance(threshold, Threshold)
    assert 1 <= threshold.limit <= 3 and threshold.period in DEFAULT_PERIODS
    assert threshold.sample_every is None and threshold.sample_interval is None


@given(policy_configs(codes=[1, 2]))
def test_configs_use_the_given_codes(config):
    assert isinstance(config, PolicyConfig)
    assert set(config.per_code) | config.exempt_codes <= {1, 2}


@given(alerts(max_time=5))
def test_alerts(alert):
    assert isinstance(alert, Alert) and 0 <= alert.timestamp <= 5


@given(alert_streams(min_size=3, max_size=10, late=False))
def test_streams_without_late_alerts_are_time_ordered(stream):
    assert 3 <= len(stream) <= 10
    times = [a.timestamp for a in stream]
    assert times == sorted(times)
