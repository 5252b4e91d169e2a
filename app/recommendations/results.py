"""Finished requests travel back through Redis: a key to read, a channel to wait on.

The worker writes `recsvc:request:<id>` (the finished request as the API shows it) and then
publishes on `recsvc:request-done:<id>`. A long-polling reader subscribes first and reads the
key second, so a result that lands between the two is never missed.
"""

from __future__ import annotations

import json
import threading
import time

import redis
from django.conf import settings

from app.common.redis_client import client
from app.recommendations.models import RecommendationRequest

KEY = "recsvc:request:{id}"
CHANNEL = "recsvc:request-done:{id}"
_local = threading.local()


def request_payload(req: RecommendationRequest) -> dict:
    """The request as the API shows it."""
    return {
        "id": str(req.id),
        "kind": req.kind,
        "status": req.status,
        "result": req.result,
        "error": req.error or None,
        "created_at": req.created_at.isoformat() if req.created_at else None,
        "finished_at": req.finished_at.isoformat() if req.finished_at else None,
    }


def result_publish(request_id: str, payload: dict) -> str:
    """Store and announce a finished request (as the API shows it); returns its JSON.

    Raises ValueError, having written nothing, when the payload holds NaN or infinity: that is
    not JSON, and no reader could parse it.
    """
    body = payload_json(payload)
    result_publish_json(request_id, body)
    return body


def payload_json(payload: dict) -> str:
    """The request's JSON as published; ValueError when it holds NaN or infinity (not JSON)."""
    return json.dumps(payload, default=str, allow_nan=False)


def result_publish_json(request_id: str, body: str) -> None:
    """Store and announce a finished request's JSON (`payload_json`)."""
    pipe = client().pipeline(transaction=False)
    pipe.set(KEY.format(id=request_id), body, ex=settings.RECOMMENDATION_REQUEST_TTL)
    # The message carries the answer itself, so a waiting reader needs no second round trip.
    pipe.publish(CHANNEL.format(id=request_id), body)
    pipe.execute()


def result_get(request_id: str) -> dict | None:
    body = client().get(KEY.format(id=request_id))
    return json.loads(body) if body else None


def _pubsub() -> tuple[redis.client.PubSub, bool]:
    """This thread's subscriber connection, kept between waits, and whether it was just made.

    A PubSub object closes its connection when closed, so one per wait would open a Redis
    connection per long-poll; a thread waits on one request at a time, so one per thread will do.
    """
    pubsub = getattr(_local, "pubsub", None)
    if pubsub is not None:
        return pubsub, False
    pubsub = _local.pubsub = client().pubsub(ignore_subscribe_messages=True)
    return pubsub, True


def result_wait(request_id: str, timeout: float) -> dict | None:
    """Block up to `timeout` seconds for the finished request; None if it is not done by then.

    A kept connection that broke while it idled (Redis restarted since) is replaced once at
    once: only a Redis that cannot be reached now raises.
    """
    deadline = time.monotonic() + timeout
    channel = CHANNEL.format(id=request_id).encode()
    while True:
        pubsub, fresh = _pubsub()
        try:
            found = _wait(pubsub, channel, request_id, deadline)
            # Its reply is read, and skipped, by the next wait on this connection.
            pubsub.unsubscribe(channel)
        except BaseException as exc:
            # In an unknown state (a broken connection, an interrupted read): start afresh.
            _local.pubsub = None
            pubsub.close()
            if fresh or not isinstance(exc, redis.ConnectionError):
                raise
            continue
        return found


def _wait(pubsub: redis.client.PubSub, channel: bytes, request_id: str, deadline: float) -> dict | None:
    pubsub.subscribe(channel)
    found = result_get(request_id)
    while found is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        message = pubsub.get_message(timeout=min(remaining, 1.0))
        # A message for an earlier wait's channel can still arrive after its UNSUBSCRIBE.
        if message is not None and message.get("type") == "message" and message.get("channel") == channel:
            found = json.loads(message["data"])
        elif remaining <= 1.0:
            found = result_get(request_id)
    return found
