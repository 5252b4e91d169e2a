"""The scaling step's extra rows, in bulk: more active cleaners, and open jobs on new properties.

Runs in the scaling probe's process (Django set up). `bulk_create` in batches works on both
backends; the change-log triggers see the writes, and each helper also asks the workers' cleaner
tables for a full load (one is cheaper than catching up on thousands of rows).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np

from app.accounts.models import User
from app.marketplace.models import PROPERTY_TYPES, SERVICE_TYPES, CleanerProfile, CleaningJob, ClientProfile, Property
from app.recommendations.cleaner_changes import cleaner_tables_reload
from app.synthetic.generator.params import CITY_HALF_SIDE_KM, CITY_LAT, CITY_LNG

BATCH = 5000
_CLEANER_COPIED = (
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services_mask",
    "specialties_mask",
    "available_days_mask",
    "day_start_hour",
    "day_end_hour",
    "verified",
)


def _city_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    half_lat = CITY_HALF_SIDE_KM / 111.0
    half_lng = CITY_HALF_SIDE_KM / (111.0 * np.cos(np.radians(CITY_LAT)))
    return CITY_LAT + rng.uniform(-half_lat, half_lat, n), CITY_LNG + rng.uniform(-half_lng, half_lng, n)


def active_cleaners_set(n: int) -> None:
    """Exactly `n` active cleaners: the first `n` by id (of the generated ones and the copies)."""
    ids = list(CleanerProfile.objects.order_by("pk").values_list("pk", flat=True))
    if len(ids) < n:
        raise ValueError(f"only {len(ids)} cleaners; add copies first")
    CleanerProfile.objects.filter(pk__lte=ids[n - 1]).exclude(is_active=True).update(is_active=True)
    CleanerProfile.objects.filter(pk__gt=ids[n - 1]).exclude(is_active=False).update(is_active=False)
    cleaner_tables_reload()


def cleaner_copies_add(total: int, *, seed: int = 1) -> None:
    """Add cleaners until there are `total`: copies of generated ones (rates, masks, hours) living elsewhere in the city."""
    rng = np.random.default_rng(seed)
    existing = list(CleanerProfile.objects.order_by("pk").values_list(*_CLEANER_COPIED))
    start = CleanerProfile.objects.count()
    for first in range(start, total, BATCH):
        count = min(BATCH, total - first)
        users = User.objects.bulk_create(
            [User(username=f"scaling-cleaner-{first + i}", role=User.Role.CLEANER) for i in range(count)]
        )
        lat, lng = _city_points(rng, count)
        models = rng.integers(0, len(existing), count)
        CleanerProfile.objects.bulk_create(
            [
                CleanerProfile(user=u, home_lat=lat[i], home_lng=lng[i], **dict(zip(_CLEANER_COPIED, existing[m])))
                for i, (u, m) in enumerate(zip(users, models.tolist(), strict=True))
            ]
        )
    cleaner_tables_reload()


def open_jobs_add(total: int, *, seed: int = 2) -> None:
    """Add open jobs until `total` are open: two per new property, in the next 30 days, 7-18 h UTC."""
    from django.utils import timezone

    rng = np.random.default_rng(seed)
    clients = list(ClientProfile.objects.order_by("pk").values_list("pk", flat=True))
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    missing = total - CleaningJob.objects.filter(status=CleaningJob.Status.OPEN_FOR_BIDS).count()
    for first in range(0, max(missing, 0), BATCH):
        count = min(BATCH, missing - first)
        n_props = (count + 1) // 2
        lat, lng = _city_points(rng, n_props)
        owners = rng.choice(clients, n_props).tolist()
        props = Property.objects.bulk_create(
            [
                Property(
                    owner_id=owners[i],
                    property_type=PROPERTY_TYPES[int(rng.integers(0, 3))],
                    size_sqft=int(rng.integers(500, 3000)),
                    lat=lat[i],
                    lng=lng[i],
                )
                for i in range(n_props)
            ]
        )
        jobs = []
        for i in range(count):
            prop = props[i // 2]
            start = today + timedelta(days=int(rng.integers(1, 31)), hours=int(rng.integers(7, 16)))
            hours = int(rng.integers(2, 5))
            jobs.append(
                CleaningJob(
                    property=prop,
                    client_id=prop.owner_id,
                    service_type=SERVICE_TYPES[int(rng.integers(0, 3))],
                    scheduled_start=start,
                    scheduled_end=start + timedelta(hours=hours),
                    duration_hours=Decimal(hours),
                    budget=Decimal(int(rng.integers(80, 300))),
                    status=CleaningJob.Status.OPEN_FOR_BIDS,
                )
            )
        CleaningJob.objects.bulk_create(jobs)
