"""Threshold and PolicyConfig: validation, defaults and plain-data round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import anything, assert_refusal

from alertthrottle import CapacityThresholds, PolicyConfig, PolicyError, Threshold
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


# -- any bad value, field by field; every bound accepted right up to itself -----------------------

MAX_LIMIT = 1_000_000
MAX_SECONDS = 366 * 86_400


def _number(value: object) -> bool:
    return type(value) in (int, float)


_THRESHOLD_RULES = {
    "limit": lambda v: type(v) is int and 1 <= v <= MAX_LIMIT,
    "period": lambda v: _number(v) and 0 < v <= MAX_SECONDS,
    "resume_below": lambda v: v is None or (type(v) is int and 1 <= v <= MAX_LIMIT),
    "sample_every": lambda v: v is None or (type(v) is int and v >= 2),
    "sample_interval": lambda v: v is None or (_number(v) and 0 < v <= MAX_SECONDS),
}


@given(st.sampled_from(sorted(_THRESHOLD_RULES)), anything)
def test_every_bad_threshold_value_is_refused_naming_field_and_value(field, value):
    # limit at its bound, so that any valid resume_below fits under it.
    fields: dict[str, object] = {"limit": MAX_LIMIT, "period": 60}
    fields[field] = value
    if _THRESHOLD_RULES[field](value):
        expected = MAX_LIMIT if value is None and field == "resume_below" else value
        assert getattr(Threshold(**fields), field) == expected
        return
    with pytest.raises(PolicyError) as info:
        Threshold(**fields)
    assert_refusal(info.value, field, value)


@given(
    st.integers(1, MAX_LIMIT),
    st.one_of(st.integers(1, MAX_SECONDS), st.floats(0, MAX_SECONDS, exclude_min=True)),
)
def test_thresholds_are_accepted_up_to_the_bounds(limit, period):
    threshold = Threshold(limit, period, resume_below=limit, sample_interval=period)
    assert (threshold.limit, threshold.period, threshold.sample_interval) == (limit, period, period)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": MAX_LIMIT + 1, "period": 60}, "limit"),
        ({"limit": 10**10, "period": 60}, "limit"),
        ({"limit": 5, "period": MAX_SECONDS + 1}, "period"),
        ({"limit": 5, "period": 10**400}, "period"),
        ({"limit": 5, "period": 60, "sample_interval": MAX_SECONDS + 0.5}, "sample_interval"),
    ],
)
def test_thresholds_beyond_the_bounds_are_refused(kwargs, field):
    with pytest.raises(PolicyError) as info:
        Threshold(**kwargs)
    assert info.value.field == field


def test_policy_files_get_the_same_bounds():
    with pytest.raises(PolicyError) as info:
        PolicyConfig.from_dict({"per_code": {"8014": {"limit": 5, "period": MAX_SECONDS + 1}}})
    assert (info.value.field, info.value.value) == ("per_code.8014.period", MAX_SECONDS + 1)
    data = {"default": {"limit": MAX_LIMIT, "period": MAX_SECONDS}}
    assert PolicyConfig.from_dict(data).default == Threshold(MAX_LIMIT, MAX_SECONDS)


@given(anything)
def test_capacity_periods_have_the_threshold_bound(value):
    if _THRESHOLD_RULES["period"](value):
        assert CapacityThresholds(value, 1, 2).period == value
        return
    with pytest.raises(PolicyError) as info:
        CapacityThresholds(value, 1, 2)
    assert_refusal(info.value, "period", value)
    with pytest.raises(PolicyError) as info:
        CapacityThresholds.from_dict({"period": value, "amber": 1, "red": 2}, "capacity.")
    assert info.value.field == "capacity.period"
