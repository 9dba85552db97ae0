"""A throttling policy whose state lives on a Redis server, shared by many processes.

Needs the ``redis`` extra (``pip install "alertthrottle[redis]"``). See
docs/scaling.md for when to use it and what it costs.
"""

# No `from __future__ import annotations` here: it would leave a public `annotations` attribute.
try:
    import redis as _redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'alertthrottle.redis needs redis-py: pip install "alertthrottle[redis]"'
    ) from exc

from ._engine.redis_store import RedisThrottlePolicy

__all__ = ["RedisThrottlePolicy"]

RedisThrottlePolicy.__module__ = __name__
