"""Writes of integration keys: create one (its secret shown once), revoke one, note its use."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from app.accounts.models import User
from app.integrations.models import PREFIX_LENGTH, IntegrationKey, secret_generate, secret_hash

# `last_used_at` is at most this stale: a request writes it only when it is older than this,
# so a busy key costs one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_PREFIX_ATTEMPTS = 5  # 8 hex digits: a collision is one in four billion, twice in a row never


def integration_key_create(
    *, name: str, created_by: User | None, key: IntegrationKey | None = None
) -> tuple[IntegrationKey, str]:
    """A new key and its own `integration` user; returns the key and its secret (shown once, never stored).

    `key`: an unsaved instance to fill and save (the admin's form gives one), else a new one.
    """
    key = key or IntegrationKey()
    key.name, key.created_by = name, created_by
    for _ in range(_PREFIX_ATTEMPTS - 1):
        try:
            return _issue(key)
        except IntegrityError:  # the prefix is taken: draw another secret
            key.pk = None
    return _issue(key)  # the last try: whatever fails now is not a collision to retry


def _issue(key: IntegrationKey) -> tuple[IntegrationKey, str]:
    secret = secret_generate()
    prefix = secret[:PREFIX_LENGTH]
    with transaction.atomic():
        user = User(username=f"integration-{prefix}", role=User.Role.INTEGRATION)
        user.set_unusable_password()  # no login, no token: the key is its only credential
        user.save()
        key.prefix, key.secret_hash, key.user = prefix, secret_hash(secret), user
        key.save()
    return key, secret


def integration_key_revoke(*, key: IntegrationKey) -> IntegrationKey:
    """Revoke `key` for good: refused from the next request on. Revoking a revoked key changes nothing."""
    with transaction.atomic():
        IntegrationKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        user = User.objects.select_for_update().get(pk=key.user_id)
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])  # a save: its signal drops any cached token of this user
    key.refresh_from_db()
    return key


def integration_key_touch(*, key: IntegrationKey) -> None:
    """Note that `key` was used now, unless that was noted less than LAST_USED_RESOLUTION ago."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    IntegrationKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
