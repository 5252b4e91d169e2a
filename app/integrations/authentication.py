"""`Authorization: Bearer <secret>`: an integration key authenticates as its own `integration` user.

Beside the end users' `Token` scheme (app/api/authentication.py), not in place of it: a request
with a `Token` header never reaches this class, and this one answers only `Bearer`. The key is
read from the database on every request (one indexed query): a revoked key is refused from
the next request on, with no cache to forget. `request.auth` is the `IntegrationKey`, which is
how `IsIntegration` (app/api/permissions.py) tells a key from any other credential.

The cached-answer fast path (app/recommendations/api/fast.py) authenticates a key with this class
too; the lookup is done once per request, whoever asks first (`LOOKED_UP`).
"""

from __future__ import annotations

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from app.accounts.models import User
from app.integrations.models import IntegrationKey
from app.integrations.selectors import integration_key_for_secret
from app.integrations.services import integration_key_touch

KEYWORD = "Bearer"
# Where a request's key lookup is left (header, its result), for the fast path and then DRF.
LOOKED_UP = "recsvc_integration_key_looked_up"


class IntegrationKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request | HttpRequest) -> tuple[User, IntegrationKey] | None:
        """The key's user and the key; None for another scheme. Once per request (`LOOKED_UP`)."""
        header = get_authorization_header(request)
        done = getattr(request, LOOKED_UP, None)  # a DRF request reads its Django request's attributes
        if done is not None and done[0] == header:
            return done[1]
        found = self._authenticate(header)
        setattr(request._request if isinstance(request, Request) else request, LOOKED_UP, (header, found))
        return found

    def _authenticate(self, header: bytes) -> tuple[User, IntegrationKey] | None:
        parts = header.split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None  # another scheme's header, or none
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Bearer header: give exactly one integration key.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeError:
            raise AuthenticationFailed("Invalid Bearer header: an integration key is ASCII.") from None
        key = integration_key_for_secret(secret=secret)
        if key is None:
            raise AuthenticationFailed("Invalid or revoked integration key.")
        integration_key_touch(key=key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = "app.integrations.authentication.IntegrationKeyAuthentication"
    name = "integrationKeyAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration key (`rsk_…`), for the marketplace's backend. Operators create them "
            "at `/api/v1/integration-keys/`; the secret is shown once.",
        }
