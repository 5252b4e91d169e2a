"""Rows out in the external representation: for the export command and the sync API's GET."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.marketplace.ingest.apply import ENTITIES


def entity_export(entity_type: str, *, external_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of `entity_type` (or those of `external_ids`) as `ingest_apply` takes it, in id order.

    Streams, a few thousand rows at a time. Importing what this yields into an empty database
    gives the same marketplace.
    """
    entity = ENTITIES[entity_type]
    queryset = entity.queryset()
    if external_ids is not None:
        queryset = queryset.filter(external_id__in=external_ids)
    return entity.export(queryset)


def entity_get(entity_type: str, external_id: str) -> dict[str, Any] | None:
    """One entity in the external representation, or None when there is none by that id."""
    return next(entity_export(entity_type, external_ids=[external_id]), None)
