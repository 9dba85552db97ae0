"""The root-cause report as a replay: the replay loop feeds the policy, a tally counts by make."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .._core.alert import Alert, DeviceInfo
from .._core.config import PolicyConfig
from .._core.decision import Decision
from .._core.errors import PolicyError
from .._core.makes import UNKNOWN_MAKE, device_table, fill_make
from .._engine.policy import ThrottlePolicy
from .._ops.rootcause import RootCauseReport, RootCauseTally
from .replay import Replay

__all__ = ["root_cause_report"]


class _MakeObserver:
    """Tallies each decision under the make of its alert's device.

    The make is the one the record gave (``given``, set as each record is
    read), each part it leaves out filled from the registry.
    """

    __slots__ = ("given", "registry", "tally")

    def __init__(self, registry: Mapping[str, DeviceInfo]) -> None:
        self.registry = registry
        self.tally = RootCauseTally()
        self.given: DeviceInfo | None = None

    def alerts(self, records: Iterable[tuple[Alert, DeviceInfo | None] | Alert]) -> Iterator[Alert]:
        """The alerts of ``records``, each record's make kept until its alert is decided."""
        for record in records:
            if type(record) is Alert:
                self.given = None
                yield record
            else:
                alert, self.given = record  # type: ignore[misc]
                yield alert

    def observe(self, alert: Alert, decisions: list[Decision]) -> None:
        """Count the alert's decision (the one policy's) under its device's make."""
        known = self.registry.get(alert.device_id)
        given = self.given
        make = known if given is None else fill_make(given, known)
        self.tally.count(alert, make or UNKNOWN_MAKE, decisions[0])


def root_cause_report(
    records: Iterable[tuple[Alert, DeviceInfo | None] | Alert],
    policy: PolicyConfig | ThrottlePolicy,
    devices: Mapping[str, DeviceInfo] | None = None,
) -> RootCauseReport:
    """Replay ``records`` through ``policy`` and rank device makes per alert code.

    ``records`` are alerts, or ``(alert, make)`` pairs with the make the
    traffic gave (``None`` if none). ``policy`` is a configuration (a fresh
    :class:`ThrottlePolicy` is made with ``late="clamp"``) or a policy to feed
    as it is, e.g. one with a capacity guard. A make comes from the record,
    field by field, then from ``devices`` (any spelling of the device ids;
    looked up as the replay goes), else it is unknown. An episode counts for
    the make of the alert that started it. Memory: one entry per make and
    code, and the device ids in it.
    """
    if isinstance(policy, PolicyConfig):
        policy = ThrottlePolicy(policy)
    elif not isinstance(policy, ThrottlePolicy):
        raise PolicyError("policy", policy, "must be a PolicyConfig or a ThrottlePolicy")
    observer = _MakeObserver(device_table(devices))
    Replay([policy], observers=[observer.observe]).run(observer.alerts(records))
    return observer.tally.report(policy.config)
