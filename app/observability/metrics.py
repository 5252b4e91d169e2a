"""The web's Prometheus metrics, and the registry `/metrics` serves.

Recorded as requests happen: request latency per route, method and status, and recommendation
cache lookups (hit or miss). Computed when scraped (`collectors.ServiceStateCollector`): queue
depths, the active model version, the feedback lag.

gunicorn runs several worker processes and a scrape reaches only one of them. With
`PROMETHEUS_MULTIPROC_DIR` set (scripts/start-web.sh sets and empties it before gunicorn
starts), every process writes its samples to files there and a scrape adds them all up
(prometheus_client's multiprocess mode). The variable must be set before the first import of
prometheus_client; without it, metrics are per process, which is right for `runserver` and tests.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# From 1 ms (a cached answer) up to the 30 s a long poll may hold a request.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A method outside this set is recorded as OTHER: a client must not be able to add label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_LATENCY = Histogram(
    "recsvc_http_request_duration_seconds",
    "Time to answer an HTTP request, per route (the URL pattern's name), method and status code.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
CACHE_LOOKUPS = Counter(
    "recsvc_recommendation_cache_lookups",
    "Recommendation result cache lookups by result (hit or miss); hit rate = hit / (hit + miss).",
    ["result"],
)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def request_observe(*, route: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "OTHER"
    REQUEST_LATENCY.labels(route=route, method=method, status=str(status)).observe(seconds)


def cache_lookup_record(*, hit: bool) -> None:
    CACHE_LOOKUPS.labels(result="hit" if hit else "miss").inc()


class _Forward:
    """Exposes an existing registry's collectors through another registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: this process's (or every process's) samples plus the state."""
    from app.observability.collectors import ServiceStateCollector

    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_enabled():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(ServiceStateCollector())
    return registry
