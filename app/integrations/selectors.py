"""Reads of integration keys: the list operators see, and the key a secret belongs to."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from app.integrations.models import PREFIX_LENGTH, SECRET_PREFIX, IntegrationKey, secret_hash


def integration_keys_list() -> QuerySet[IntegrationKey]:
    """Every key, newest first, revoked ones included (they stay listed with `revoked_at`)."""
    return IntegrationKey.objects.select_related("created_by")


def integration_key_for_secret(*, secret: str) -> IntegrationKey | None:
    """The live key whose secret this is, with its user; None for anything else.

    One indexed query, by the public prefix; the hashes are then compared in constant time, so
    the answer's timing says nothing about how much of a guess was right.
    """
    if not secret.startswith(SECRET_PREFIX) or secret[PREFIX_LENGTH : PREFIX_LENGTH + 1] != "_":
        return None  # not a key's shape: no query
    key = IntegrationKey.objects.select_related("user").filter(prefix=secret[:PREFIX_LENGTH]).first()
    if key is None or not hmac.compare_digest(key.secret_hash, secret_hash(secret)):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    return key
