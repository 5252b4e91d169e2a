"""kombu's Redis transport, with one Redis client per channel instead of one per command.

kombu's Redis channel builds a new `redis.Redis` around its connection pool for every
publish (`Channel._create_client`); with redis-py 8 that object alone costs about 0.14 ms (it
builds its table of reply callbacks), on every task the web sends. A `redis.Redis` holds no
connection of its own — it borrows one from the pool for each command and is safe to share
between threads — so one per channel does the same work. The asynchronous client (the
worker's consumer) is built by kombu as before.

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


class Transport(kombu_redis.Transport):
    Channel = Channel


def use_for_redis_urls() -> None:
    """Make `redis://` broker URLs use this transport."""
    TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"
    # kombu remembers the class it first resolved for a name; a connection made before this
    # call (a script, a test) would otherwise keep the stock transport without a word.
    kombu_transport._transport_cache.pop("redis", None)
