"""The broker transport (workers/broker.py): kombu's Redis transport, one client per channel, fixed for a channel closed late."""

import uuid

from kombu import Consumer, Exchange, Queue

from tests.support.servers import ThrowawayRedis
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


def test_a_channel_reuses_one_client_for_its_commands() -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        client = channel._create_client()

        assert channel._create_client() is client
        assert channel._create_client(asynchronous=True) is not client  # the consumer's own, as kombu makes it


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


def test_a_channel_closed_after_collect_with_redis_gone_does_not_crash(tmp_path) -> None:
    """Finding 3 of issue 12, step by step as Celery 5.7 loses its broker: a worker holds a message
    unacknowledged with a BRPOP in flight; Redis dies; the consumer collect()s its connection (the
    transport lets go of it), then close()s it. kombu's own channel raised AttributeError
    ('NoneType' object has no attribute 'hostname') in restore_unacked, and the worker exited."""
    from kombu import Connection

    redis_server = ThrowawayRedis(tmp_path, aof=False)
    redis_server.start()
    try:
        conn = Connection(redis_server.url())
        assert isinstance(conn.transport, Transport)
        channel = conn.default_channel
        queue = Queue("work", Exchange("work"), "work")
        # A broadcast queue too, as a worker's remote control and gossip have.
        broadcast = Queue("broadcast", Exchange("broadcast", type="fanout"), auto_delete=True)
        held = []
        Consumer(channel, [broadcast, queue], callbacks=[lambda body, message: held.append(message)]).consume()
        with Connection(redis_server.url()) as producer:
            producer.Producer().publish({"n": 1}, exchange="work", routing_key="work", declare=[queue])
        conn.drain_events(timeout=5)
        assert len(held) == 1  # received, not acknowledged
        channel._brpop_start()  # the next BRPOP in flight, as the worker's event loop keeps one

        redis_server.kill()
        conn.collect()
        conn.close()  # raised AttributeError with kombu's channel
    finally:
        redis_server.kill()


def test_a_channel_drops_its_client_with_its_pools() -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        before = channel._create_client()

        channel._disconnect_pools()  # as kombu does in a forked child, and on close

        after = channel._create_client()
        assert after is not before
        assert after.connection_pool is channel.pool


def test_it_takes_over_even_after_kombu_resolved_redis_before() -> None:
    from kombu import transport as kombu_transport
    from kombu.transport import get_transport_cls
    from kombu.transport import redis as kombu_redis

    from workers.broker import use_for_redis_urls

    kombu_transport._transport_cache["redis"] = kombu_redis.Transport  # as an earlier connection leaves it

    use_for_redis_urls()

    assert get_transport_cls("redis") is Transport
