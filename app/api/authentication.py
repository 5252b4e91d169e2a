"""Token authentication with the token's user cached in Redis.

DRF's `TokenAuthentication` reads the token and its user from the database on every request;
on a cached recommendation that query is the largest part of the answer. Here the user's few
fields the API needs are kept in Redis under a hash of the token for `AUTH_CACHE_SECONDS`, and
any change through the ORM — the token deleted or rotated, the user saved (deactivated, role
changed) — deletes the entry at once (signals in `app.accounts.signals`). A change made behind
the ORM's back (raw SQL) takes effect within `AUTH_CACHE_SECONDS`.

The same Redis round trip takes the throttle's count for the request (`RedisUserRateThrottle.count_in`),
so an authenticated request costs one round trip before the view, not two.
"""

from __future__ import annotations

import hashlib
import json
import logging

from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from app.accounts.models import User
from app.api.throttling import COUNTED, RedisUserRateThrottle
from app.recommendations.results import client

logger = logging.getLogger(__name__)

AUTH_CACHE_SECONDS = 300
_FIELDS = ("id", "username", "role", "is_staff", "is_superuser", "is_active")


def auth_cache_key(token_key: str) -> str:
    # A hash, so that Redis never holds a usable token.
    return "recsvc:auth:" + hashlib.sha256(token_key.encode()).hexdigest()


def throttle_ident(token_key: str) -> str:
    """Whom the throttle counts for a token: one token per user, so per user (app/api/throttling.py)."""
    return "t" + hashlib.sha256(token_key.encode()).hexdigest()[:32]


def _forget_quietly(key: str) -> None:
    try:
        client().delete(key)
    except Exception:  # noqa: BLE001 - it expires within the throttle's window anyway
        pass


def auth_cache_forget(token_keys: list[str]) -> None:
    if not token_keys:
        return
    try:
        client().delete(*(auth_cache_key(k) for k in token_keys))
    except Exception:  # noqa: BLE001 - fail closed is not possible here; log loudly
        logger.error("could not drop cached authentication for %d token(s)", len(token_keys))


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):  # noqa: ANN001, ANN201
        # DRF makes an authenticator per request: keeping the request here is safe.
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        cached, counted = None, None
        ident = throttle_ident(key)
        try:
            pipe = client().pipeline(transaction=False)
            pipe.get(auth_cache_key(key))
            counted = RedisUserRateThrottle().count_in(pipe, throttle_ident=ident)
            cached, *count = pipe.execute()
            if counted is not None and getattr(self, "request", None) is not None:
                setattr(self.request._request, COUNTED, (counted, count[0]))
        except Exception:  # noqa: BLE001 - Redis down: the database answers
            logger.warning("authentication cache unavailable")
        if cached:
            fields = json.loads(cached)
            user = User(**fields)
            user._state.adding = False
            user._state.db = "default"
            token = Token(key=key, user=user)
            token.throttle_ident = ident
            return user, token
        try:
            user, token = super().authenticate_credentials(key)
        except AuthenticationFailed:
            # Counted for nobody: drop it, so that made-up tokens leave no keys behind.
            if counted is not None:
                _forget_quietly(counted)
            raise
        token.throttle_ident = ident
        try:
            body = json.dumps({f: getattr(user, f) for f in _FIELDS})
            client().set(auth_cache_key(key), body, ex=AUTH_CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            pass
        return user, token


def _register_schema_extension() -> None:
    # drf-spectacular documents DRF's own TokenAuthentication only; describe ours the same way.
    from drf_spectacular.authentication import TokenScheme

    class CachedTokenScheme(TokenScheme):
        target_class = "app.api.authentication.CachedTokenAuthentication"
        name = "tokenAuth"


_register_schema_extension()
