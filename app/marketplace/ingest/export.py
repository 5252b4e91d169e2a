"""Rows out in the external representation: for the export command and the sync API's GET."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Q

from app.marketplace.ingest.apply import ENTITIES


# Rows kept as history after a person was deleted (forget.py): not part of the marketplace's
# data any more, so neither exported nor shown by the API's GET (an import could not take them:
# they name nobody).
def _history_job(prefix: str = "") -> Q:
    # A job without its client, or a finished one whose cleaner was deleted (the life cycle needs one).
    p = prefix
    no_cleaner = Q(**{f"{p}assigned_cleaner__isnull": True})
    return (
        Q(**{f"{p}client__isnull": True})
        | Q(**{f"{p}property__isnull": True})
        | (no_cleaner & (Q(**{f"{p}status": "completed"}) | Q(**{f"{p}cancelled_by_cleaner": True})))
    )


HISTORY_ONLY = {
    "job": _history_job(),
    "bid": Q(cleaner__isnull=True) | _history_job("job__"),
    "review": Q(cleaner__isnull=True) | Q(client__isnull=True) | _history_job("job__"),
}


def entity_export(entity_type: str, *, external_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of `entity_type` (or those of `external_ids`) as `ingest_apply` takes it, in id order.

    Streams, a few thousand rows at a time. Importing what this yields into an empty database
    gives the same marketplace.
    """
    entity = ENTITIES[entity_type]
    queryset = entity.queryset()
    if entity_type in HISTORY_ONLY:
        queryset = queryset.exclude(HISTORY_ONLY[entity_type])
    if external_ids is not None:
        queryset = queryset.filter(external_id__in=external_ids)
    return entity.export(queryset)


def entity_get(entity_type: str, external_id: str) -> dict[str, Any] | None:
    """One entity in the external representation, or None when there is none by that id."""
    return next(entity_export(entity_type, external_ids=[external_id]), None)
