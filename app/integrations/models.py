"""An integration key: a server-to-server credential for the marketplace's backend.

The secret (`rsk_<8 hex>_<43 random characters>`, 256 random bits) is shown once, when the key
is made, and stored only as its SHA-256: a secret that random needs no slow hash, since
nobody can guess one to test against it. Its first 12 characters, the `prefix`, are public:
they find the row and tell keys apart on a list.

Each key has its own user, of role `integration`: the principal the rest of the code sees
(requests are `requested_by` it, throttles count it, webhooks belong to it). Revoking a key
deactivates that user too, so nothing it could hold outlives the key.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

SECRET_PREFIX = "rsk_"
PREFIX_LENGTH = len(SECRET_PREFIX) + 8  # "rsk_" and 8 hex digits


def secret_generate() -> str:
    """A new secret; its first PREFIX_LENGTH characters are its public prefix."""
    return f"{SECRET_PREFIX}{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class IntegrationKey(models.Model):
    name = models.CharField(max_length=100, help_text="What this key is for, e.g. the marketplace's sync job.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integration_key", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Updated at most once a minute per key (services.LAST_USED_RESOLUTION), not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…{', revoked' if self.revoked_at else ''})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
