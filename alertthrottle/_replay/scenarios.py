"""Seeded, deterministic synthetic alert traffic: the scenarios the consultation asked about.

Each scenario is a small model of a population of devices (with makes,
suppliers and network operators) and what they send over a day. The same
name, parameters, seed and day count always give the same alerts, in time
order, produced hour by hour so that memory holds about an hour of traffic
however many days are asked for. ``docs/scenarios.md`` describes them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from .._core.alert import Alert, DeviceInfo, format_code, parse_code
from .._core.errors import AlertThrottleError, ScenarioError

__all__ = [
    "DEFAULT_START",
    "SCENARIOS",
    "SHAPES",
    "GeneratedTraffic",
    "Scenario",
    "ScenarioParameter",
    "generate_scenario",
]

#: Midnight UTC at the start of Monday 15 January 2024: day 1 of every scenario.
DEFAULT_START = 1_705_276_800

_HOUR = 3600
_DAY = 86_400

#: Diurnal shapes: relative alert rate in each hour of the day (UTC), normalised when used.
# fmt: off
SHAPES: Mapping[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Quiet nights, a breakfast rise, a working-day plateau and an evening peak.
    "domestic": (
        0.35, 0.3, 0.3, 0.3, 0.35, 0.5, 0.9, 1.4, 1.5, 1.2, 1.0, 1.0,
        1.0, 1.0, 1.0, 1.1, 1.3, 1.7, 1.9, 1.8, 1.5, 1.1, 0.7, 0.5,
    ),
    # Load-driven: almost nothing overnight, most of it between 16:00 and 22:00.
    "evening": (
        0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.6, 0.6, 0.5, 0.5, 0.5,
        0.5, 0.5, 0.6, 0.8, 1.5, 2.5, 3.0, 3.0, 2.5, 1.5, 0.6, 0.2,
    ),
}
# fmt: on

# Fictional makes of meter: (manufacturer, model, firmware, share of the estate).
_MAKES = (
    ("Acme Metering", "AM-E2", "2.4.1", 30),
    ("Acme Metering", "AM-E2", "2.5.0", 20),
    ("Brightwatt", "BW-100", "1.9.3", 25),
    ("Cobalt Devices", "CX-3", "4.0.2", 15),
    ("Cobalt Devices", "CX-3", "4.1.0", 10),
)
# The make whose firmware flaps: most storming meters are of it (the "root cause").
_FAULTY_MAKE = 2
_SUPPLIERS = tuple(f"SUPPLIER-{letter}" for letter in "ABCDE")
# GB's 14 distribution areas, named by their MPAS ids.
_NETWORKS = tuple(f"DNO-{area}" for area in range(10, 24))

PF_LOW, PF_OK = 0x8014, 0x8015
FAILED_DELIVERY = 0x8F84
RESTORED, RESTORED_LONG = 0x8F35, 0x8F36
TAMPER = 0x8F75
# Codes sent to the network operator, the supplier, or both.
_TO_NETWORK = frozenset({PF_LOW, PF_OK})
_TO_BOTH = frozenset({RESTORED, RESTORED_LONG})
# Ordinary traffic: code and share.
_BACKGROUND = (
    (FAILED_DELIVERY, 35),
    (PF_LOW, 15),
    (PF_OK, 15),
    (RESTORED, 12),
    (RESTORED_LONG, 8),
    (TAMPER, 5),
)

# (arrival time, timestamp, device number, code): arrival orders the stream,
# timestamp is what the alert says (earlier than arrival for a late alert).
_Event = tuple[float, float, int, int]


@attrs.frozen(slots=True)
class ScenarioParameter:
    """One documented knob of a scenario; its default fixes the type of its values."""

    name: str
    default: int | float | str
    help: str

    def convert(self, value: object) -> int | float | str:
        """``value`` (text from a command line, or a Python value) as this parameter's type."""
        kind = type(self.default)
        try:
            if isinstance(value, str) and kind is not str:
                converted: Any = kind(value.replace("_", ""))
            elif kind is float and type(value) is int:
                converted = float(value)
            else:
                converted = value
        except ValueError:
            raise ScenarioError(self.name, value, f"must be a {kind.__name__}") from None
        if type(converted) is not kind:
            raise ScenarioError(self.name, value, f"must be a {kind.__name__}")
        if isinstance(converted, int | float) and not (0 <= converted < math.inf):
            raise ScenarioError(self.name, value, "must be a finite number >= 0")
        return converted


