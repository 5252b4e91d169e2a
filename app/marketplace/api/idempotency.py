"""Idempotency-Key for the batch endpoint: a retried call answers exactly as the first did.

The record (owner, key) is inserted in the transaction that applies the batch, so the
unique constraint does the locking: a concurrent retry's INSERT waits on the first one's row
until it commits, then finds it and answers its stored response; a retry after a failure
(rolled back) finds nothing and applies the batch. Records expire after `TTL`: an expired
record is deleted by its owner's next call with any key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from app.api.errors import Refused
from app.marketplace.models import IdempotencyRecord

TTL = timedelta(hours=24)
KEY_MAX_LENGTH = 255


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def idempotent_call(*, owner_id: int, key: str, body: Any, call: Callable[[], tuple[int, str]]) -> tuple[int, str]:
    """`call()` -> (status, the response's text) once per (owner, key); later the same answer again.

    The same key with another body is a 422 that says so: a key names one request.
    """
    if not key or len(key) > KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise Refused(
            400,
            f"Idempotency-Key: 1 to {KEY_MAX_LENGTH} printable ASCII characters.",
            [{"field": "Idempotency-Key", "message": "1 to 255 printable ASCII characters"}],
        )
    digest = body_hash(body)
    with transaction.atomic():
        # The owner's expired records go whenever it makes a call with a key: the table holds a
        # day of each key's calls at most (an indexed range on the owner's own rows).
        IdempotencyRecord.objects.filter(owner_id=owner_id, created_at__lt=timezone.now() - TTL).delete()
        record, created = IdempotencyRecord.objects.get_or_create(
            owner_id=owner_id, key=key, defaults={"body_hash": digest}
        )
        if not created:
            if record.body_hash != digest:
                raise Refused(
                    422,
                    "This Idempotency-Key was used with a different body; use a new key for a new request.",
                    [{"field": "Idempotency-Key", "message": "used before with a different body"}],
                )
            return record.status_code, record.response
        status, response = call()
        record.status_code, record.response = status, response
        record.save(update_fields=["status_code", "response"])
        return status, response
