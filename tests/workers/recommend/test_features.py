"""Pair features and feature matrices (workers/recommend/features.py), on hand-built columns.

No database: the columns are the dicts of arrays the selectors and the data layer produce.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.marketplace.geo import KM_PER_DEG_LAT, distance_km
from app.marketplace.models import PROPERTY_TYPES, SERVICE_BIT, SERVICE_TYPES, services_to_mask
from workers.recommend.features import (
    CLEANER_FEATURES,
    CLIENT_FEATURES,
    JOB_COLUMNS,
    PAIR_FEATURES,
    broadcast_job,
    cleaner_feature_matrix,
    client_feature_matrix,
    pair_columns,
    pair_feature_matrix,
    popcount,
    take,
)

LAT, LNG = 40.72, -74.0
WEDNESDAY = 2

# A deep clean on a Wednesday, 9:00 to 12:00, of a large house.
JOB = {
    "job_id": 7,
    "client_id": 3,
    "lat": LAT,
    "lng": LNG,
    "service_idx": SERVICE_TYPES.index("deep"),
    "weekday": WEDNESDAY,
    "start_hour": 9.0,
    "end_hour": 12.0,
    "duration_hours": 3.0,
    "budget": 150.0,
    "property_type_idx": PROPERTY_TYPES.index("house"),
    "size_sqft": 3000.0,
    "bedrooms": 4.0,
    "bathrooms": 2.0,
    "has_pets": 1.0,
}


def _cleaners(*rows: dict) -> dict[str, np.ndarray]:
    """Columns of cleaners: each row overrides a cleaner who is near, offers the job's service and is free."""
    defaults = {
        "cleaner_id": 0,
        "home_lat": LAT,
        "home_lng": LNG,
        "service_radius_km": 10.0,
        "hourly_rate": 40.0,
        "years_experience": 5.0,
        "services_mask": services_to_mask(["standard", "deep"]),
        "specialties_mask": services_to_mask(["deep"]),
        "available_days_mask": 0b1111111,
        "day_start_hour": 8.0,
        "day_end_hour": 18.0,
        "verified": 1.0,
        "quality": 0.8,
        "reliability": 0.9,
        "review_count": 12.0,
    }
    full = [{**defaults, "cleaner_id": i + 1, **row} for i, row in enumerate(rows)]
    return {key: np.array([r[key] for r in full]) for key in defaults}


def _haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    radius = KM_PER_DEG_LAT * 180 / math.pi  # the sphere on which one degree of latitude is KM_PER_DEG_LAT
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


# Distance (app/marketplace/geo.py) ------------------------------------------------------------


def test_it_measures_a_degree_of_latitude_as_111_32_km() -> None:
    assert distance_km(np.float64(LAT), np.float64(LNG), np.float64(LAT + 1.0), np.float64(LNG)) == pytest.approx(
        111.32
    )
    assert distance_km(np.float64(LAT), np.float64(LNG), np.float64(LAT), np.float64(LNG)) == 0.0


def test_it_shrinks_a_degree_of_longitude_with_the_cosine_of_the_latitude() -> None:
    at_60 = distance_km(np.float64(60.0), np.float64(10.0), np.float64(60.0), np.float64(10.1))
    assert at_60 == pytest.approx(0.1 * 111.32 * 0.5, rel=1e-9)  # cos 60° = 1/2


def test_it_stays_within_a_metre_per_km_of_haversine_across_a_city() -> None:
    lat1 = np.array([40.70, 40.60, 40.75, 40.72])
    lng1 = np.array([-74.00, -74.10, -73.90, -74.00])
    lat2 = np.array([40.80, 40.85, 40.70, 40.72])
    lng2 = np.array([-73.90, -73.80, -74.05, -74.001])
    got = distance_km(lat1, lng1, lat2, lng2)
    want = np.array([_haversine_km(*args) for args in zip(lat1, lng1, lat2, lng2)])
    assert np.all(np.abs(got - want) <= 0.001 * want), (got, want)
    assert np.array_equal(got, distance_km(lat2, lng2, lat1, lng1)), "distance is symmetric"


# Bit masks -------------------------------------------------------------------------------------


def test_it_counts_the_services_in_a_mask() -> None:
    masks = np.array([0, SERVICE_BIT["deep"], services_to_mask(["standard", "office", "window"]), 0b1111111])
    counts = popcount(masks)
    assert counts.dtype == np.float32
    assert counts.tolist() == [0.0, 1.0, 3.0, 7.0]


def test_it_ignores_bits_beyond_the_known_services() -> None:
    assert popcount(np.array([1 << len(SERVICE_TYPES), (1 << len(SERVICE_TYPES)) | 0b11])).tolist() == [0.0, 2.0]


# Pair columns ----------------------------------------------------------------------------------


def test_it_computes_the_pair_quantities_of_a_job_and_its_candidates() -> None:
    cleaners = _cleaners(
        {"years_experience": 2.0},  # here, a specialist, but junior for a large house
        {
            "home_lat": LAT + 0.09,
            "service_radius_km": 5.0,
            "hourly_rate": 50.0,  # 10 km north, 5 km radius
            "services_mask": SERVICE_BIT["standard"],
            "specialties_mask": 0,
        },
    )

    pair = pair_columns(broadcast_job(JOB, 2), cleaners)

    assert set(pair) == set(PAIR_FEATURES)
    assert pair["distance_km"] == pytest.approx([0.0, 0.09 * 111.32])
    assert pair["distance_over_radius"] == pytest.approx([0.0, 0.09 * 111.32 / 5.0])
    assert pair["offers_service"].tolist() == [1.0, 0.0]
    assert pair["specialty_match"].tolist() == [1.0, 0.0]
    assert pair["price_ratio"] == pytest.approx([40 * 3 / 150, 50 * 3 / 150])
    assert pair["available"].tolist() == [1.0, 1.0]
    assert pair["large_and_junior"].tolist() == [1.0, 0.0]