_Builder = Callable[["_Population", Mapping[str, Any], random.Random, int, int], Iterator[Alert]]


@attrs.frozen(slots=True)
class Scenario:
    """A named traffic model with documented parameters."""

    name: str
    summary: str
    parameters: tuple[ScenarioParameter, ...]
    _population: Callable[[Mapping[str, Any], random.Random], _Population] = attrs.field(repr=False)
    _build: _Builder = attrs.field(repr=False)

    def resolve(self, overrides: Mapping[str, object]) -> dict[str, Any]:
        """The full parameter set: defaults, then ``overrides`` converted and checked."""
        known = {p.name: p for p in self.parameters}
        values: dict[str, Any] = {p.name: p.default for p in self.parameters}
        for name, value in overrides.items():
            if name not in known:
                raise ScenarioError(
                    name, value, f"is not a parameter of {self.name}; use {sorted(known)}"
                )
            values[name] = known[name].convert(value)
        for name in ("shape", "storm_shape"):
            if name in values and values[name] not in SHAPES:
                raise ScenarioError(name, values[name], f"must be one of {sorted(SHAPES)}")
        for name, value in values.items():
            if name.endswith("share") and value > 1:
                raise ScenarioError(name, value, "must be a fraction between 0 and 1")
            if name.endswith("code"):
                try:
                    values[name] = parse_code(value, name)
                except AlertThrottleError as exc:
                    raise ScenarioError(name, value, exc.problem) from None
        _check_subsets(values)
        return values


def _check_subsets(values: Mapping[str, Any]) -> None:
    """Refuse parameters that contradict each other: more storming devices than devices."""
    devices = values.get("devices")
    if devices is None:
        return
    # The storming and retrying devices are separate groups of the estate; outages may
    # hit any device.
    groups = [name for name in ("storm_devices", "retry_devices") if name in values]
    for name in (*groups, "outage_devices"):
        if values.get(name, 0) > devices:
            raise ScenarioError(
                name, values[name], f"must be at most devices ({devices:,}): they are among them"
            )
    if len(groups) > 1 and sum(values[name] for name in groups) > devices:
        raise ScenarioError(
            " + ".join(groups), sum(values[name] for name in groups),
            f"must be at most devices ({devices:,}): they are separate devices of the estate",
        )  # fmt: skip


class _Population:
    """Devices numbered 0..n-1, each with an id, a make, a supplier and a network operator."""

    def __init__(self, size: int, rng: random.Random, faulty: range = range(0)) -> None:
        self.ids = [_device_id(number) for number in range(size)]
        weights = [make[3] for make in _MAKES]
        makes = [DeviceInfo(*make[:3]) for make in _MAKES]
        chosen = rng.choices(range(len(_MAKES)), weights, k=size)
        # Most of the faulty devices carry the faulty firmware; a few others flap too.
        for number in faulty:
            if rng.random() < 0.85:
                chosen[number] = _FAULTY_MAKE
        self.makes = [makes[index] for index in chosen]
        self.supplier = [rng.randrange(len(_SUPPLIERS)) for _ in range(size)]
        self.network = [rng.randrange(len(_NETWORKS)) for _ in range(size)]
        self._routes: dict[tuple[int, int, int], tuple[str, ...]] = {}

    def recipients(self, number: int, code: int) -> tuple[str, ...]:
        """Who an alert of ``code`` from device ``number`` goes to (shared tuples)."""
        kind = 0 if code in _TO_NETWORK else 1 if code in _TO_BOTH else 2
        key = (kind, self.supplier[number], self.network[number])
        route = self._routes.get(key)
        if route is None:
            supplier, network = _SUPPLIERS[key[1]], _NETWORKS[key[2]]
            route = (network,) if kind == 0 else (supplier, network) if kind == 1 else (supplier,)
            self._routes[key] = route
        return route

    def infos(self) -> dict[str, DeviceInfo]:
        return dict(zip(self.ids, self.makes, strict=True))


