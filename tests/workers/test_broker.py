"""The broker transport (workers/broker.py): kombu's Redis transport, fixed for a channel closed late."""

import uuid

from workers.broker import Transport
from workers.celery import app


def test_it_is_the_transport_of_a_redis_broker() -> None:
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)


def test_the_broker_still_reads_as_redis_to_logs_and_flower() -> None:
    from flower.utils.broker import Broker, Redis

    with app.connection() as conn:
        uri = conn.as_uri(include_password=True)  # what Flower's broker page is built from

    assert uri.startswith("redis://")
    assert isinstance(Broker(uri), Redis)


def test_messages_go_through_it() -> None:
    name = f"test-broker-{uuid.uuid4().hex}"
    with app.connection_for_write() as conn:
        queue = conn.SimpleQueue(name)
        try:
            for n in range(3):
                queue.put({"n": n})
            got = []
            for _ in range(3):
                message = queue.get(timeout=5)
                got.append(message.payload["n"])
                message.ack()

            assert got == [0, 1, 2]
        finally:
            queue.queue.delete()
            queue.close()


def test_a_message_held_unacknowledged_is_requeued_when_the_connection_closes_after_collect() -> None:
    """What Celery 5.7 does when it loses the broker: collect() (the transport let go), then close()."""
    name = f"test-broker-{uuid.uuid4().hex}"
    conn = app.connection_for_write()
    queue = conn.SimpleQueue(name)
    queue.put({"n": 1})
    held = queue.get(timeout=5)  # received, not acknowledged: in the channel's unacked set
    assert held.payload == {"n": 1}

    conn.collect()  # kombu's stock channel raised AttributeError ('NoneType' ... 'hostname') below
    conn.close()

    with app.connection_for_write() as fresh:
        again = fresh.SimpleQueue(name)
        try:
            message = again.get(timeout=5)
            assert message.payload == {"n": 1}
            message.ack()
        finally:
            again.queue.delete()
            again.close()


def test_it_takes_over_even_after_kombu_resolved_redis_before() -> None:
    from kombu import transport as kombu_transport
    from kombu.transport import get_transport_cls
    from kombu.transport import redis as kombu_redis

    from workers.broker import use_for_redis_urls

    kombu_transport._transport_cache["redis"] = kombu_redis.Transport  # as an earlier connection leaves it

    use_for_redis_urls()

    assert get_transport_cls("redis") is Transport
