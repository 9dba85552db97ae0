"""The value types a replay report is made of.

``simulate()`` and ``Replay.report()`` return a :class:`Report`; these are its
parts, for type annotations and ``isinstance`` checks. They live here rather
than at the top level so that ``alertthrottle`` itself stays the short list of
things a user calls.
"""

from ._core.public import publish
from ._io.trafficerrors import SkippedRow
from ._replay.report import (
    CapacityReport,
    DeviceRow,
    FlowRow,
    HourRow,
    IncidentCounts,
    MakeRow,
    Notifications,
    PolicyReport,
    Report,
    Totals,
)

__all__ = [
    "CapacityReport",
    "DeviceRow",
    "FlowRow",
    "HourRow",
    "IncidentCounts",
    "MakeRow",
    "Notifications",
    "PolicyReport",
    "Report",
    "SkippedRow",
    "Totals",
]

publish(globals(), __name__)
del publish
