"""Hypothesis profiles: ``ci`` (bounded, the default under CI=true), ``dev``, ``thorough``.

Choose one with ``HYPOTHESIS_PROFILE=thorough pytest -m slow``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, settings
from redis_helpers import RedisServer

from alertthrottle import AlertColumns, Decision, ThrottlePolicy

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test run's own, on a free 127.0.0.1 port; stopped at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the shared test server, on an empty database."""
    client = redis.Redis(port=redis_server.port, socket_timeout=10)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def fed_columns(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the blocks of columns the policies are fed (so a test sees the path)."""
    sizes: list[int] = []
    feed_columns = ThrottlePolicy.feed_columns

    def spy(policy: ThrottlePolicy, columns: AlertColumns) -> list[Decision]:
        sizes.append(len(columns))
        return feed_columns(policy, columns)

    monkeypatch.setattr(ThrottlePolicy, "feed_columns", spy)
    return sizes