def test_it_is_available_only_on_a_working_day_within_the_working_hours() -> None:
    cleaners = _cleaners(
        {"day_start_hour": 9.0, "day_end_hour": 12.0},  # exactly the job's hours: available
        {"day_start_hour": 9.5},  # starts after the job does
        {"day_end_hour": 11.5},  # stops before it ends
        {"available_days_mask": 0b1111111 & ~(1 << WEDNESDAY)},  # every day but Wednesday
        {"available_days_mask": 1 << WEDNESDAY},  # Wednesdays only
    )

    pair = pair_columns(broadcast_job(JOB, 5), cleaners)

    assert pair["available"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_it_keeps_the_ratios_finite_for_a_zero_radius_or_budget() -> None:
    job = {**JOB, "budget": 0.0}
    cleaners = _cleaners({"home_lat": LAT + 0.01, "service_radius_km": 0.0})

    pair = pair_columns(broadcast_job(job, 1), cleaners)

    assert pair["distance_over_radius"] == pytest.approx([0.01 * 111.32 / 0.1])  # the radius counts as 100 m
    assert pair["price_ratio"] == pytest.approx([40.0 * 3])  # the budget counts as 1


# Feature matrices ------------------------------------------------------------------------------


def test_it_builds_the_client_side_in_the_order_of_client_features() -> None:
    weekend = {
        **JOB,
        "weekday": 5,
        "service_idx": SERVICE_TYPES.index("window"),
        "property_type_idx": PROPERTY_TYPES.index("office"),
        "duration_hours": 0.0,
        "budget": 80.0,
    }
    columns = {key: np.array([JOB[key], weekend[key]], dtype=np.float64) for key in JOB_COLUMNS}

    m = client_feature_matrix(columns)

    assert m.shape == (2, len(CLIENT_FEATURES)) and m.dtype == np.float32
    row = {name: m[0, i] for i, name in enumerate(CLIENT_FEATURES)}
    assert [name for name in CLIENT_FEATURES if name.startswith(("service_", "property_")) and row[name]] == [
        "service_deep",
        "property_house",
    ]
    assert row["log_budget"] == pytest.approx(math.log1p(150))
    assert row["budget_per_hour"] == pytest.approx(50.0)
    assert row["size_ksqft"] == pytest.approx(3.0)
    assert (row["duration_hours"], row["bedrooms"], row["bathrooms"], row["has_pets"]) == (3.0, 4.0, 2.0, 1.0)
    assert (row["start_hour"], row["weekend"]) == (9.0, 0.0)
    other = {name: m[1, i] for i, name in enumerate(CLIENT_FEATURES)}
    assert other["service_window"] == 1.0 and other["property_office"] == 1.0 and other["service_deep"] == 0.0
    assert other["weekend"] == 1.0
    assert other["budget_per_hour"] == pytest.approx(80.0 / 0.25)  # no duration: counted as a quarter hour


def test_it_builds_the_cleaner_side_in_the_order_of_cleaner_features() -> None:
    cleaners = _cleaners(
        {
            "hourly_rate": 35.0,
            "years_experience": 6.0,
            "verified": 0.0,
            "service_radius_km": 12.0,
            "services_mask": services_to_mask(["standard", "deep", "office"]),
            "specialties_mask": 0,
        },
    )

    m = cleaner_feature_matrix(cleaners)

    assert m.dtype == np.float32
    assert dict(zip(CLEANER_FEATURES, m[0].tolist(), strict=True)) == {
        "hourly_rate": 35.0,
        "years_experience": 6.0,
        "verified": 0.0,
        "service_radius_km": 12.0,
        "n_services": 3.0,
        "n_specialties": 0.0,
    }


def test_it_builds_the_pair_side_in_the_order_of_pair_features() -> None:
    pair = {name: np.array([float(i), 10.0 + i]) for i, name in enumerate(reversed(PAIR_FEATURES))}

    m = pair_feature_matrix(pair)

    assert m.dtype == np.float32 and m.shape == (2, len(PAIR_FEATURES))
    assert m[0].tolist() == [pair[name][0] for name in PAIR_FEATURES]  # by name, not by the dict's order


# Broadcasting and taking rows ----------------------------------------------------------------


def test_it_repeats_one_jobs_columns_for_each_candidate() -> None:
    columns = broadcast_job(JOB, 3)

    assert set(columns) == set(JOB_COLUMNS)
    assert all(len(v) == 3 and np.all(v == JOB[k]) for k, v in columns.items())


def test_it_takes_the_same_rows_of_every_column() -> None:
    cleaners = _cleaners({"hourly_rate": 30.0}, {"hourly_rate": 31.0}, {"hourly_rate": 32.0})

    picked = take(cleaners, np.array([2, 0, 2]))

    assert set(picked) == set(cleaners)
    assert picked["cleaner_id"].tolist() == [3, 1, 3]
    assert picked["hourly_rate"].tolist() == [32.0, 30.0, 32.0]