def _device_id(number: int) -> str:
    raw = f"{0x000D6F0000000000 + number:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def _hour_weights(shape: str) -> list[float]:
    weights = SHAPES[shape]
    total = sum(weights)
    return [w / total for w in weights]


def _count(rng: random.Random, mean: float) -> int:
    """A Poisson-like count with this mean (normal approximation, exact mean for small ones)."""
    if mean <= 0:
        return 0
    if mean < 20:
        whole = int(mean)
        return whole + (1 if rng.random() < mean - whole else 0)
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _intensities(rng: random.Random, n: int, spread: float) -> list[float]:
    """Relative storm intensity per device: log-normal, normalised to sum to 1."""
    raw = [rng.lognormvariate(0.0, spread) for _ in range(n)]
    total = sum(raw) or 1.0
    return [r / total for r in raw]


def _emit(hours: Iterator[list[_Event]], population: _Population, start: int) -> Iterator[Alert]:
    """Turn per-hour event lists into time-ordered Alerts; events may spill into later hours."""
    ids = population.ids
    route = population.recipients
    carry: list[_Event] = []
    hour_end = start
    for events in hours:
        hour_end += _HOUR
        events.extend(carry)
        events.sort()
        cut = len(events)
        # Keep what arrives after this hour for the next: its list may hold earlier events.
        while cut and events[cut - 1][0] >= hour_end:
            cut -= 1
        carry = events[cut:]
        for _arrival, timestamp, number, code in events[:cut]:
            yield Alert(round(timestamp, 3), ids[number], code, route(number, code))
    carry.sort()
    for _arrival, timestamp, number, code in carry:
        yield Alert(round(timestamp, 3), ids[number], code, route(number, code))


def _background(
    rng: random.Random, devices: int, per_day: float, weights: list[float], hour: int, t0: float
) -> list[_Event]:
    codes = [code for code, _ in _BACKGROUND]
    shares = [share for _, share in _BACKGROUND]
    n = _count(rng, per_day * weights[hour % 24]) if devices else 0
    picked = rng.choices(codes, shares, k=n)
    rand = rng.random
    randrange = rng.randrange
    return [(t, t, randrange(devices), code) for code in picked for t in (t0 + rand() * _HOUR,)]


def _flaps(
    rng: random.Random,
    per_hour: float,
    intensity: list[float],
    t0: float,
    flap_seconds: float,
    events: list[_Event],
) -> None:
    """Power-factor flapping: pairs of 8014 then 8015 a little later, per storming device."""
    rand = rng.random
    for number, share in enumerate(intensity):
        for _ in range(_count(rng, per_hour * share)):
            t = t0 + rand() * _HOUR
            back = t + 1.0 + rand() * flap_seconds
            events.append((t, t, number, PF_LOW))
            events.append((back, back, number, PF_OK))


# -- power-factor-storm -----------------------------------------------------------------


def _pf_population(p: Mapping[str, Any], rng: random.Random) -> _Population:
    return _Population(max(p["devices"], p["storm_devices"]), rng, range(p["storm_devices"]))


def _pf_storm(
    population: _Population, p: Mapping[str, Any], rng: random.Random, days: int, start: int
) -> Iterator[Alert]:
    storm = p["alerts"] * p["storm_share"]
    background = p["alerts"] - storm
    weights = _hour_weights(p["shape"])
    storm_weights = _hour_weights(p["storm_shape"])
    intensity = _intensities(rng, p["storm_devices"], p["spread"])
    devices = len(population.ids)

    def hours() -> Iterator[list[_Event]]:
        for hour in range(days * 24):
            t0 = start + hour * _HOUR
            events = _background(rng, devices, background, weights, hour, t0)
            # Each flap is two alerts.
            _flaps(
                rng, storm * storm_weights[hour % 24] / 2, intensity, t0, p["flap_seconds"], events
            )
            yield events

    return _emit(hours(), population, start)


# -- ten-thousand-meters ---------------------------------------------------------------


def _ttm_population(p: Mapping[str, Any], rng: random.Random) -> _Population:
    return _Population(p["meters"], rng)


