"""Tools for testing code that uses alertthrottle, and alertthrottle itself.

``ReferencePolicy`` is a naive, independent model of the semantics to check a
policy against decision by decision; the strategies generate boundary-heavy
inputs for hypothesis. Importing this package needs ``hypothesis`` (the
``test`` extra).
"""

from .._core.public import publish
from ._reference import ReferencePolicy
from ._strategies import (
    DEFAULT_CODES,
    DEFAULT_DEVICES,
    DEFAULT_PERIODS,
    alert_streams,
    alerts,
    policy_configs,
    thresholds,
)

__all__ = [
    "DEFAULT_CODES",
    "DEFAULT_DEVICES",
    "DEFAULT_PERIODS",
    "ReferencePolicy",
    "alert_streams",
    "alerts",
    "policy_configs",
    "thresholds",
]

publish(globals(), __name__)
del publish
