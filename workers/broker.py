"""kombu's Redis transport, with a fix and one client per channel instead of one per command.

One client per channel: kombu's Redis channel builds a new `redis.Redis` around its connection
pool for every publish (`Channel._create_client`); with redis-py 8 that object alone has a
measurable cost on every task the web sends (issue 12, measured in the same run: 0.79-0.85x
of kombu's own send_task time in three of four runs, 0.98x in one). A `redis.Redis` holds no
connection of its own (it borrows one from the pool for each command and is safe to share
between threads), so one per channel does the same work. The asynchronous client (the
worker's consumer) is built by kombu as before.

The fix: a channel closed after its connection let go of it.

When the worker loses Redis, Celery 5.7 (`Consumer.on_connection_error_after_connected`) calls
`connection.collect()` and then `connection.close()`. collect() closes the default channel,
but that close fails half-way when a BRPOP is in flight (it reads the dead socket first), so
the channel stays open; collect() then detaches the transport (`transport.client = None`).
close() closes the channel again: requeueing the messages the worker holds unacknowledged
(`restore_unacked`) needs a new connection pool, whose parameters kombu reads from
`transport.client`: AttributeError "'NoneType' object has no attribute 'hostname'", which no
one catches, and the worker exits (issue 12, finding 3; kombu 5.7, also reported upstream as
celery/kombu#582 and #970; tests/workers/test_broker.py shows it step by step,
tests/faults/test_redis_killed.py in a real worker). Here a channel remembers the parameters it
connected with, so the requeue runs, or fails with a connection error, which kombu ignores, and
the consumer reconnects.

kombu picks a broker's transport by its URL's scheme, in its table of aliases:
`use_for_redis_urls` (called where the Celery app is made, workers/celery.py) points `redis`
at this one. The URL stays `redis://…`, so logs and Flower's broker page see a Redis broker as
before (naming the class in `broker_transport` instead would make the URL
`workers.broker:Transport://…`, which Flower cannot read). `rediss://` keeps kombu's own.
"""

from __future__ import annotations

import redis
from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: redis.Redis | None = None

    def _create_client(self, asynchronous: bool = False) -> redis.Redis:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._shared_client is None:
            self._shared_client = super()._create_client()
        return self._shared_client

    def _disconnect_pools(self) -> None:
        # kombu drops its pools here (closing the channel, and in a forked child): the client
        # built on the old pool goes with them.
        self._shared_client = None
        super()._disconnect_pools()

    def _connparams(self, asynchronous: bool = False) -> dict:
        remembered = self.__dict__.setdefault("_remembered_connparams", {})
        if self.connection.client is None:  # detached by Connection.collect(): see the module's docstring
            if asynchronous not in remembered:
                raise redis.ConnectionError("the broker connection was closed")  # one kombu ignores
            return dict(remembered[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)
        remembered[asynchronous] = dict(params)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel


def use_for_redis_urls() -> None:
    """Make `redis://` broker URLs use this transport."""
    TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"
    # kombu remembers the class it first resolved for a name; a connection made before this
    # call (a script, a test) would otherwise keep the stock transport without a word.
    kombu_transport._transport_cache.pop("redis", None)
