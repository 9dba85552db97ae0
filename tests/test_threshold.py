"""Threshold and PolicyConfig: validation, defaults and plain-data round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given

from alertthrottle import PolicyConfig, PolicyError, Threshold
from alertthrottle.testing import policy_configs


def test_resume_below_defaults_to_limit():
    assert Threshold(limit=10, period=3600).resume_below == 10
    assert Threshold(10, 3600, resume_below=None) == Threshold(10, 3600, 10)
    assert Threshold(10, 0.5, 3).period == 0.5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0, "period": 1}, "limit"),
        ({"limit": True, "period": 1}, "limit"),
        ({"limit": 1.0, "period": 1}, "limit"),
        ({"limit": 1, "period": 0}, "period"),
        ({"limit": 1, "period": -5}, "period"),
        ({"limit": 1, "period": math.inf}, "period"),
        ({"limit": 1, "period": math.nan}, "period"),
        ({"limit": 1, "period": "60"}, "period"),
        ({"limit": 1, "period": True}, "period"),
        ({"limit": 3, "period": 1, "resume_below": 4}, "resume_below"),
        ({"limit": 3, "period": 1, "resume_below": 0}, "resume_below"),
        ({"limit": 3, "period": 1, "sample_every": 1}, "sample_every"),
        ({"limit": 3, "period": 1, "sample_every": False}, "sample_every"),
        ({"limit": 3, "period": 1, "sample_interval": 0}, "sample_interval"),
        ({"limit": 3, "period": 1, "sample_every": 2, "sample_interval": 5}, "sample_interval"),
    ],
)
def test_bad_thresholds_name_the_field(kwargs, field):
    with pytest.raises(PolicyError) as info:
        Threshold(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_config_normalises_codes():
    config = PolicyConfig(
        default=None,
        per_code={"0x8014": Threshold(1, 1), 0x8F84: Threshold(2, 2)},
        exempt_codes=["8F35", 0x8F36],
    )
    assert set(config.per_code) == {0x8014, 0x8F84}
    assert config.exempt_codes == frozenset({0x8F35, 0x8F36})
    assert config.threshold_for("8014") == Threshold(1, 1)
    assert config.threshold_for(0x8F35) is None
    assert config.threshold_for(0x1234) is None
    assert config.is_exempt("8f35")


def test_config_per_code_is_read_only_and_copied():
    table = {0x8014: Threshold(1, 1)}
    config = PolicyConfig(per_code=table)
    table[0x8015] = Threshold(1, 1)
    assert 0x8015 not in config.per_code
    with pytest.raises(TypeError):
        config.per_code[0x8015] = Threshold(1, 1)  # type: ignore[index]
    assert hash(config) == hash(PolicyConfig(per_code={0x8014: Threshold(1, 1)}))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"default": 5}, "default"),
        ({"per_code": {"xyz": Threshold(1, 1)}}, "per_code"),
        ({"per_code": {0x10000: Threshold(1, 1)}}, "per_code"),
        ({"per_code": {0x8014: 5}}, "per_code.8014"),
        ({"per_code": {"8014": Threshold(1, 1), 0x8014: Threshold(2, 2)}}, "per_code"),
        ({"per_code": [1]}, "per_code"),
        ({"exempt_codes": "8F35"}, "exempt_codes"),
        ({"exempt_codes": [-1]}, "exempt_codes"),
        ({"per_code": {0x8F35: Threshold(1, 1)}, "exempt_codes": {0x8F35}}, "exempt_codes"),
    ],
)
def test_bad_configs_name_the_field(kwargs, field):
    with pytest.raises(PolicyError) as info:
        PolicyConfig(**kwargs)
    assert info.value.field == field


@given(policy_configs())
def test_plain_data_round_trip(config):
    assert PolicyConfig.from_dict(config.as_dict()) == config


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"per_code": {"8014": {"limit": 0, "period": 1}}}, "per_code.8014.limit"),
        ({"default": {"limit": 1}}, "default.period"),
        ({"default": {"limit": 1, "period": 1, "burst": 2}}, "default.burst"),
        ({"default": 3}, "default"),
        ({"defaults": {}}, "defaults"),
        ({"per_code": {"8014": 3}}, "per_code.8014"),
    ],
)
def test_from_dict_names_key_paths(data, field):
    with pytest.raises(PolicyError) as info:
        PolicyConfig.from_dict(data)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