def _ten_thousand(
    population: _Population, p: Mapping[str, Any], rng: random.Random, days: int, start: int
) -> Iterator[Alert]:
    weights = _hour_weights(p["shape"])
    meters, per_meter, burst, code = (
        p["meters"],
        p["alerts_per_meter"],
        p["burst_seconds"],
        p["code"],
    )

    def hours() -> Iterator[list[_Event]]:
        for day in range(days):
            by_hour: list[list[_Event]] = [[] for _ in range(24)]
            starts = rng.choices(range(24), weights, k=meters)
            for number, hour in enumerate(starts):
                t0 = start + day * _DAY + hour * _HOUR + rng.random() * _HOUR
                bucket = by_hour[hour]
                for _ in range(per_meter):
                    t = t0 + rng.random() * burst
                    bucket.append((t, t, number, code))
            yield from by_hour

    return _emit(hours(), population, start)


# -- mixed ------------------------------------------------------------------------------


def _mixed_population(p: Mapping[str, Any], rng: random.Random) -> _Population:
    needed = p["storm_devices"] + p["retry_devices"]
    return _Population(
        max(p["devices"], needed, p["outage_devices"]), rng, range(p["storm_devices"])
    )


def _mixed(
    population: _Population, p: Mapping[str, Any], rng: random.Random, days: int, start: int
) -> Iterator[Alert]:
    devices = len(population.ids)
    weights = _hour_weights(p["shape"])
    storm_weights = _hour_weights("evening")
    intensity = _intensities(rng, p["storm_devices"], 1.0)
    retry_first = p["storm_devices"]
    retry_devices = range(retry_first, retry_first + p["retry_devices"])
    late_share, late_seconds = p["late_share"], p["late_seconds"]

    def hours() -> Iterator[list[_Event]]:
        for day in range(days):
            # One regional outage a day: its devices all report the restoration together.
            outage_hour = rng.randrange(24)
            network = rng.randrange(len(_NETWORKS))
            # Retry storms: a failing device resends 8F84 in bursts for a few hours.
            retry_hours = {number: rng.randrange(24) for number in retry_devices}
            for hour in range(24):
                t0 = start + day * _DAY + hour * _HOUR
                events = _background(rng, devices, p["alerts"], weights, hour, t0)
                _flaps(
                    rng, p["storm_alerts"] * storm_weights[hour] / 2, intensity, t0, 300.0, events
                )
                for number, first in retry_hours.items():
                    if first <= hour < first + 3:
                        for _ in range(p["retry_burst"]):
                            t = t0 + rng.random() * _HOUR
                            events.append((t, t, number, FAILED_DELIVERY))
                if hour == outage_hour:
                    restored = t0 + rng.random() * 1800
                    long_outage = rng.random() < 0.5
                    code = RESTORED_LONG if long_outage else RESTORED
                    area = [n for n in range(devices) if population.network[n] == network]
                    for number in area[: p["outage_devices"]]:
                        t = restored + rng.random() * 120
                        events.append((t, t, number, code))
                if late_share:
                    # Delay a share of the hour's alerts: they arrive after later ones.
                    for i, event in enumerate(events):
                        if rng.random() < late_share:
                            arrival = event[0] + 1.0 + rng.random() * late_seconds
                            events[i] = (arrival, *event[1:])
                yield events

    return _emit(hours(), population, start)


