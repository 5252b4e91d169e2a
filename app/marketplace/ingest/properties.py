"""A property as the marketplace sends it.

    {"external_id": "property-1", "client": "client-1", "property_type": "apartment",
     "address": "1 Main St", "size_sqft": 900, "bedrooms": 2, "bathrooms": 1,
     "has_pets": false, "lat": 40.73, "lng": -73.99}

Required: client (its owner), property_type (PROPERTY_TYPES), size_sqft, lat, lng.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from app.marketplace.ingest.entity import Entity, Known, Pending, Stored
from app.marketplace.ingest.fields import Boolean, Choice, Integer, Number, Ref, Text
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.sql import OneOf, rows_upsert
from app.marketplace.models import PROPERTY_TYPES, Property

# External fields and the columns holding them (the client is the owner_id).
PLAIN = ("property_type", "address", "size_sqft", "bedrooms", "bathrooms", "has_pets", "lat", "lng")


class Properties(Entity):
    type = "property"
    model = Property
    fields = {
        "client": Ref("client"),
        "property_type": Choice(PROPERTY_TYPES),
        "address": Text(255),
        "size_sqft": Integer(1, 10_000_000),
        "bedrooms": Integer(0, 100, default=1),
        "bathrooms": Integer(0, 100, default=1),
        "has_pets": Boolean(default=False),
        "lat": Number(-90, 90),
        "lng": Number(-180, 180),
    }

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        for pk, external_id, client, *plain in queryset.values_list("pk", "external_id", "owner__external_id", *PLAIN):
            values = {"client": client, **dict(zip(PLAIN, plain, strict=True))}
            yield external_id, Stored(pk, values)

    def lookup(self, external_ids: list[str]) -> dict[str, Known]:
        rows = Property.objects.filter(OneOf("external_id", external_ids)).values_list("external_id", "pk", "owner_id")
        return {eid: Known(pk, client=owner) for eid, pk, owner in rows}

    def known(self, pending: Pending) -> Known:
        return Known(pending.pk, client=pending.refs["client"].pk)

    def write(self, pending: list[Pending], changes: Changes) -> None:
        rows = [(p.external_id, p.refs["client"].pk, *(p.values[name] for name in PLAIN)) for p in pending]
        columns = ("owner_id", *PLAIN)
        ids = rows_upsert(Property, ("external_id", *columns), rows, key="external_id", update=columns)
        for p in pending:
            p.pk = ids[p.external_id]
            if p.stored is not None:
                changes.properties.add(p.pk)
