"""Policy files: TOML in, PolicySpec out, errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertthrottle import (
    PolicyConfig,
    PolicyError,
    PolicySpec,
    Threshold,
    builtin_policy,
    load_policy,
    parse_policy,
)
from alertthrottle._io.policyfile import BUILTIN_POLICIES

ISSUE_EXAMPLE = """
exempt_codes = ["8F35", "8F36"]
late = "clamp"
[default]
limit = 10
period = 3600
resume_below = 5
[per_code.8014]
limit = 20
period = 86400
sample_every = 10
"""


def test_the_issue_example_parses() -> None:
    spec = parse_policy(ISSUE_EXAMPLE, name="example")
    assert spec == PolicySpec(
        PolicyConfig(
            default=Threshold(10, 3600, 5),
            per_code={0x8014: Threshold(20, 86400, sample_every=10)},
            exempt_codes=frozenset({0x8F35, 0x8F36}),
        ),
        "clamp",
        "example",
    )
    assert spec.build().config == spec.config and spec.build().late == "clamp"


def test_load_policy_is_named_by_its_file_unless_it_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "phase-one.toml"
    path.write_text(ISSUE_EXAMPLE)
    assert load_policy(path).name == "phase-one"
    path.write_text('name = "mine"\n' + ISSUE_EXAMPLE)
    assert load_policy(path).name == "mine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[per_code.8014]\nlimit = 0\nperiod = 60\n",
            "per_code.8014.limit: must be an integer in 1..1,000,000, got 0",
        ),
        ("[default]\nlimit = 5\n", "default.period: is required, got None"),
        ("[default]\nlimit = 5\nperiod = 60\nresume = 2\n", "default.resume: unknown key"),
        ('late = "drop"\n', "late: must be 'clamp' or 'reject', got 'drop'"),
        ("name = 3\n", "name: must be a non-empty string, got 3"),
        ("limits = 3\n", "limits: unknown key"),
        ("[per_code.80X4]\nlimit = 1\nperiod = 1\n", "per_code: must be 1 to 4 hexadecimal"),
        (
            'exempt_codes = ["8014"]\n[per_code.8014]\nlimit = 1\nperiod = 1\n',
            "exempt_codes: codes cannot be both exempt and in per_code",
        ),
        ("[default\n", "toml: is not valid TOML"),
    ],
)
def test_errors_name_the_key_path(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[default]\nlimt = 5\nperiod = 60\n",
            "default.limt: unknown key; the keys here are limit, period, resume_below,"
            " sample_every, sample_interval (did you mean limit?), got 5",
        ),
        (
            "exempt_code = []\n",
            "exempt_code: unknown key; the keys here are capacity, default, engage_at,"
            " exempt_codes, late, name, per_code (did you mean exempt_codes?), got []",
        ),
        # Nothing close, or a key too long to compare: the keys alone.
        ("zzz = 1\n", "zzz: unknown key; the keys here are capacity, default, engage_at,"
         " exempt_codes, late, name, per_code, got 1"),
        (f"exempt_codes{'x' * 40} = 1\n", "unknown key; the keys here are capacity, default,"
         " engage_at, exempt_codes, late, name, per_code, got 1"),
    ],
)  # fmt: skip
def test_an_unknown_key_lists_the_keys_and_the_likely_one(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert str(info.value).endswith(message)


def test_builtin_policies_parse() -> None:
    for name in BUILTIN_POLICIES:
        spec = builtin_policy(name)
        assert spec.name == name
        assert spec.config.default is not None
    with pytest.raises(PolicyError, match="not a built-in policy"):
        builtin_policy("nope")


def test_spec_validates() -> None:
    with pytest.raises(PolicyError, match="config"):
        PolicySpec("not a config")  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="late"):
        PolicySpec(PolicyConfig(), "sometimes")  # type: ignore[arg-type]


periods = st.one_of(st.integers(1, 10**6), st.floats(0.001, 1e6, allow_nan=False))


@st.composite
def thresholds(draw: st.DrawFn) -> Threshold:
    limit = draw(st.integers(1, 1000))
    sampling = draw(st.sampled_from(["none", "every", "interval"]))
    return Threshold(
        limit,
        draw(periods),
        draw(st.integers(1, limit)),
        draw(st.integers(2, 100)) if sampling == "every" else None,
        draw(periods) if sampling == "interval" else None,
    )


@st.composite
def specs(draw: st.DrawFn) -> PolicySpec:
    codes = draw(st.sets(st.integers(0, 0xFFFF), max_size=6))
    exempt = draw(st.sets(st.sampled_from(sorted(codes)), max_size=3)) if codes else set()
    per_code = {code: draw(thresholds()) for code in codes - exempt}
    config = PolicyConfig(draw(st.one_of(st.none(), thresholds())), per_code, exempt)
    name = draw(st.text(min_size=1, max_size=10).filter(lambda s: s.strip()))
    return PolicySpec(config, draw(st.sampled_from(["clamp", "reject"])), name)


@settings(max_examples=150, deadline=None)
@given(specs())
def test_to_toml_round_trips(spec: PolicySpec) -> None:
    text = spec.to_toml()
    assert parse_policy(text) == spec
    # Normalised: printing the parsed file again gives the same text.
    assert parse_policy(text).to_toml() == text
