"""A cleaner as the marketplace sends it.

    {"external_id": "cleaner-1", "name": "Ana Lima", "email": "ana@example.com",
     "home_lat": 40.72, "home_lng": -73.99, "service_radius_km": 15, "hourly_rate": 35.5,
     "years_experience": 4, "services": ["standard", "deep"], "specialties": ["deep"],
     "available_days": ["mon", "tue", "wed"], "day_start_hour": 8, "day_end_hour": 18,
     "verified": true, "is_active": true}

Required: home_lat, home_lng, hourly_rate. Hours are in the marketplace's UTC day; `services`
and `specialties` name SERVICE_TYPES, `available_days` WEEKDAYS (models.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from app.marketplace.ingest.entity import Pending, Stored
from app.marketplace.ingest.fields import Boolean, Integer, NameSet, Number, PositiveDecimal
from app.marketplace.ingest.freshness import Changes
from app.marketplace.ingest.outcomes import FieldError
from app.marketplace.ingest.people import PERSON_FIELDS, USER_COLUMNS, PersonEntity, person_values
from app.marketplace.ingest.sql import rows_upsert
from app.marketplace.models import SERVICE_TYPES, WEEKDAYS, CleanerProfile

COLUMNS = (
    "home_lat",
    "home_lng",
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services_mask",
    "specialties_mask",
    "available_days_mask",
    "day_start_hour",
    "day_end_hour",
    "verified",
    "is_active",
)
# The external field each column holds, in the same order.
FIELDS_OF_COLUMNS = (
    "home_lat",
    "home_lng",
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services",
    "specialties",
    "available_days",
    "day_start_hour",
    "day_end_hour",
    "verified",
    "is_active",
)


class Cleaners(PersonEntity):
    type = "cleaner"
    role = "cleaner"
    model = CleanerProfile
    fields = {
        **PERSON_FIELDS,
        "home_lat": Number(-90, 90),
        "home_lng": Number(-180, 180),
        "service_radius_km": Number(0, 1000, default=15.0),
        "hourly_rate": PositiveDecimal(Decimal("999999.99")),
        "years_experience": Integer(0, 80, default=0),
        "services": NameSet(SERVICE_TYPES),
        "specialties": NameSet(SERVICE_TYPES),
        "available_days": NameSet(WEEKDAYS, default=WEEKDAYS[:5]),
        "day_start_hour": Integer(0, 23, default=8),
        "day_end_hour": Integer(1, 24, default=18),
        "verified": Boolean(default=False),
        "is_active": Boolean(default=True),
    }

    def read(self, queryset: QuerySet) -> Iterator[tuple[str, Stored]]:
        for pk, external_id, user_id, username, first, last, email, *columns in queryset.values_list(
            "pk", "external_id", *USER_COLUMNS, *COLUMNS
        ):
            values: dict[str, Any] = person_values(first, last, email)
            values.update(zip(FIELDS_OF_COLUMNS, columns, strict=True))
            yield external_id, Stored(pk, values, (user_id, username))

    def check(self, values: dict[str, Any]) -> list[FieldError]:
        if values["day_start_hour"] >= values["day_end_hour"]:
            return [FieldError("day_end_hour", f"must be after day_start_hour ({values['day_start_hour']})")]
        return []

    def write(self, pending: list[Pending], changes: Changes) -> None:
        user_of = self.users_write(pending, changes)
        rows = [(p.external_id, user_of[p.index], *(p.values[name] for name in FIELDS_OF_COLUMNS)) for p in pending]
        ids = rows_upsert(
            CleanerProfile,
            ("external_id", "user_id", *COLUMNS),
            rows,
            key="external_id",
            update=COLUMNS,
            same={"created_at": timezone.now()},
        )
        for p in pending:
            p.pk = ids[p.external_id]
            changes.cleaner(p.pk)