SCENARIOS: Mapping[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "power-factor-storm",
            "A national day: a few thousand meters flap 8014/8015 (power factor below/ok) "
            "more than 2 million times among ordinary traffic from 100k devices.",
            (
                ScenarioParameter("devices", 100_000, "devices in the estate"),
                ScenarioParameter("storm_devices", 3_000, "of them, meters that flap"),
                ScenarioParameter("alerts", 2_200_000, "alerts per day, storm and ordinary"),
                ScenarioParameter("storm_share", 0.95, "share of the alerts that are the storm"),
                ScenarioParameter("shape", "domestic", "diurnal shape of ordinary traffic"),
                ScenarioParameter("storm_shape", "domestic", "diurnal shape of the storm"),
                ScenarioParameter("spread", 1.0, "log-normal sigma of per-meter storm intensity"),
                ScenarioParameter("flap_seconds", 120.0, "largest delay from an 8014 to its 8015"),
            ),
            _pf_population,
            _pf_storm,
        ),
        Scenario(
            "ten-thousand-meters",
            "10k meters each send 10 alerts in one burst a day (the consultation's "
            "'10k meters each generating 10 alerts').",
            (
                ScenarioParameter("meters", 10_000, "meters that burst"),
                ScenarioParameter("alerts_per_meter", 10, "alerts in each meter's burst"),
                ScenarioParameter("burst_seconds", 300.0, "length of a burst"),
                ScenarioParameter("code", "8F84", "alert code of the bursts"),
                ScenarioParameter("shape", "domestic", "diurnal shape of burst start times"),
            ),
            _ttm_population,
            _ten_thousand,
        ),
        Scenario(
            "mixed",
            "Ordinary traffic with a bit of everything: an evening power-factor storm, 8F84 "
            "retry storms, a regional outage restored all at once (exempt codes) and "
            "late-arriving alerts.",
            (
                ScenarioParameter("devices", 20_000, "devices in the estate"),
                ScenarioParameter("alerts", 40_000, "ordinary alerts per day"),
                ScenarioParameter("storm_devices", 150, "meters that flap 8014/8015"),
                ScenarioParameter("storm_alerts", 90_000, "flapping alerts per day"),
                ScenarioParameter("retry_devices", 50, "devices in 8F84 retry storms"),
                ScenarioParameter("retry_burst", 40, "8F84 retries per hour, for 3 hours"),
                ScenarioParameter(
                    "outage_devices", 150, "devices per area restored at once (8F35/8F36)"
                ),
                ScenarioParameter("late_share", 0.01, "share of alerts that arrive late"),
                ScenarioParameter("late_seconds", 120.0, "largest delay of a late alert"),
                ScenarioParameter("shape", "domestic", "diurnal shape of ordinary traffic"),
            ),
            _mixed_population,
            _mixed,
        ),
    )
}


class GeneratedTraffic:
    """A scenario's traffic for given parameters: iterate for the alerts, time-ordered.

    Every iteration regenerates the same alerts from the seed. ``devices``
    maps each device id to its make (for the report's root-cause table).
    """

    def __init__(
        self,
        scenario: Scenario,
        parameters: Mapping[str, Any],
        *,
        days: int,
        seed: int,
        start: int,
    ) -> None:
        self.scenario = scenario
        self.parameters = dict(parameters)
        self.days = days
        self.seed = seed
        self.start = start
        self._devices: dict[str, DeviceInfo] | None = None

    @property
    def description(self) -> str:
        """The scenario and every parameter, so a report says exactly what was replayed."""
        shown = ", ".join(
            f"{k}={format_code(v) if k.endswith('code') else v}" for k, v in self.parameters.items()
        )
        return f"{self.scenario.name} (days={self.days}, seed={self.seed}; {shown})"

    @property
    def devices(self) -> dict[str, DeviceInfo]:
        if self._devices is None:
            self._devices = self._population(random.Random(self.seed)).infos()
        return self._devices

    def _population(self, rng: random.Random) -> _Population:
        return self.scenario._population(self.parameters, rng)

    def __iter__(self) -> Iterator[Alert]:
        rng = random.Random(self.seed)
        population = self._population(rng)
        return self.scenario._build(population, self.parameters, rng, self.days, self.start)


def generate_scenario(
    name: str, *, days: int = 1, seed: int = 0, start: int = DEFAULT_START, **parameters: object
) -> GeneratedTraffic:
    """The traffic of scenario ``name`` (see :data:`SCENARIOS`) over ``days`` days from ``start``.

    ``parameters`` override the scenario's defaults (text is converted, so
    command-line values can be passed as given). Unknown names and bad
    values raise :class:`ScenarioError`.
    """
    scenario = SCENARIOS.get(name) if type(name) is str else None
    if scenario is None:
        raise ScenarioError("scenario", name, f"must be one of {sorted(SCENARIOS)}")
    if type(days) is not int or days < 1:
        raise ScenarioError("days", days, "must be an integer >= 1")
    if type(seed) is not int:
        raise ScenarioError("seed", seed, "must be an integer")
    if type(start) is not int or start < 0:
        raise ScenarioError("start", start, "must be an integer of epoch seconds >= 0")
    return GeneratedTraffic(
        scenario, scenario.resolve(parameters), days=days, seed=seed, start=start
    )
