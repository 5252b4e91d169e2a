"""Sampling the world from the seed: cleaners, clients, properties and jobs. Numpy only, no database."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from app.marketplace.geo import KM_PER_DEG_LAT
from app.marketplace.models import PROPERTY_TYPES, SERVICE_TYPES
from app.synthetic.generator.params import (
    BUDGET_LOG_SD,
    CITY_HALF_SIDE_KM,
    CITY_LAT,
    CITY_LNG,
    CLIENT_ACTIVITY_LOG_SD,
    DROP_A_WEEKDAY_SHARE,
    DURATION_LOG_SD,
    DURATION_RANGE,
    EXPERIENCE_CAP_YEARS,
    EXTRA_PROPERTIES_MEAN,
    EXTRA_SERVICES_RANGE,
    HISTORY_DAYS,
    HOME_SERVICE_WEIGHTS,
    HOURLY_RATE_RANGE,
    HOURS_PER_KSQFT,
    IN_HOURS_SHARE,
    LONG_DAY_SHARE,
    MAX_YEARS,
    OFFICE_SERVICE_WEIGHTS,
    OPEN_HORIZON_DAYS,
    OPEN_SHARE,
    PETS_SHARE,
    PICKINESS_SD,
    PRICE_SENSITIVITY_RANGE,
    PROPERTY_SIZES,
    PROPERTY_TYPE_WEIGHTS,
    RADIUS_KM_RANGE,
    RATE_BASE,
    RATE_NOISE_SD,
    RATE_PER_QUALITY,
    RATE_PER_YEAR,
    SATURDAY_SHARE,
    SQFT_PER_BEDROOM,
    SUNDAY_SHARE,
    TASTE_DIMS,
    TYPICAL_RATE_RANGE,
    VERIFIED_SHARE,
    WEEKDAYS_MASK,
    WEEKEND_SHARE,
    YEARS_GAMMA_SCALE,
    YEARS_GAMMA_SHAPE,
)
from app.synthetic.generator.world import Cleaners, Clients, Jobs, Properties, World


def sample_world(
    people_rng: np.random.Generator,
    jobs_rng: np.random.Generator,
    *,
    jobs: int,
    cleaners: int,
    clients: int,
    reference_day: datetime,
) -> World:
    """Draw the people and their properties from one stream and the jobs from another."""
    # The order of the draws from `people_rng` is part of the output: cleaners, clients, properties.
    cleaner_data = _sample_cleaners(people_rng, cleaners)
    client_data = _sample_clients(people_rng, clients)
    property_data = _sample_properties(people_rng, client_data)
    job_data = _sample_jobs(jobs_rng, property_data, client_data, cleaner_data, jobs, reference_day)
    return World(cleaner_data, client_data, property_data, job_data, reference_day)


def _city_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x_km, y_km = rng.uniform(-CITY_HALF_SIDE_KM, CITY_HALF_SIDE_KM, size=(2, n))
    lat = CITY_LAT + y_km / KM_PER_DEG_LAT
    lng = CITY_LNG + x_km / (KM_PER_DEG_LAT * np.cos(np.radians(CITY_LAT)))
    return np.round(lat, 6), np.round(lng, 6)


def _taste(rng: np.random.Generator, n: int) -> np.ndarray:
    # Components N(0, 1/TASTE_DIMS): each taste vector has unit expected squared length.
    return rng.normal(0.0, 1.0, size=(n, TASTE_DIMS)) / np.sqrt(TASTE_DIMS)


def _sample_cleaners(rng: np.random.Generator, n: int) -> Cleaners:
    lat, lng = _city_points(rng, n)
    quality = rng.normal(0.0, 1.0, n)
    years = np.clip(np.round(rng.gamma(YEARS_GAMMA_SHAPE, YEARS_GAMMA_SCALE, n)), 0, MAX_YEARS).astype(int)
    rate = (
        RATE_BASE
        + RATE_PER_QUALITY * quality
        + RATE_PER_YEAR * np.minimum(years, EXPERIENCE_CAP_YEARS)
        + rng.normal(0.0, RATE_NOISE_SD, n)
    )
    services, specialties = _sample_service_masks(rng, n)
    long_day = rng.random(n) < LONG_DAY_SHARE
    return Cleaners(
        lat=lat,
        lng=lng,
        radius=np.round(rng.uniform(*RADIUS_KM_RANGE, n), 1),
        rate=np.clip(np.round(rate * 2) / 2, *HOURLY_RATE_RANGE),
        years=years,
        services=services,
        specialties=specialties,
        days=_sample_days_masks(rng, n),
        day_start=np.where(long_day, 7, 8),
        day_end=np.where(long_day, 20, 18),
        verified=rng.random(n) < VERIFIED_SHARE,
        quality=quality,
        taste=_taste(rng, n),
    )


def _sample_service_masks(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    others = np.arange(1, len(SERVICE_TYPES))  # SERVICE_TYPES[0] is "standard", offered by all
    services, specialties = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i in range(n):
        extra = rng.choice(
            others, size=rng.integers(EXTRA_SERVICES_RANGE[0], EXTRA_SERVICES_RANGE[1] + 1), replace=False
        )
        offered = np.concatenate(([0], extra))
        special = rng.choice(offered, size=rng.integers(1, 3), replace=False)
        services[i] = np.sum(1 << offered)
        specialties[i] = np.sum(1 << special)
    return services, specialties


def _sample_days_masks(rng: np.random.Generator, n: int) -> np.ndarray:
    days = np.full(n, WEEKDAYS_MASK, dtype=np.int64)
    dropped_day = rng.integers(0, 5, n)
    drop = rng.random(n) < DROP_A_WEEKDAY_SHARE
    days[drop] &= ~(1 << dropped_day[drop])
    days |= np.where(rng.random(n) < SATURDAY_SHARE, 1 << 5, 0)
    days |= np.where(rng.random(n) < SUNDAY_SHARE, 1 << 6, 0)
    return days


def _sample_clients(rng: np.random.Generator, n: int) -> Clients:
    return Clients(
        pickiness=rng.normal(0.0, PICKINESS_SD, n),
        price_sensitivity=rng.uniform(*PRICE_SENSITIVITY_RANGE, n),
        taste=_taste(rng, n),
        activity=rng.lognormal(0.0, CLIENT_ACTIVITY_LOG_SD, n),
    )


def _sample_properties(rng: np.random.Generator, clients: Clients) -> Properties:
    per_client = 1 + rng.poisson(EXTRA_PROPERTIES_MEAN, len(clients.activity))
    owner = np.repeat(np.arange(len(per_client)), per_client)
    n = len(owner)
    kind = rng.choice(len(PROPERTY_TYPES), size=n, p=PROPERTY_TYPE_WEIGHTS)
    median = np.array([PROPERTY_SIZES[PROPERTY_TYPES[k]][0] for k in kind])
    log_sd = np.array([PROPERTY_SIZES[PROPERTY_TYPES[k]][1] for k in kind])
    size = np.clip(np.round(median * np.exp(rng.normal(0.0, 1.0, n) * log_sd), -1), 300, 9000).astype(int)
    is_office = kind == PROPERTY_TYPES.index("office")
    bedrooms = np.where(
        is_office, 0, np.clip(np.round(size / SQFT_PER_BEDROOM + rng.normal(0.0, 0.5, n)), 1, 6)
    ).astype(int)
    bathrooms = np.clip(np.round(np.maximum(bedrooms, 1) * 0.6 + rng.normal(0.2, 0.4, n)), 1, 5).astype(int)
    pets = ~is_office & (rng.random(n) < PETS_SHARE)
    lat, lng = _city_points(rng, n)
    return Properties(owner, kind, size, bedrooms, bathrooms, pets, lat, lng)


def _sample_jobs(
    rng: np.random.Generator, props: Properties, clients: Clients, cleaners: Cleaners, n: int, reference_day: datetime
) -> Jobs:
    # Active clients book more; each of their properties equally often.
    weight = clients.activity[props.owner] / np.bincount(props.owner)[props.owner]
    prop = rng.choice(len(props.owner), size=n, p=weight / weight.sum())
    service = _sample_services(rng, props.kind[prop] == PROPERTY_TYPES.index("office"))
    # A service nobody offers (possible with very few cleaners) becomes a standard cleaning.
    offered_anywhere = np.bitwise_or.reduce(cleaners.services)
    service[(offered_anywhere >> service) & 1 == 0] = 0
    factor = np.array([HOURS_PER_KSQFT[SERVICE_TYPES[s]] for s in service])
    hours = 1.0 + factor * props.size[prop] / 1000.0 * rng.lognormal(0.0, DURATION_LOG_SD, n)
    duration = np.clip(np.round(hours * 2) / 2, *DURATION_RANGE)
    budget = rng.uniform(*TYPICAL_RATE_RANGE, n) * duration * rng.lognormal(0.0, BUDGET_LOG_SD, n)
    is_open = np.arange(n) >= n - int(round(n * OPEN_SHARE))
    day = _sample_days(rng, is_open, reference_day)
    start_slot = _sample_start_slots(rng, duration)
    order = np.lexsort((start_slot, day))
    return Jobs(
        prop=prop[order],
        service=service[order],
        duration=duration[order],
        budget=np.round(budget[order], 2),
        day=day[order],
        start_slot=start_slot[order],
        is_open=is_open[order],
    )


def _sample_services(rng: np.random.Generator, is_office: np.ndarray) -> np.ndarray:
    def draw(weights: dict[str, float], size: int) -> np.ndarray:
        index = np.array([SERVICE_TYPES.index(name) for name in weights])
        return index[rng.choice(len(index), size=size, p=np.array(list(weights.values())))]

    service = draw(HOME_SERVICE_WEIGHTS, len(is_office))
    service[is_office] = draw(OFFICE_SERVICE_WEIGHTS, int(is_office.sum()))
    return service


def _sample_days(rng: np.random.Generator, is_open: np.ndarray, reference_day: datetime) -> np.ndarray:
    """Days after the reference day: past jobs in the year before it, open jobs in the month after."""
    n = len(is_open)
    weekend = rng.random(n) < WEEKEND_SHARE
    day = np.zeros(n, dtype=np.int64)
    windows = ((np.arange(-HISTORY_DAYS, 0), ~is_open), (np.arange(1, OPEN_HORIZON_DAYS + 1), is_open))
    for window, in_window in windows:
        window_is_weekend = (reference_day.weekday() + window) % 7 >= 5
        for wanted in (False, True):
            pool = window[window_is_weekend == wanted]
            chosen = in_window & (weekend == wanted)
            day[chosen] = pool[rng.integers(0, len(pool), int(chosen.sum()))]
    return day


def _sample_start_slots(rng: np.random.Generator, duration: np.ndarray) -> np.ndarray:
    in_hours = rng.random(len(duration)) < IN_HOURS_SHARE
    first = np.where(in_hours, 16, 14)  # 8:00 or 7:00, in half hours
    last = np.where(in_hours, 36, 40) - (duration * 2).astype(int)  # so as to end by 18:00 or 20:00
    return rng.integers(first, last + 1)
