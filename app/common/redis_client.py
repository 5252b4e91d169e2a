"""The service's Redis client: answers, cache, throttles, tokens, pointers and locks.

One client per process (a connection pool inside), built from `settings.REDIS_URL` on first
use. Tests that point `REDIS_URL` elsewhere call `client.cache_clear()`.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30)
