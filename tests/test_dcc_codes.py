"""DCC alert codes (``DCC:N24``) as throttle keys: policy files, snapshots, events, reports."""

from __future__ import annotations

from alertthrottle import (
    Alert,
    PolicyConfig,
    Threshold,
    ThrottlePolicy,
    Verdict,
    format_code,
    parse_code,
    parse_policy,
    read_traffic,
    write_traffic,
)

DEVICE = "00-0D-6F-00-0A-BC-12-34"
POLICY = """
exempt_codes = ["DCC:AD1"]

[default]
limit = 50
period = 60

[per_code."DCC:N24"]
limit = 2
period = 10
"""


def test_policy_files_name_dcc_codes_and_print_them_back():
    spec = parse_policy(POLICY)
    assert parse_code("DCC:N24") in spec.config.per_code
    assert parse_code("DCC:AD1") in spec.config.exempt_codes
    assert parse_code("AD1") not in spec.config.exempt_codes
    text = spec.to_toml()
    assert '[per_code."DCC:N24"]' in text and '"DCC:AD1"' in text
    assert parse_policy(text).config == spec.config


def test_dcc_and_device_codes_are_separate_keys_through_a_snapshot():
    config = PolicyConfig(
        default=Threshold(limit=2, period=10),
        exempt_codes=frozenset({parse_code("DCC:AD1")}),
    )
    alerts = [Alert(t, DEVICE, code) for t in range(5) for code in ("DCC:N24", "0AD1", "DCC:AD1")]
    whole = ThrottlePolicy(config)
    expected = [whole.feed(a) for a in alerts]
    # The exempt DCC code is not the device code with the same letters.
    assert [d.verdict for d in expected[1::3]] == [Verdict.DELIVER] * 2 + [Verdict.THROTTLE] * 3
    assert {d.verdict for d in expected[2::3]} == {Verdict.EXEMPT}

    first = ThrottlePolicy(config)
    got = [first.feed(a) for a in alerts[:7]]
    data = first.snapshot()
    assert b'"DCC:N24"' in data  # snapshots name the code as text, prefix included
    second = ThrottlePolicy.restore(data, expected_config=config)
    got += [second.feed(a) for a in alerts[7:]]
    assert got == expected
    assert second.stats == whole.stats
    events = [e for d in got for e in d.events]
    assert {format_code(e.code) for e in events} == {"DCC:N24", "0AD1"}


def test_traffic_files_carry_dcc_codes(tmp_path):
    path = tmp_path / "traffic.csv"
    path.write_text(
        f"timestamp,device_id,code,recipients\n1,{DEVICE},DCC:N24,A\n2,{DEVICE},AD1,A\n"
    )
    alerts = list(read_traffic(path))
    assert [format_code(a.code) for a in alerts] == ["DCC:N24", "0AD1"]
    out = tmp_path / "out.csv"
    with out.open("w", encoding="utf-8", newline="") as stream:
        write_traffic(alerts, stream)
    assert list(read_traffic(out)) == alerts


def test_a_shared_redis_policy_keeps_long_dcc_codes_apart(redis_client):
    from alertthrottle.redis import RedisThrottlePolicy

    # Codes of 16 characters are ints near 2**128: Redis must hold them as text, not numbers.
    long_a, long_b = "DCC:ABCDEFGHIJKLMNOP", "DCC:ABCDEFGHIJKLMNOQ"
    config = PolicyConfig(
        default=Threshold(limit=1, period=10), per_code={long_b: Threshold(limit=2, period=10)}
    )
    alerts = [Alert(t, DEVICE, code) for t in range(3) for code in (long_a, long_b, "DCC:AD1")]
    shared = RedisThrottlePolicy(redis_client, config, namespace="dcc")
    local = ThrottlePolicy(config)
    assert [shared.feed(a) for a in alerts] == [local.feed(a) for a in alerts]
    assert shared.stats == local.stats
