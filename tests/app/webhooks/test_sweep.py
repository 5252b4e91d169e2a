"""The sweeper sends each due delivery one message, however often it runs: counted in the real broker.

`webhooks.deliver` is routed to a queue of this test's own that no worker consumes, so the
messages the sweeper sends stay in its Redis list to be counted.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from app.webhooks import services
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import factories as f
from workers import names
from workers.celery import app

Status = WebhookDelivery.Status


def _route(queue: str) -> None:
    app.conf.task_routes[names.WEBHOOK_DELIVER] = {"queue": queue}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # a cached property, built from the routes


@pytest.fixture
def queue():
    """The Redis list `webhooks.deliver` messages go to during the test; its length is the count."""
    name = f"test-webhooks-sweep-{os.getpid()}"
    _route(name)
    redis = app.connection_for_write().default_channel.client
    redis.delete(name)
    try:
        yield lambda: redis.llen(name)
    finally:
        redis.delete(name)
        _route(str(names.TASK_QUEUES[names.WEBHOOK_DELIVER]))


def _pending(count: int, *, due_ago: timedelta, enqueued_ago: timedelta | None) -> list[int]:
    endpoint = WebhookEndpoint.objects.create(owner=f.user(), url="http://93.184.216.34/hook")
    now = timezone.now()
    rows = [
        WebhookDelivery(
            endpoint=endpoint,
            url=endpoint.url,
            event_type="test.event",
            msg_id=f"msg_sweep_{endpoint.pk}_{n}",
            payload={"n": n},
            next_attempt_at=now - due_ago,
            enqueued_at=None if enqueued_ago is None else now - enqueued_ago,
        )
        for n in range(count)
    ]
    return [d.pk for d in WebhookDelivery.objects.bulk_create(rows)]


@pytest.mark.django_db
class TestSweep:
    def test_run_again_and_again_it_does_not_grow_the_queue(self, queue) -> None:
        _pending(40, due_ago=timedelta(minutes=5), enqueued_ago=None)  # their messages were lost

        assert services.webhook_deliveries_sweep() == 40
        assert [services.webhook_deliveries_sweep() for _ in range(3)] == [0, 0, 0]

        assert queue() == 40
        assert WebhookDelivery.objects.filter(enqueued_at__isnull=False).count() == 40

    def test_it_leaves_a_backlog_the_workers_have_not_reached_alone(self, queue) -> None:
        """As measured: every minute the old sweep sent the whole backlog again (232 messages became 683)."""
        _pending(30, due_ago=timedelta(minutes=8), enqueued_ago=timedelta(minutes=8))  # queued, still waiting

        assert [services.webhook_deliveries_sweep() for _ in range(3)] == [0, 0, 0]
        assert queue() == 0

    def test_it_sends_again_a_message_out_so_long_it_must_be_lost(self, queue) -> None:
        stale = services.REQUEUE_AFTER + timedelta(minutes=1)
        [lost] = _pending(1, due_ago=stale, enqueued_ago=stale)

        assert services.webhook_deliveries_sweep() == 1
        assert services.webhook_deliveries_sweep() == 0
        assert queue() == 1
        assert WebhookDelivery.objects.get(pk=lost).enqueued_at > timezone.now() - timedelta(minutes=1)

    def test_an_attempt_that_consumed_its_message_leaves_the_row_to_the_sweeper_if_its_worker_dies(self, queue) -> None:
        [pk] = _pending(1, due_ago=timedelta(minutes=1), enqueued_ago=timedelta(minutes=1))
        # The claim, as an attempt makes it; then its worker dies and the lease runs out.
        WebhookDelivery.objects.filter(pk=pk).update(enqueued_at=None, attempts=1)
        WebhookDelivery.objects.filter(pk=pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))

        assert services.webhook_deliveries_sweep() == 1
        assert queue() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_delivery_once(queue) -> None:
    _pending(60, due_ago=timedelta(minutes=5), enqueued_ago=None)
    counts: list[int] = []
    start = threading.Barrier(2)

    def sweep() -> None:
        start.wait()
        try:
            counts.append(services.webhook_deliveries_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(counts) == 60
    assert queue() == 60
