"""Small builders for marketplace rows; each returns saved objects with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.marketplace.models import (
    Bid,
    CleanerProfile,
    CleaningJob,
    ClientProfile,
    Property,
    Review,
    services_to_mask,
)

_seq = itertools.count(1)
CITY = (40.72, -74.0)


def user(role: str = User.Role.CLIENT, **kwargs) -> User:
    n = next(_seq)
    u = User.objects.create_user(username=kwargs.pop("username", f"{role}{n}"), password="pw", role=role, **kwargs)
    Token.objects.create(user=u)
    return u


def operator() -> User:
    return user(User.Role.OPERATOR, is_staff=True)


def client() -> ClientProfile:
    return ClientProfile.objects.create(user=user(User.Role.CLIENT))


def cleaner(**kwargs) -> CleanerProfile:
    defaults = {
        "home_lat": CITY[0],
        "home_lng": CITY[1],
        "service_radius_km": 20,
        "hourly_rate": Decimal("35"),
        "years_experience": 5,
        "services_mask": services_to_mask(["standard", "deep"]),
        "specialties_mask": services_to_mask(["deep"]),
        "available_days_mask": 0b1111111,
        "day_start_hour": 7,
        "day_end_hour": 20,
        "verified": True,
    }
    defaults.update(kwargs)
    return CleanerProfile.objects.create(user=user(User.Role.CLEANER), **defaults)


def property_(owner: ClientProfile, **kwargs) -> Property:
    defaults = {
        "property_type": "apartment",
        "size_sqft": 900,
        "bedrooms": 2,
        "bathrooms": 1,
        "lat": CITY[0] + 0.01,
        "lng": CITY[1] + 0.01,
    }
    defaults.update(kwargs)
    return Property.objects.create(owner=owner, **defaults)


def next_weekday_at(hour: int, days_ahead: int = 7) -> datetime:
    day = (timezone.now() + timedelta(days=days_ahead)).replace(hour=hour, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def job(owner: ClientProfile | None = None, prop: Property | None = None, **kwargs) -> CleaningJob:
    owner = owner or client()
    prop = prop or property_(owner)
    start = kwargs.pop("scheduled_start", next_weekday_at(10))
    duration = Decimal(str(kwargs.pop("duration_hours", 3)))
    defaults = {
        "service_type": "standard",
        "budget": Decimal("150"),
        "status": CleaningJob.Status.OPEN_FOR_BIDS,
        "title": "Clean my place",
    }
    defaults.update(kwargs)
    return CleaningJob.objects.create(
        property=prop,
        client=owner,
        scheduled_start=start,
        duration_hours=duration,
        scheduled_end=start + timedelta(hours=float(duration)),
        **defaults,
    )


def completed_job(cleaner_: CleanerProfile, rating: int, owner: ClientProfile | None = None, **kwargs) -> CleaningJob:
    j = job(
        owner,
        status=CleaningJob.Status.COMPLETED,
        assigned_cleaner=cleaner_,
        scheduled_start=timezone.now() - timedelta(days=30),
        **kwargs,
    )
    Bid.objects.create(job=j, cleaner=cleaner_, amount=Decimal("120"), status=Bid.Status.ACCEPTED)
    Review.objects.create(job=j, cleaner=cleaner_, client=j.client, rating=rating)
    return j


def token(u: User) -> str:
    return Token.objects.get(user=u).key
