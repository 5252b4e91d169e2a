"""Who may be tried now: a slot limit and a circuit breaker per receiver, shared by every worker in Redis.

A receiver is where deliveries connect: the scheme, host and port of their URL, whichever
endpoint or callback names it, so that many endpoints (or accounts) pointing at one hung server
still share its limit. Before an attempt, `receiver_admit` asks, in one Redis command:

- **Breaker open** (the receiver gave no HTTP answer — a timeout, a refused or reset
  connection — `WEBHOOK_BREAKER_FAILURES` times in a row): nothing is sent until
  `WEBHOOK_BREAKER_COOLDOWN` seconds after the last such failure.
- **Half-open** (the cool-down is over, the count still at the threshold): one attempt, the
  probe, goes through; the others wait for its outcome. An HTTP answer, any status, closes the
  breaker (the receiver is reachable: its statuses are the retry schedule's business); no
  answer opens it again for another cool-down.
- **Slots**: at most `WEBHOOK_RECEIVER_CONCURRENCY` attempts in flight. A slot is a member of a
  sorted set scored by its lease's end, so a worker that died holding one frees it when the
  lease (the attempt's timeout and a margin) ends.

A delivery that is not admitted is not attempted: the caller puts it back in the table with a
later due time and a countdown message, so it holds no worker slot while it waits
(`app.webhooks.services`). Redis unreachable: admitted without a slot (the broker is that same
Redis, so no task would be running anyway).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from app.common.redis_client import client

logger = logging.getLogger(__name__)

_PREFIX = "recsvc:webhooks:receiver:"
# Receivers whose breaker is at its threshold (open or half-open): what the operator page lists.
TRIPPED = "recsvc:webhooks:tripped"
# A failure count outlives a quiet day, no more.
_STATE_TTL = 24 * 3600
# A slot (and a probe) outlives its attempt by this much: a dead worker's slot comes back after it.
_LEASE_MARGIN = 5.0

_ADMIT = """
local open_ttl = redis.call('PTTL', KEYS[1])
if open_ttl > 0 then return {'open', open_ttl} end
local probe = 0
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[5]) then
  if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then
    return {'probing', redis.call('PTTL', KEYS[3])}
  end
  probe = 1
end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[4]) then
  if probe == 1 then redis.call('DEL', KEYS[3]) end
  return {'busy', 0}
end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
if probe == 1 then return {'probe', 0} end
return {'ok', 0}
"""

_RELEASE = """
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[5])
  redis.call('SREM', KEYS[6], ARGV[5])
  return 0
end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[8])
if n >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[4])
  if redis.call('HEXISTS', KEYS[5], 'opened_at') == 0 then redis.call('HSET', KEYS[5], 'opened_at', ARGV[7]) end
  redis.call('HSET', KEYS[5], 'origin', ARGV[5], 'failures', n, 'last_error', ARGV[6], 'last_failure_at', ARGV[7])
  redis.call('EXPIRE', KEYS[5], ARGV[8])
  redis.call('SADD', KEYS[6], ARGV[5])
end
return n
"""


@dataclass(frozen=True)
class Admission:
    """Whether an attempt may go now; if not, `wait` seconds and why (`open`, `probing`, `busy`)."""

    admitted: bool
    token: str = ""
    reason: str = ""
    wait: float = 0.0


def receiver_origin(url: str) -> str:
    """`scheme://host:port` of a delivery's URL: what its slots and breaker are counted on."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port or {'https': 443}.get(scheme, 80)}"


def _keys(origin: str) -> list[str]:
    digest = hashlib.sha256(origin.encode()).hexdigest()[:32]
    base = _PREFIX + digest
    return [f"{base}:open", f"{base}:failures", f"{base}:probe", f"{base}:slots", f"{base}:info", TRIPPED]


def _lease_ms() -> int:
    return int((settings.WEBHOOK_TIMEOUT + _LEASE_MARGIN) * 1000)


def receiver_admit(origin: str) -> Admission:
    """Take a slot at `origin` if its breaker and its slot limit allow; never raises."""
    token = uuid.uuid4().hex
    try:
        reason, wait_ms = client().eval(
            _ADMIT,
            4,
            *_keys(origin)[:4],
            int(time.time() * 1000),
            _lease_ms(),
            token,
            settings.WEBHOOK_RECEIVER_CONCURRENCY,
            settings.WEBHOOK_BREAKER_FAILURES,
        )
    except Exception:
        logger.warning("receiver slots unavailable (Redis): sending to %s without a slot", origin)
        return Admission(True)
    reason = reason.decode() if isinstance(reason, bytes) else reason
    if reason in ("ok", "probe"):
        return Admission(True, token=token, reason=reason)
    # A slot frees within one attempt's timeout; spread the waiting ones over it.
    jitter = random.uniform(0.5, max(1.0, settings.WEBHOOK_TIMEOUT))
    wait = max(0, int(wait_ms)) / 1000 + (random.uniform(0, 2) if reason == "open" else jitter)
    return Admission(False, reason=reason, wait=wait)


def receiver_release(origin: str, admission: Admission, *, answered: bool, error: str = "") -> None:
    """Give the slot back and count the outcome: `answered` (any HTTP status) closes the breaker."""
    if not admission.token:
        return
    try:
        client().eval(
            _RELEASE,
            6,
            *_keys(origin),
            admission.token,
            "1" if answered else "0",
            settings.WEBHOOK_BREAKER_FAILURES,
            int(settings.WEBHOOK_BREAKER_COOLDOWN * 1000),
            origin,
            error[:300],
            int(time.time()),
            _STATE_TTL,
        )
    except Exception:
        logger.warning("receiver slots unavailable (Redis): the outcome at %s was not counted", origin)


def receivers_tripped() -> list[dict] | None:
    """Receivers at their breaker's threshold, worst first: origin, failures, state, seconds left, last error.

    None when Redis cannot be read.
    """
    try:
        redis = client()
        rows = []
        for raw in redis.smembers(TRIPPED):
            origin = raw.decode()
            open_key, *_, info_key, _ = _keys(origin)
            info = {k.decode(): v.decode() for k, v in redis.hgetall(info_key).items()}
            if not info:  # quiet for a day: forgotten
                redis.srem(TRIPPED, origin)
                continue
            open_ms = redis.pttl(open_key)
            rows.append(
                {
                    "origin": origin,
                    "failures": int(info.get("failures", 0)),
                    "state": "open" if open_ms > 0 else "half-open",
                    "retry_in": max(0, open_ms) / 1000,
                    "opened_at": int(info.get("opened_at", 0)),
                    "last_error": info.get("last_error", ""),
                }
            )
    except Exception:
        logger.warning("receiver breakers unreadable (Redis)")
        return None
    return sorted(rows, key=lambda r: (-r["failures"], r["origin"]))
