"""The replay model: totals equal the policy's stats, and every table adds up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import attrs
import pytest
from helpers import plain_run_counts
from hypothesis import given, settings
from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    DeviceInfo,
    LateAlertError,
    PolicyConfig,
    PolicyError,
    PolicySpec,
    Replay,
    Threshold,
    ThrottlePolicy,
    builtin_policy,
    cli,
    generate_scenario,
    simulate,
    write_traffic,
)
from alertthrottle._replay import tables
from alertthrottle._replay.lane import Lane
from alertthrottle._replay.replay import PROGRESS_EVERY
from alertthrottle.reports import MakeRow

DAY = 86_400
DEV = "00-0D-6F-00-0A-BC-12-34"


def device(n: int) -> str:
    raw = f"{n:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def spec(threshold: Threshold | None, *, exempt: frozenset[int] = frozenset(), name: str = "p",
         per_code: dict[int, Threshold] | None = None) -> PolicySpec:  # fmt: skip
    return PolicySpec(PolicyConfig(threshold, per_code or {}, exempt), "clamp", name)


def test_semantics_worked_example() -> None:
    alerts = [Alert(t, DEV, 0x8014, ("DNO-10",)) for t in (0, 1, 2, 3, 4, 5, 20)]
    report = simulate(alerts, [spec(Threshold(limit=3, period=10, resume_below=2))])
    totals = report.policies[0].totals
    assert (totals.alerts, totals.delivered, totals.throttled, totals.exempt) == (7, 4, 3, 0)
    assert (totals.episodes, totals.open_episodes, totals.late) == (1, 0, 0)
    [row] = report.policies[0].by_code
    assert (row.key, row.day, row.offered, row.delivered, row.throttled, row.episodes) == (
        "8014", "1970-01-01", 7, 4, 3, 1,
    )  # fmt: skip
    assert row.suppression == round(300 / 7, 2)
    assert report.policies[0].notifications.incidents == 1
    assert (report.first, report.last) == (0, 20)


def test_totals_equal_the_policy_stats_and_tables_add_up() -> None:
    traffic = generate_scenario("mixed", devices=2000, alerts=4000, storm_alerts=6000)
    specs = [builtin_policy("dcc-like"), builtin_policy("proposed")]
    report = simulate(traffic, specs, devices=traffic.devices, busiest=5)
    alerts = list(traffic)
    assert report.alerts == len(alerts)
    for spec_, policy in zip(specs, report.policies, strict=True):
        reference = ThrottlePolicy(spec_.config, late=spec_.late)
        reference.feed_many(alerts)
        stats = reference.stats
        t = policy.totals
        assert t.delivered + t.throttled + t.exempt == t.alerts == stats.total
        assert (t.delivered, t.throttled, t.exempt, t.late) == (
            stats.delivered, stats.throttled, stats.exempt, stats.late,
        )  # fmt: skip
        assert (t.episodes, t.open_episodes) == (stats.episodes, stats.open_episodes)
        assert t.late > 0  # the mixed scenario has late alerts
        for rows in (policy.by_code,):
            assert sum(r.offered for r in rows) == t.alerts
            assert sum(r.delivered for r in rows) == t.delivered
            assert sum(r.throttled for r in rows) == t.throttled
            assert sum(r.exempt for r in rows) == t.exempt
            assert sum(r.episodes for r in rows) == t.episodes
        fanout = sum(len(a.recipients) or 1 for a in alerts)
        assert sum(r.offered for r in policy.by_recipient) == fanout
        assert sum(h.offered for h in policy.hourly) == t.alerts
        assert sum(h.received for h in policy.hourly) == t.delivered + t.exempt
        assert sum(n for _, n in policy.notifications.per_recipient) >= t.episodes
        assert sum(m.offered for m in policy.by_make) == t.alerts
        assert sum(m.episodes for m in policy.by_make) == t.episodes
        counts = Counter(a.device_id for a in alerts)
        assert [d.offered for d in policy.busiest] == sorted(counts.values(), reverse=True)[:5]
        assert all(d.info is not None for d in policy.busiest)
    # The better policy holds back more, and the same traffic was offered to both.
    dcc, proposed = report.policies
    assert proposed.totals.throttled > dcc.totals.throttled
    assert [r.offered for r in dcc.by_code] == [r.offered for r in proposed.by_code]


def test_notification_costs_for_ten_meters_of_ten_alerts() -> None:
    alerts = []
    for meter in range(10):
        for i in range(10):
            alerts.append(Alert(meter * 1000 + i, device(meter), 0x8F84, (f"SUP-{meter % 2}",)))
    policy = spec(Threshold(limit=5, period=3600), name="tight")
    report = simulate(alerts, [policy])
    n = report.policies[0].notifications
    assert (n.incidents, n.emails) == (10, 10)
    assert n.device_daily_emails == 10
    assert n.recipient_daily_emails == 2
    assert dict(n.per_recipient) == {"SUP-0": 5, "SUP-1": 5}
    loose = simulate(alerts, [spec(Threshold(limit=10, period=3600))]).policies[0]
    assert loose.totals.throttled == 0 and loose.notifications.incidents == 0


def test_exempt_alerts_reach_recipients_and_count_as_received() -> None:
    alerts = [Alert(t, DEV, 0x8F35, ("A", "B")) for t in range(50)]
    policy = spec(Threshold(1, 60), exempt=frozenset({0x8F35}))
    report = simulate(alerts, [policy]).policies[0]
    assert report.totals.exempt == 50 and report.totals.throttled == 0
    assert [(r.key, r.received, r.exempt) for r in report.by_recipient] == [
        ("A", 50, 50),
        ("B", 50, 50),
    ]
    assert report.peak_received is not None and report.peak_received.received == 50


def test_days_split_at_midnight_utc_and_hours_are_counted() -> None:
    alerts = [Alert(DAY - 1, DEV, 1), Alert(DAY, DEV, 1), Alert(DAY + 3600, DEV, 1)]
    report = simulate(alerts, [spec(None)]).policies[0]
    assert [(r.day, r.offered) for r in report.by_code] == [
        ("1970-01-01", 1),
        ("1970-01-02", 2),
    ]
    assert [(h.label, h.offered) for h in report.hourly] == [
        ("1970-01-01 23:00", 1),
        ("1970-01-02 00:00", 1),
        ("1970-01-02 01:00", 1),
    ]
    assert report.by_recipient[0].key == "(unrouted)"


def test_makes_show_where_storms_come_from() -> None:
    alerts = [Alert(t, device(1), 0x8014) for t in range(30)] + [Alert(40, device(2), 0x8014)]
    infos = {device(1): DeviceInfo("Brightwatt", "BW-100", "1.9.3"), device(2): DeviceInfo("Acme")}
    policy = simulate(alerts, [spec(Threshold(5, 60))], devices=infos).policies[0]
    first = policy.by_make[0]
    assert (first.manufacturer, first.devices, first.storming, first.episodes) == (
        "Brightwatt", 1, 1, 1,
    )  # fmt: skip
    assert policy.by_make[1].storming == 0


def test_replay_runs_in_parts_and_reports_progress() -> None:
    alerts = [Alert(t, device(t % 7), 1) for t in range(PROGRESS_EVERY + 10)]
    seen: list[int] = []
    replay = Replay([spec(Threshold(3, 10))])
    replay.run(alerts[:100])
    replay.run(alerts[100:], seen.append)
    assert seen == [PROGRESS_EVERY]
    report = replay.report(source="parts")
    whole = simulate(alerts, [spec(Threshold(3, 10))])
    assert report.policies == whole.policies and report.alerts == len(alerts)


def test_empty_traffic_gives_an_empty_report() -> None:
    report = simulate([], [spec(Threshold(3, 10))])
    assert report.alerts == 0 and report.first is None and report.last is None
    assert report.policies[0].peak_offered is None
    assert report.as_dict()["policies"][0]["totals"]["alerts"] == 0  # type: ignore[index]


timed_alerts = st.lists(
    st.tuples(
        st.floats(0, 3 * DAY, allow_nan=False),
        st.integers(0, 3),
        st.sampled_from([0x8014, 0x8015, 0x8F35, 0x8F84]),
        st.lists(st.sampled_from(["A", "B", "C"]), max_size=2, unique=True),
    ),
    max_size=120,
)


@settings(max_examples=80, deadline=None)
@given(timed_alerts, st.integers(1, 5), st.sampled_from([5, 60, 3600]), st.booleans())
def test_totals_always_balance(rows: list, limit: int, period: int, sort: bool) -> None:  # type: ignore[type-arg]
    if sort:
        rows = sorted(rows)
    alerts = [Alert(t, device(d), c, tuple(r)) for t, d, c, r in rows]
    policy = spec(
        Threshold(limit, period, sample_every=3),
        exempt=frozenset({0x8F35}),
        per_code={0x8F84: Threshold(limit, period, 1, sample_interval=30)},
    )
    result = simulate(alerts, [policy])
    t = result.policies[0].totals
    reference = ThrottlePolicy(policy.config)
    reference.feed_many(alerts)
    assert t.delivered + t.throttled + t.exempt == t.alerts == len(alerts)
    assert (t.delivered, t.throttled, t.exempt, t.late, t.episodes) == (
        reference.stats.delivered, reference.stats.throttled, reference.stats.exempt,
        reference.stats.late, reference.stats.episodes,
    )  # fmt: skip
    by_code = result.policies[0].by_code
    assert sum(r.received for r in by_code) == t.delivered + t.exempt
    assert sum(r.episodes for r in by_code) == t.episodes
    assert sum(h.received for h in result.policies[0].hourly) == t.delivered + t.exempt


def test_shadow_candidates_match_plain_runs_of_their_configs() -> None:
    traffic = generate_scenario("mixed", devices=800, alerts=2000, storm_alerts=3000)
    alerts = list(traffic)
    live = builtin_policy("proposed")
    candidates = [
        builtin_policy("dcc-like"),
        spec(Threshold(5, 900, 2), exempt=frozenset({0x8F35}), name="tight"),
        attrs.evolve(live, name="same"),
    ]
    report = simulate(alerts, [live, builtin_policy("dcc-like")], candidates=candidates)
    assert report.shadow is not None
    live_run = ThrottlePolicy(live.config, late=live.late)
    live_verdicts = [d.verdict for d in live_run.feed_many(alerts)]
    # Shadowing changes nothing in the live policy's own report, nor in the others'.
    plain = simulate(alerts, [live, builtin_policy("dcc-like")])
    assert report.policies == plain.policies and plain.shadow is None
    tallies = [report.shadow.live, *report.shadow.candidates]
    assert [t.name for t in tallies] == ["live", "dcc-like", "tight", "same"]
    for tally, config in zip(tallies, [live, *candidates], strict=True):
        row = tally.as_dict()
        assert tally.config == config.config
        expected = plain_run_counts(config.config, alerts, live_verdicts)
        assert {key: row[key] for key in expected} == expected
    totals = report.policies[0].totals
    shadow_live = report.shadow.live
    assert (shadow_live.delivered, shadow_live.throttled, shadow_live.episodes) == (
        totals.delivered, totals.throttled, totals.episodes,
    )  # fmt: skip
    same = report.shadow.candidate("same")
    assert (same.different, same.delivered_instead, same.throttled_instead) == (0, 0, 0)
    # The generous dcc-like policy lets through much of what proposed holds back.
    assert report.shadow.candidate("dcc-like").delivered_instead > 0
    data = report.as_dict()["shadow"]
    assert data == report.shadow.as_dict()


def test_shadow_candidates_are_checked() -> None:
    live = spec(Threshold(3, 10), name="live-policy")
    other = spec(Threshold(5, 10), name="other")
    with pytest.raises(PolicyError, match="names must be distinct"):
        Replay([live], candidates=[other, other])
    with pytest.raises(PolicyError, match=r"candidates\.other\.late"):
        Replay([live], candidates=[attrs.evolve(other, late="reject")])
    with pytest.raises(PolicyError, match="not 'live'"):
        Replay([live], candidates=[attrs.evolve(other, name="live")])
    with pytest.raises(PolicyError, match=r"candidates\[1\].*must be a PolicySpec"):
        Replay([live], candidates=[other, other.config])
    with pytest.raises(PolicyError, match=r"candidates\[0\]"):
        Replay([live], candidates="8014")  # type: ignore[arg-type]
    assert "shadow" not in simulate([], [live]).as_dict()


@settings(max_examples=40, deadline=None)
@given(timed_alerts, st.integers(1, 5), st.integers(1, 5), st.sampled_from([5, 60, 3600]))
def test_shadow_tally_equals_a_plain_run(
    rows: list,  # type: ignore[type-arg]
    live_limit: int,
    limit: int,
    period: int,
) -> None:
    alerts = [Alert(t, device(d), c, tuple(r)) for t, d, c, r in sorted(rows)]
    live = spec(Threshold(live_limit, 60), exempt=frozenset({0x8F35}))
    candidate = spec(
        Threshold(limit, period, sample_every=2),
        name="c",
        per_code={0x8F84: Threshold(limit, period, 1, sample_interval=30)},
    )
    report = simulate(alerts, [live], candidates=[candidate, attrs.evolve(live, name="same")])
    assert report.shadow is not None
    live_verdicts = [d.verdict for d in ThrottlePolicy(live.config).feed_many(alerts)]
    tally = report.shadow.candidate("c").as_dict()
    expected = plain_run_counts(candidate.config, alerts, live_verdicts)
    assert {key: tally[key] for key in expected} == expected
    same = report.shadow.candidate("same")
    assert same.different == 0
    assert attrs.asdict(same, recurse=False) | {"name": "live"} == attrs.asdict(
        report.shadow.live, recurse=False
    )


@pytest.mark.parametrize("policies", [1, 2])
def test_an_alert_that_raises_leaves_the_ones_before_it_counted(policies: int) -> None:
    strict = attrs.evolve(spec(Threshold(3, 10)), late="reject")
    alerts = [Alert(t, device(t % 3), 1) for t in range(20)]
    replay = Replay([strict] * policies)
    with pytest.raises(LateAlertError):
        replay.run([*alerts, Alert(5, device(0), 1), Alert(30, device(0), 1)])
    report = replay.report()
    assert (report.alerts, report.last) == (20, 19)
    clean = simulate(alerts, [strict] * policies)
    assert report.policies[0] == clean.policies[0]


def test_hours_and_devices_are_counted_across_runs_and_late_alerts() -> None:
    # Late alerts fall back into an earlier hour: the hour's counts are found again.
    times = [0, 3599, 3600, 7300, 3601, 10, 7301]
    alerts = [Alert(t, device(t % 2), 1, ("A",)) for t in times]
    replay = Replay([spec(Threshold(50, 10))])
    replay.run(alerts[:3])
    replay.run(alerts[3:])
    hourly = replay.report().policies[0].hourly
    assert [(h.hour, h.offered) for h in hourly] == [(0, 3), (3600, 2), (7200, 2)]
    assert replay.report().last == 7301


def test_no_policy_is_a_library_error() -> None:
    with pytest.raises(PolicyError, match="policies"):
        Replay([])
    with pytest.raises(PolicyError, match=r"policies\[0\]"):
        Replay(["dcc-like"])  # type: ignore[list-item]
    with pytest.raises(PolicyError, match=r"observers\[0\]"):
        Replay([builtin_policy("dcc-like")], observers=["print"])  # type: ignore[list-item]


def test_observers_see_every_decision_of_every_policy_in_order() -> None:
    traffic = list(generate_scenario("mixed", devices=200, alerts=600, storm_alerts=900))
    specs = [builtin_policy("dcc-like"), builtin_policy("proposed")]
    seen: list[tuple[Alert, tuple[str, ...]]] = []
    replay = Replay(
        specs, observers=[lambda a, ds: seen.append((a, tuple(d.verdict.name for d in ds)))]
    )
    replay.run(traffic)
    policies = [p.build() for p in specs]
    expected = [(a, tuple(p.feed(a).verdict.name for p in policies)) for a in traffic]
    assert seen == expected
    report = replay.report()
    for policy_report, policy in zip(report.policies, policies, strict=True):
        assert policy_report.totals.throttled == policy.stats.throttled


def test_a_given_policy_is_fed_as_it_is() -> None:
    policy = ThrottlePolicy(PolicyConfig(Threshold(limit=1, period=10)))
    report = simulate([Alert(t, DEV, 1) for t in (0, 1, 2)], [policy])
    assert policy.stats.total == 3
    assert report.policies[0].totals.throttled == policy.stats.throttled == 2
    assert report.policies[0].policy.config == policy.config


def test_one_label_for_no_recipient_in_flows_notifications_and_incidents() -> None:
    alerts = [Alert(t, DEV, 1) for t in range(5)]
    policy = simulate(alerts, [spec(Threshold(limit=1, period=100))]).policies[0]
    labels = {row.key for row in policy.by_recipient}
    labels |= {name for name, _ in policy.notifications.per_recipient}
    for counts in policy.incidents:
        labels |= {name for name, _ in counts.per_recipient}
    assert labels == {"(unrouted)"}


def test_simulate_reads_one_file_in_columns_with_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fed_columns: list[int]
) -> None:
    traffic = generate_scenario("mixed", seed=4, devices=300, alerts=3000, storm_alerts=2000)
    path = tmp_path / "day.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        # In time order, so that --sort changes nothing.
        ordered = sorted(traffic, key=lambda alert: alert.timestamp)
        write_traffic(ordered, out, devices=traffic.devices)
    outputs = []
    # --sort reads the (time-ordered) file into Alerts first, replayed alert by alert in blocks.
    for extra in ([], ["--sort"]):
        argv = ["simulate", str(path), "--policy", "dcc-like", "--policy", "proposed", "--json"]
        assert cli.main([*argv, *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
        if not extra:
            assert sum(fed_columns) == 2 * outputs[0]["alerts"] > 0
    assert outputs[0] == outputs[1]


def _flows_one_cell_at_a_time(cells: dict) -> tuple[object, ...]:  # type: ignore[type-arg]
    """The day tables and hourly profile added up cell by cell, each into every row it is in."""
    by_code: dict[tuple[str, int], list[int]] = {}
    by_recipient: dict[tuple[str, int], list[int]] = {}
    hours: dict[int, list[int]] = {}
    for (hour, code, recipients), counts in cells.items():
        names = [(by_code, f"{code:04X}")] + [
            (by_recipient, r) for r in recipients or ("(unrouted)",)
        ]
        for table, name in names:
            row = table.setdefault((name, hour // 24), [0] * 5)
            for i, value in enumerate(counts):
                row[i] += value
        per_hour = hours.setdefault(hour, [0, 0])
        per_hour[0] += counts[0]
        per_hour[1] += counts[2]
    return (tables._flow_rows(by_code), tables._flow_rows(by_recipient),
            tuple(tables.HourRow(hour=h * 3600, offered=n, received=n - t)
                  for h, (n, t) in sorted(hours.items())))  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.tuples(
            st.integers(473_000, 473_100), st.sampled_from([0x8014, 0x8F84, 0x00AB]),
            st.sampled_from([(), ("DNO",), ("DNO", "SUP"), ("SUP",)]),
        ),
        st.tuples(*[st.integers(0, 50)] * 5),
        max_size=40,
    )
)  # fmt: skip
def test_day_tables_add_up_each_cell(cells: dict) -> None:  # type: ignore[type-arg]
    # Summed per day first, then shared out per code and per recipient: the same rows.
    assert tables._flows(cells) == _flows_one_cell_at_a_time(cells)


def test_equal_makes_of_distinct_objects_are_one_row() -> None:
    # Devices whose makes are equal but distinct objects (a registry's) share a row, and
    # rows tie-break in the order of their first device.
    ids = [f"00-0D-6F-00-00-00-00-{i:02X}" for i in range(4)]
    alerts = [Alert(1_705_276_800 + i, ids[i % 4], 0x8014) for i in range(40)]
    devices = {ids[0]: DeviceInfo("Acme", "M1"), ids[1]: DeviceInfo("Beta"),
               ids[2]: DeviceInfo("Acme", "M1"), ids[3]: DeviceInfo("Beta")}  # fmt: skip
    assert devices[ids[0]] is not devices[ids[2]]
    (policy,) = simulate(alerts, [builtin_policy("proposed")], devices=devices).policies
    assert [(row.manufacturer, row.model, row.devices, row.offered) for row in policy.by_make] == [
        ("Acme", "M1", 2, 20), ("Beta", None, 2, 20),
    ]  # fmt: skip


def _makes_one_device_at_a_time(
    devices: dict[str, list[int]],
    index: int,
    episodes: dict[str, int],
    infos: dict[str, DeviceInfo],
) -> tuple[MakeRow, ...]:
    """The make table added up device by device, each into the row of its make."""
    rows: dict[DeviceInfo, list[int]] = {}
    if infos:
        for device_id, sent in devices.items():
            row = rows.setdefault(infos.get(device_id, DeviceInfo()), [0] * 5)
            started = episodes.get(device_id, 0)
            for i, value in enumerate((1, started > 0, sent[0], sent[1 + index], started)):
                row[i] += value
    return tuple(sorted(
        (MakeRow(manufacturer=info.manufacturer, model=info.model, firmware=info.firmware,
                 devices=c[0], storming=c[1], offered=c[2], throttled=c[3], episodes=c[4])
         for info, c in rows.items()),
        key=lambda row: (-row.episodes, -row.offered),
    ))  # fmt: skip


# Two equal makes that are distinct objects (as a registry's are), another, and the unknown.
_MAKES = [DeviceInfo("Acme", "M1"), DeviceInfo("Acme", "M1"), DeviceInfo("Beta"), DeviceInfo()]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.integers(0, 20), st.lists(st.integers(0, 9), min_size=3, max_size=3),
                    max_size=15),
    st.dictionaries(st.integers(0, 20), st.integers(1, 4), max_size=8),
    st.dictionaries(st.integers(0, 20), st.sampled_from(range(len(_MAKES))), max_size=20),
    st.integers(0, 1),
)  # fmt: skip
def test_make_table_adds_up_each_device(
    sent: dict[int, list[int]], started: dict[int, int], makes: dict[int, int], index: int
) -> None:
    # Per make object first, its devices' counts summed in C, then equal makes in one row;
    # devices that started episodes but sent nothing counted (none in a replay) are left out.
    devices = {device(n): counts for n, counts in sent.items()}
    episodes = {device(n): count for n, count in started.items()}
    infos = {device(n): _MAKES[i] for n, i in makes.items()}
    lane = Lane(spec(None))
    lane.device_episodes = episodes
    assert tables._makes(devices, index, lane, infos) == _makes_one_device_at_a_time(
        devices, index, episodes, infos
    )
