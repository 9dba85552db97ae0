"""The replay model: totals equal the policy's stats, and every table adds up."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from alertthrottle import (
    Alert,
    DeviceInfo,
    PolicyConfig,
    PolicySpec,
    Replay,
    Threshold,
    ThrottlePolicy,
    builtin_policy,
    generate_scenario,
    simulate,
)
from alertthrottle._simulate import PROGRESS_EVERY

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
    assert report.by_recipient[0].key == "(none)"


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
