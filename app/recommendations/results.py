"""Finished requests travel back through Redis: a key to read, a channel to wait on.

The worker writes `recsvc:request:<id>` (the finished request as the API shows it) and then
publishes on `recsvc:request-done:<id>`. A long-polling reader subscribes first and reads the
key second, so a result that lands between the two is never missed.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache

import redis
from django.conf import settings

KEY = "recsvc:request:{id}"
CHANNEL = "recsvc:request-done:{id}"


@lru_cache(maxsize=1)
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30)


def result_publish(request_id: str, payload: dict) -> None:
    body = json.dumps(payload, default=str)
    pipe = client().pipeline(transaction=False)
    pipe.set(KEY.format(id=request_id), body, ex=settings.RECOMMENDATION_REQUEST_TTL)
    # The message carries the answer itself, so a waiting reader needs no second round trip.
    pipe.publish(CHANNEL.format(id=request_id), body)
    pipe.execute()


def result_get(request_id: str) -> dict | None:
    body = client().get(KEY.format(id=request_id))
    return json.loads(body) if body else None


def result_wait(request_id: str, timeout: float) -> dict | None:
    """Block up to `timeout` seconds for the finished request; None if it is not done by then."""
    deadline = time.monotonic() + timeout
    pubsub = client().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(CHANNEL.format(id=request_id))
        found = result_get(request_id)
        while found is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            message = pubsub.get_message(timeout=min(remaining, 1.0))
            if message is not None and message.get("type") == "message":
                found = json.loads(message["data"])
            elif remaining <= 1.0:
                found = result_get(request_id)
        return found
    finally:
        pubsub.close()
