"""Per-user throttling in one Redis round trip.

DRF's `UserRateThrottle` keeps every request's timestamp in a pickled list in the cache and
rewrites it on each request: with a rate of thousands a minute that list is the slowest part of
a cached answer. A fixed-window counter (INCR and EXPIRE on a key per window) costs one
pipelined round trip (none of its own for a token user: token authentication takes the count
in the round trip that checks the token) and allows at most twice the rate across a window
boundary, which is the usual trade for this kind of limit.
"""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from app.common.redis_client import client

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The address a request came from, as every throttle and login counter counts it.

    The connection's address (REMOTE_ADDR) unless `TRUSTED_PROXY_COUNT` (DRF's `NUM_PROXIES`)
    says that proxies of ours stand in front: then the entry of X-Forwarded-For that the
    outermost of them wrote. DRF's reading, so that a Django view and a DRF throttle agree.
    """
    return BaseThrottle().get_ident(request) or ""


# Where token authentication leaves the count it took (see `window_for`) on the Django request.
COUNTED = "recsvc_throttle_counted"


class RedisUserRateThrottle(SimpleRateThrottle):
    """Per user when authenticated ("user" rate), per address otherwise ("anon").

    A token user is counted under the token's hash (one token per user: the same thing), so
    that token authentication can take the count in its own Redis round trip (`window_for`);
    anyone else is counted here.
    """

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = getattr(request.auth, "throttle_ident", None) or request.user.pk
        else:
            ident = client_address(request)
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return f"recsvc:throttle:{self.scope}:{ident}"

    def _window_key(self, cache_key: str) -> str:
        return f"{cache_key}:{int(time.time() // self.duration)}"

    def window_for(self, *, throttle_ident: str) -> tuple[str, int] | None:
        """The key counting a token user's requests in the current window, and its TTL (None: no rate).

        Token authentication counts on it in its own round trip (`token_lookup`): INCR, and
        EXPIRE with this TTL on the window's first request.
        """
        if self.rate is None:
            return None
        return self._window_key(f"recsvc:throttle:{self.scope}:{throttle_ident}"), int(self.duration) + 1

    def allow_request(self, request, view) -> bool:
        cache_key = self.get_cache_key(request, view)
        if self.rate is None or cache_key is None:
            return True
        key = self._window_key(cache_key)
        counted = getattr(request._request, COUNTED, None)
        if counted is not None and counted[0] == key:
            count = counted[1]
        else:
            count = self._count(key)
            if count is None:
                return True
        if count > self.num_requests:
            self._wait = self.duration - time.time() % self.duration
            return False
        return True

    def _count(self, key: str) -> int | None:
        """This request counted in `key`'s window: the count so far; None when Redis is down."""
        try:
            pipe = client().pipeline(transaction=False)
            pipe.incr(key)
            # The window is in the key, so refreshing the expiry on every hit is harmless
            # (and EXPIRE's NX flag needs Redis 7; the embedded server is 6.2).
            pipe.expire(key, int(self.duration) + 1)
            count, _ = pipe.execute()
        except Exception:  # Redis down: do not turn a throttle into an outage
            logger.warning("throttle unavailable (Redis): letting the request through", exc_info=True)
            return None
        return count

    def count_user(self, request: HttpRequest, user_id: int) -> int | None:
        """Count a request of a user who has no token (an integration key) before DRF's check does.

        The count is left on the request (`COUNTED`), so that `allow_request` uses it and the
        request is counted once (app/recommendations/api/fast.py). None: no rate, or Redis down.
        """
        if self.rate is None:
            return None
        key = self._window_key(f"recsvc:throttle:{self.scope}:{user_id}")
        count = self._count(key)
        if count is not None:
            setattr(request, COUNTED, (key, count))
        return count

    def wait(self) -> float | None:
        return max(getattr(self, "_wait", 0.0), 0.0)
