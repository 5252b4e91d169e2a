"""Ports nobody listens on: for a broker or a Redis that is down, or a server of a test's own."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_unreachable(settings):
    """The service's Redis (cache, results, authentication) at a port nobody listens on.

    Yields the real REDIS_URL, for a test that brings Redis back.
    """
    from app.common import redis_client
    from app.recommendations import results

    real = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.client.cache_clear()
    results._local.pubsub = None
    yield real
    settings.REDIS_URL = real
    redis_client.client.cache_clear()
    results._local.pubsub = None
