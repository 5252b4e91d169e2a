"""External representations with sensible defaults, and a shorthand for one `ingest_apply` call."""

from __future__ import annotations

from typing import Any

from app.marketplace.ingest import Item, ItemOutcome, ingest_apply


def cleaner(external_id: str = "c-1", **fields: Any) -> Item:
    data = {
        "name": "Ana Lima",
        "email": "ana@example.com",
        "home_lat": 40.72,
        "home_lng": -74.0,
        "service_radius_km": 20,
        "hourly_rate": 35,
        "years_experience": 5,
        "services": ["standard", "deep"],
        "specialties": ["deep"],
        "available_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "day_start_hour": 7,
        "day_end_hour": 20,
        "verified": True,
        "is_active": True,
    }
    return Item("cleaner", external_id, {**data, **fields})


def client(external_id: str = "cl-1", **fields: Any) -> Item:
    return Item("client", external_id, {"name": "Bo Chen", "email": "bo@example.com", "phone": "555", **fields})


def property_(external_id: str = "p-1", client: str = "cl-1", **fields: Any) -> Item:
    data = {"client": client, "property_type": "apartment", "size_sqft": 900, "lat": 40.73, "lng": -73.99}
    return Item("property", external_id, {**data, **fields})


def job(external_id: str = "j-1", client: str = "cl-1", property: str = "p-1", **fields: Any) -> Item:
    data = {
        "client": client,
        "property": property,
        "title": "Clean my place",
        "service_type": "standard",
        "scheduled_start": "2030-01-07T10:00:00Z",
        "duration_hours": 3,
        "budget": 150,
        "status": "open_for_bids",
    }
    return Item("job", external_id, {**data, **fields})


def bid(external_id: str = "b-1", job: str = "j-1", cleaner: str = "c-1", **fields: Any) -> Item:
    return Item("bid", external_id, {"job": job, "cleaner": cleaner, "amount": 120, "message": "Hi", **fields})


def review(external_id: str = "r-1", job: str = "j-1", cleaner: str = "c-1", **fields: Any) -> Item:
    return Item("review", external_id, {"job": job, "cleaner": cleaner, "rating": 9, "comment": "Good", **fields})


def patch(item_type: str, external_id: str, **fields: Any) -> Item:
    return Item(item_type, external_id, fields, partial=True)


def delete(item_type: str, external_id: str) -> Item:
    return Item(item_type, external_id, op="delete")


def world() -> list[Item]:
    """A cleaner, a client with a property, a completed job with its accepted bid and review."""
    return [
        cleaner(),
        client(),
        property_(),
        job(status="completed", assigned_cleaner="c-1", scheduled_start="2026-01-05T10:00:00Z"),
        bid(status="accepted"),
        review(),
    ]


def statuses(outcomes: list[ItemOutcome]) -> list[str]:
    return [str(o.status) for o in outcomes]


def apply(*items: Item, **options: Any) -> list[ItemOutcome]:
    return ingest_apply(list(items), **options)


def one(item: Item) -> ItemOutcome:
    (outcome,) = ingest_apply([item])
    return outcome
