"""Features of (job, cleaner) pairs, computed column-wise with numpy.

One code path serves training (thousands of pairs from many jobs) and serving (one job against
its candidates): every function takes aligned per-pair columns, so a single job is simply
broadcast. Keeping both paths identical is what prevents train/serve skew.

Columns are plain `dict[str, np.ndarray]`:

- job side (`JOB_COLUMNS`): the job, its property and its client;
- cleaner side (`CLEANER_COLUMNS`): the profile and the `CleanerScore` aggregates.

No Django here: the selectors turn query rows into these columns.
"""

import numpy as np

from app.marketplace.geo import distance_km
from app.marketplace.models import PROPERTY_TYPES, SERVICE_TYPES

JOB_COLUMNS = (
    "job_id",
    "client_id",
    "lat",
    "lng",
    "service_idx",
    "weekday",
    "start_hour",
    "end_hour",
    "duration_hours",
    "budget",
    "property_type_idx",
    "size_sqft",
    "bedrooms",
    "bathrooms",
    "has_pets",
)
CLEANER_COLUMNS = (
    "cleaner_id",
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
    "quality",
    "reliability",
    "review_count",
)
# What the rule score reads of the cleaner side once the distances are known (candidate
# selection's): serving gathers these for every candidate, the rest (`CLEANER_COLUMNS`) only
# for the rows the model scores.
RULE_CLEANER_COLUMNS = (
    "cleaner_id",
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services_mask",
    "specialties_mask",
    "available_days_mask",
    "day_start_hour",
    "day_end_hour",
    "quality",
    "reliability",
)

# Feature names per side, stored in the model's metadata and checked when a model loads.
CLIENT_FEATURES = (
    *(f"service_{s}" for s in SERVICE_TYPES),
    *(f"property_{p}" for p in PROPERTY_TYPES),
    "log_budget",
    "duration_hours",
    "budget_per_hour",
    "size_ksqft",
    "bedrooms",
    "bathrooms",
    "has_pets",
    "start_hour",
    "weekend",
)
CLEANER_FEATURES = (
    "hourly_rate",
    "years_experience",
    "verified",
    "service_radius_km",
    "n_services",
    "n_specialties",
)
PAIR_FEATURES = (
    "distance_km",
    "distance_over_radius",
    "offers_service",
    "specialty_match",
    "price_ratio",
    "available",
    "large_and_junior",
)
FEATURE_SCHEMA = {"client": list(CLIENT_FEATURES), "cleaner": list(CLEANER_FEATURES), "pair": list(PAIR_FEATURES)}


def _bit_set(mask: np.ndarray, bit_index: np.ndarray) -> np.ndarray:
    return (mask.astype(np.int64, copy=False) >> bit_index.astype(np.int64)) & 1 == 1


def popcount(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.int64)
    return sum(((m >> i) & 1) for i in range(len(SERVICE_TYPES))).astype(np.float32)


def pair_columns(
    job: dict[str, np.ndarray], cleaner: dict[str, np.ndarray], distance: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Raw pair quantities: distance, service offer and specialty, price, availability.

    `distance`, when given, is the pairs' `distance_km` already computed (candidate selection's).
    """
    dist = (
        distance_km(job["lat"], job["lng"], cleaner["home_lat"], cleaner["home_lng"]) if distance is None else distance
    )
    radius = np.maximum(cleaner["service_radius_km"], 0.1)
    expected_cost = cleaner["hourly_rate"] * job["duration_hours"]
    available = (
        _bit_set(cleaner["available_days_mask"], job["weekday"])
        & (cleaner["day_start_hour"] <= job["start_hour"])
        & (cleaner["day_end_hour"] >= job["end_hour"])
    )
    return {
        "distance_km": dist,
        "distance_over_radius": dist / radius,
        "offers_service": _bit_set(cleaner["services_mask"], job["service_idx"]).astype(np.float32),
        "specialty_match": _bit_set(cleaner["specialties_mask"], job["service_idx"]).astype(np.float32),
        "price_ratio": expected_cost / np.maximum(job["budget"], 1.0),
        "available": available.astype(np.float32),
        "large_and_junior": ((job["size_sqft"] > 2500) & (cleaner["years_experience"] < 3)).astype(np.float32),
    }


def client_feature_matrix(job: dict[str, np.ndarray]) -> np.ndarray:
    n = len(job["job_id"])
    service = np.zeros((n, len(SERVICE_TYPES)), np.float32)
    service[np.arange(n), job["service_idx"].astype(np.int64)] = 1.0
    ptype = np.zeros((n, len(PROPERTY_TYPES)), np.float32)
    ptype[np.arange(n), job["property_type_idx"].astype(np.int64)] = 1.0
    duration = np.maximum(job["duration_hours"], 0.25)
    rest = np.column_stack(
        [
            np.log1p(job["budget"]),
            job["duration_hours"],
            job["budget"] / duration,
            job["size_sqft"] / 1000.0,
            job["bedrooms"],
            job["bathrooms"],
            job["has_pets"],
            job["start_hour"],
            (job["weekday"] >= 5).astype(np.float32),
        ]
    )
    return np.hstack([service, ptype, rest]).astype(np.float32)


def cleaner_feature_matrix(cleaner: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack(
        [
            cleaner["hourly_rate"],
            cleaner["years_experience"],
            cleaner["verified"],
            cleaner["service_radius_km"],
            popcount(cleaner["services_mask"]),
            popcount(cleaner["specialties_mask"]),
        ]
    ).astype(np.float32)


def pair_feature_matrix(pair: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([pair[name] for name in PAIR_FEATURES]).astype(np.float32)


def broadcast_job(job: dict[str, float], n: int) -> dict[str, np.ndarray]:
    """One job's scalar columns repeated for its n candidates: read-only views of one value each,
    no copy (arithmetic on them gives what full arrays would)."""
    return {key: np.broadcast_to(np.float64(job[key]), n) for key in JOB_COLUMNS}


def take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[index] for key, value in columns.items()}
