"""Token authentication with the token's user cached in Redis.

DRF's `TokenAuthentication` reads the token and its user from the database on every request;
on a cached recommendation that query is the largest part of the answer. Here the user's few
fields the API needs are kept in Redis under a hash of the token for `AUTH_CACHE_SECONDS`, and
any change through the ORM — the token deleted or rotated, the user saved (deactivated, role
changed) — deletes the entry at once (signals in `app.accounts.signals`). A change made behind
the ORM's back (raw SQL) takes effect within `AUTH_CACHE_SECONDS`.

The same Redis round trip takes the throttle's count for the request (`token_lookup`), so an
authenticated request costs one round trip before the view, not two.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from functools import lru_cache

from django.http import HttpRequest
from redis import Redis
from redis.commands.core import Script
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from app.accounts.models import User
from app.api.throttling import COUNTED, RedisUserRateThrottle
from app.common.redis_client import client

logger = logging.getLogger(__name__)

AUTH_CACHE_SECONDS = 300
_FIELDS = ("id", "username", "role", "is_staff", "is_superuser", "is_active")


def _digest(token_key: str) -> str:
    return hashlib.sha256(token_key.encode()).hexdigest()


def auth_cache_key(token_key: str, digest: str | None = None) -> str:
    # A hash, so that Redis never holds a usable token.
    return "recsvc:auth:" + (digest or _digest(token_key))


def throttle_ident(token_key: str, digest: str | None = None) -> str:
    """Whom the throttle counts for a token: one token per user, so per user (app/api/throttling.py)."""
    return "t" + (digest or _digest(token_key))[:32]


def _forget_quietly(key: str) -> None:
    try:
        client().delete(key)
    except Exception:  # it expires within the throttle's window anyway
        pass


def auth_cache_forget(token_keys: list[str]) -> None:
    if not token_keys:
        return
    try:
        client().delete(*(auth_cache_key(k) for k in token_keys))
    except Exception:  # fail closed is not possible here; log loudly
        logger.error("could not drop cached authentication for %d token(s)", len(token_keys))


# Where `token_lookup` leaves what it found on the Django request: (token key, cached record).
LOOKED_UP = "recsvc_token_looked_up"


def token_from_header(request: HttpRequest) -> str | None:
    """The key of an `Authorization: Token <key>` header, read as DRF's TokenAuthentication reads it."""
    try:
        # Bytes, split on ASCII whitespace only, as `rest_framework.authentication.get_authorization_header`.
        parts = request.META.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1").split()
        if len(parts) != 2 or parts[0].lower() != b"token":
            return None
        return parts[1].decode()
    except UnicodeError:
        return None  # DRF's own reading refuses it with a clear message


# What every token request needs before its view, in one command: the token's cached record,
# the throttle's count (INCR; EXPIRE at the window's first request) and the values of any keys
# the caller rides along (the fast path's cache lookup). A script rather than a pipeline of
# four commands: one command to send and one reply to parse, on every request.
_LOOKUP = """
local out = {redis.call('GET', KEYS[1]) or false, false}
if ARGV[1] ~= '' then
  out[2] = redis.call('INCR', KEYS[2])
  if out[2] == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
end
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or false end
return out
"""


@lru_cache(maxsize=4)
def _lookup_script(redis_client: Redis) -> Script:
    return redis_client.register_script(_LOOKUP)  # EVALSHA, loaded again by itself after a Redis restart


def token_lookup(request: HttpRequest, key: str, *, also_get: Sequence[str] = ()) -> tuple[bytes | None, list | None]:
    """The token's cached user record (None: not cached, or Redis unavailable), once per request.

    The same round trip takes the throttle's count for the request and leaves it on the request
    (`COUNTED`), so that an authenticated request costs one round trip before the view, and
    reads the keys `also_get` names (their values come second; None when Redis failed, or when
    this request's token was looked up already). The
    cached-answer fast path (app/recommendations/api/fast.py) and DRF's authentication both
    ask; whichever asks second gets the first's record, so a request is counted once.
    """
    done = getattr(request, LOOKED_UP, None)
    if done is not None and done[0] == key:
        return done[1], None
    digest = _digest(key)
    window = RedisUserRateThrottle().window_for(throttle_ident=throttle_ident(key, digest))
    counted, ttl = window or ("recsvc:throttle:none", "")  # no rate: a key the script leaves alone
    cached, values = None, None
    try:
        cached, count, *values = _lookup_script(client())(
            keys=[auth_cache_key(key, digest), counted, *also_get], args=[ttl]
        )
        if window is not None:
            setattr(request, COUNTED, (counted, count))
    except Exception:  # Redis down: the database answers
        logger.warning("authentication cache unavailable")
    setattr(request, LOOKED_UP, (key, cached))
    return cached, values


# What a stored token key can be: DRF makes 40 hex digits; the column holds up to 40 characters.
_TOKEN_KEY = re.compile(r"[\x21-\x7e]{1,40}")


def _forget_count(request) -> None:
    """Drop the throttle count a refused token took: counted for nobody, made-up tokens leave no keys behind."""
    counted = getattr(request._request, COUNTED, None) if request is not None else None
    if counted is not None:
        _forget_quietly(counted[0])


def user_from_record(record: dict) -> User:
    """The user a cached record describes, built as the ORM would load it (no query)."""
    user = User(**{f: record[f] for f in _FIELDS})
    user._state.adding = False
    user._state.db = "default"
    return user


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        # DRF makes an authenticator per request: keeping the request here is safe.
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        request = getattr(self, "request", None)
        if not _TOKEN_KEY.fullmatch(key):
            # No stored token looks like this (the column is 40 characters; PostgreSQL cannot even
            # compare a string holding NUL): refused without a query, counted for nobody.
            _forget_count(request)
            raise AuthenticationFailed("Invalid token.")
        # Outside a request (no Django request to count on), a throwaway one keeps the same path.
        cached, _ = token_lookup(request._request if request is not None else HttpRequest(), key)
        ident = throttle_ident(key)
        if cached:
            user = user_from_record(json.loads(cached))
            if not user.is_active:  # never cached so; a record outlives no save of its user
                raise AuthenticationFailed("User inactive or deleted.")
            token = Token(key=key, user=user)
            token.throttle_ident = ident
            return user, token
        try:
            user, token = super().authenticate_credentials(key)
            if user.role == User.Role.INTEGRATION:
                # An integration account speaks only through its key (app/integrations), which a
                # revocation stops; a token made for it by hand must not outlive that.
                raise AuthenticationFailed("Integration accounts authenticate with their key (Bearer), not a token.")
        except AuthenticationFailed:
            _forget_count(request)
            raise
        token.throttle_ident = ident
        try:
            body = json.dumps({f: getattr(user, f) for f in _FIELDS})
            client().set(auth_cache_key(key), body, ex=AUTH_CACHE_SECONDS)
        except Exception:
            pass
        return user, token


def _register_schema_extension() -> None:
    # drf-spectacular documents DRF's own TokenAuthentication only; describe ours the same way.
    from drf_spectacular.authentication import TokenScheme

    class CachedTokenScheme(TokenScheme):
        target_class = "app.api.authentication.CachedTokenAuthentication"
        name = "tokenAuth"


_register_schema_extension()
