"""Integration keys for the tests: a live key and its secret, and a client that sends it."""

from __future__ import annotations

from app.integrations.models import IntegrationKey
from app.integrations.services import integration_key_create

from . import operator


def integration_key(name: str = "marketplace sync") -> tuple[IntegrationKey, str]:
    """A new key (made by a new operator) and its secret."""
    return integration_key_create(name=name, created_by=operator())


def as_key(api_client, secret: str):
    """`api_client`, sending `Authorization: Bearer <secret>` from now on."""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api_client
