"""Per-user throttling in one Redis round trip.

DRF's `UserRateThrottle` keeps every request's timestamp in a pickled list in the cache and
rewrites it on each request: with a rate of thousands a minute that list is the slowest part of
a cached answer. A fixed-window counter (INCR and EXPIRE on a key per window) costs one
pipelined round trip and allows at most twice the rate across a window boundary, which is the
usual trade for this kind of limit.
"""

from __future__ import annotations

import logging
import time

from rest_framework.throttling import SimpleRateThrottle

from app.recommendations.results import client

logger = logging.getLogger(__name__)


class RedisUserRateThrottle(SimpleRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view) -> str | None:  # noqa: ANN001
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return f"recsvc:throttle:{self.scope}:{ident}"

    def allow_request(self, request, view) -> bool:  # noqa: ANN001
        key = self.get_cache_key(request, view)
        if self.rate is None or key is None:
            return True
        window = int(time.time() // self.duration)
        key = f"{key}:{window}"
        try:
            pipe = client().pipeline(transaction=False)
            pipe.incr(key)
            # The window is in the key, so refreshing the expiry on every hit is harmless
            # (and EXPIRE's NX flag needs Redis 7; the embedded server is 6.2).
            pipe.expire(key, int(self.duration) + 1)
            count, _ = pipe.execute()
        except Exception:  # noqa: BLE001 - Redis down: do not turn a throttle into an outage
            logger.warning("throttle unavailable (Redis): letting the request through", exc_info=True)
            return True
        if count > self.num_requests:
            self._wait = (window + 1) * self.duration - time.time()
            return False
        return True

    def wait(self) -> float | None:
        return max(getattr(self, "_wait", 0.0), 0.0)
