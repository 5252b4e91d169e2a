"""Gauges computed when Prometheus scrapes: the state of the service, not of one process.

- `recsvc_queue_depth{queue}` — messages waiting in each Celery queue (Redis LLEN);
- `recsvc_model_active_info{version}` — 1 for the version being served;
- `recsvc_feedback_pending` and `recsvc_feedback_lag_seconds` — feedback events not applied
  yet, and the age of the oldest (0 when none): a growing lag means the feedback queue is stuck;
- `recsvc_scrape_source_up{source}` — 0 when a source (redis, database) could not be read; its
  gauges are then missing from the scrape rather than wrong.

Each is one cheap query; a failure is logged and reported, never raised into the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import lru_cache

import redis
from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from workers.names import Queue

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's prioritised messages in sibling lists named
# `<queue>\x06\x16<priority>` (its default priority steps are 0, 3, 6 and 9; 0 is the bare name).
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@lru_cache(maxsize=1)
def _broker() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def queue_depths(queues: Iterable[str] = tuple(q.value for q in Queue)) -> dict[str, int]:
    """Messages waiting per queue, all priorities; {} when the broker is not Redis."""
    broker = _broker()
    if broker is None:
        return {}
    queues = list(queues)
    pipe = broker.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
    lengths = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {queue: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)}


def feedback_backlog() -> tuple[int, float]:
    """(events not applied yet, age in seconds of the oldest of them)."""
    from app.recommendations.models import RecommendationFeedback

    pending = RecommendationFeedback.objects.filter(applied_at__isnull=True)
    oldest = pending.order_by("received_at").values_list("received_at", flat=True).first()
    if oldest is None:
        return 0, 0.0
    return pending.count(), max(0.0, (timezone.now() - oldest).total_seconds())


class ServiceStateCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "recsvc_scrape_source_up", "1 if the source could be read during this scrape.", labels=["source"]
        )
        yield from self._queues(up)
        yield from self._database(up)
        yield up

    def _queues(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            depths = queue_depths()
        except redis.RedisError as exc:
            logger.warning("metrics: cannot read queue depths: %s", exc)
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        family = GaugeMetricFamily("recsvc_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"])
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family

    def _database(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError

        from app.ops.selectors import model_active_version

        try:
            pending, lag = feedback_backlog()
            version = model_active_version()
        except DatabaseError as exc:
            logger.warning("metrics: cannot read the database: %s", exc)
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        yield GaugeMetricFamily(
            "recsvc_feedback_pending", "Feedback events received but not applied yet.", value=pending
        )
        yield GaugeMetricFamily(
            "recsvc_feedback_lag_seconds", "Age of the oldest feedback event not applied yet (0 when none).", value=lag
        )
        model = GaugeMetricFamily(
            "recsvc_model_active_info", "1 for the model version being served.", labels=["version"]
        )
        if version:
            model.add_metric([version], 1)
        yield model
