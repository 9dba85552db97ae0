"""Hypothesis strategies for alerts, thresholds, configurations and alert streams.

They aim at boundaries: times on a small integer grid (so ties, gaps of
exactly one period and windows that just empty are common), few devices and
codes (so keys collide), small limits (so episodes start and end often), and
late alerts. All of them shrink toward fewer, earlier, simpler values.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .._core.alert import Alert
from .._core.config import PolicyConfig, Threshold

__all__ = [
    "DEFAULT_CODES",
    "DEFAULT_DEVICES",
    "DEFAULT_PERIODS",
    "alert_streams",
    "alerts",
    "policy_configs",
    "thresholds",
]

#: A few device ids, spelled canonically.
DEFAULT_DEVICES: tuple[str, ...] = (
    "00-0D-6F-00-0A-BC-12-34",
    "00-0D-6F-00-0A-BC-12-35",
    "00-0D-6F-00-00-00-00-01",
)
#: Codes met in storms: 8014/8015 (power factor), 8F84, and 8F35 (a typical exempt code).
DEFAULT_CODES: tuple[int, ...] = (0x8014, 0x8015, 0x8F84, 0x8F35)
#: Periods on the same grid as the stream gaps, so gaps of exactly one period occur.
DEFAULT_PERIODS: tuple[int, ...] = (1, 2, 3, 5, 10)
_GAPS: tuple[int, ...] = (0, 1, 2, 3, 5, 10, 7)
_SPANS: tuple[int, ...] = (0, 1, 2, 3, 5, 10, 4)


def _skewed_index(size: int) -> SearchStrategy[int]:
    """Indexes in ``range(size)``, half of them 0: storms need keys that repeat."""
    return st.sampled_from([0] * max(size - 1, 1) + list(range(size)))


def thresholds(
    *,
    max_limit: int = 5,
    periods: Sequence[int | float] = DEFAULT_PERIODS,
    sampling: bool = True,
) -> SearchStrategy[Threshold]:
    """Valid thresholds with ``limit <= max_limit``, periods drawn from ``periods``.

    With ``sampling`` some use ``sample_every`` or ``sample_interval``. Shrinks
    toward ``limit=1``, the first period, no hysteresis and no sampling.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Threshold:
        # Small limits more often: episodes then start and end within short streams.
        limit = draw(st.integers(1, max_limit) | st.integers(1, min(2, max_limit)))
        period = draw(st.sampled_from(list(periods)))
        resume_below = draw(st.integers(1, limit).map(lambda n: limit + 1 - n))
        mode = draw(st.sampled_from(["none", "every", "interval"] if sampling else ["none"]))
        if mode == "every":
            return Threshold(limit, period, resume_below, sample_every=draw(st.integers(2, 4)))
        if mode == "interval":
            interval = draw(st.sampled_from([1, 2, 3, 5, 0.5]))
            return Threshold(limit, period, resume_below, sample_interval=interval)
        return Threshold(limit, period, resume_below)

    return build()


def policy_configs(
    *,
    codes: Sequence[int] = DEFAULT_CODES,
    threshold_strategy: SearchStrategy[Threshold] | None = None,
) -> SearchStrategy[PolicyConfig]:
    """Configurations over ``codes``: a default or not, some per-code thresholds, some exempt.

    Every shape the semantics distinguishes comes up (``default=None``, a code
    with its own threshold, an exempt code). Shrinks toward a lone default.
    """
    each = threshold_strategy if threshold_strategy is not None else thresholds()

    @st.composite
    def build(draw: st.DrawFn) -> PolicyConfig:
        # Weighted toward configurations that throttle the first (most frequent) code.
        default = draw(
            st.sampled_from([True, True, True, False]).flatmap(
                lambda present: each if present else st.none()
            )
        )
        roles = draw(
            st.lists(
                st.sampled_from(["default", "default", "own", "own", "exempt"]),
                min_size=len(codes),
                max_size=len(codes),
            )
        )
        assigned = list(zip(codes, roles, strict=True))
        per_code = {code: draw(each) for code, role in assigned if role == "own"}
        exempt = frozenset(code for code, role in assigned if role == "exempt")
        return PolicyConfig(default=default, per_code=per_code, exempt_codes=exempt)

    return build()


def alerts(
    *,
    devices: Sequence[str] = DEFAULT_DEVICES,
    codes: Sequence[int] = DEFAULT_CODES,
    max_time: int = 100,
) -> SearchStrategy[Alert]:
    """Single alerts at integer times in ``0..max_time``; shrinks toward t=0 and the first key."""
    return st.builds(
        Alert,
        timestamp=st.integers(0, max_time),
        device_id=st.sampled_from(list(devices)),
        code=st.sampled_from(list(codes)),
        recipients=st.sampled_from([(), ("DNO-1",), ("SUPPLIER-1", "DNO-1")]),
    )


def alert_streams(
    *,
    devices: Sequence[str] = DEFAULT_DEVICES,
    codes: Sequence[int] = DEFAULT_CODES,
    min_size: int = 0,
    max_size: int = 60,
    late: bool = True,
) -> SearchStrategy[list[Alert]]:
    """Streams of alerts mostly in time order, as a policy would be fed.

    A stream is a run of bursts: a gap from a small grid, then 1 to 6 alerts
    of one key spread evenly over a span from the same grid as
    :data:`DEFAULT_PERIODS`, so ties, bursts spanning exactly one period and
    gaps of exactly a period are frequent. With ``late`` some alerts step
    back in time. Shrinks toward fewer bursts, single alerts, gaps of 0, the
    first key and no late alerts.
    """

    @st.composite
    def build(draw: st.DrawFn) -> list[Alert]:
        bursts = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(_GAPS),
                    _skewed_index(len(devices)),
                    _skewed_index(len(codes)),
                    st.integers(1, 6),
                    st.sampled_from(_SPANS),
                    st.integers(0, 6) if late else st.just(0),
                ),
                min_size=min_size,
                max_size=max_size,
            )
        )
        stream: list[Alert] = []
        now = 0
        for gap, device, code, size, span, back in bursts:
            now += gap
            start = now
            for i in range(size):
                now = start + (i * span) // max(size - 1, 1)
                # back == 6 (about one alert in seven) makes it late, 1..3 s old.
                when = max(0, now - (i % 3) - 1) if back == 6 and i == size - 1 else now
                stream.append(Alert(timestamp=when, device_id=devices[device], code=codes[code]))
        return stream[:max_size]

    return build()
