"""A synthetic cleaning marketplace with a known hidden structure, for training and evaluation.

Every cleaner has a latent quality and a latent taste vector; every client has a pickiness, a
price sensitivity and a taste vector. None of these reach the marketplace tables. The expected
rating of a (job, cleaner) pair mixes them with observable pair features:

    e = 6.2 + 1.3 q + 0.9 specialty - 1.1 distance/radius + 0.35 min(years, 10)/10
        - 0.6 (size > 2500 sqft and years < 3) - pickiness + 0.6 dot(u, v) + 0.3 verified

clipped to [1, 10]. A review's rating is round(e + N(0, 0.9)) clipped to 1..10, and only
`ExpectedRating` keeps e, so that evaluation can measure the best R² any model could reach
(about 0.65) while training sees nothing but what a real marketplace would record.

Jobs are simulated in time order: nearby cleaners who offer the service bid, the client hires
the bidder with the best noisy utility (expected rating against price), and the job ends
completed with a review, cancelled, or still open for bids when it lies after the reference
date. Everything is drawn from one seed and dated from a fixed reference date, so the same
arguments give the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import QuerySet
from faker import Faker
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.marketplace.geo import KM_PER_DEG_LAT, distance_km
from app.marketplace.models import (
    PROPERTY_TYPES,
    SERVICE_TYPES,
    Bid,
    CleanerProfile,
    CleaningJob,
    ClientProfile,
    Property,
    Review,
)
from app.recommendations.cleaner_version import cleaners_changed
from app.recommendations.models import CleanerScore
from app.synthetic.models import ExpectedRating

# The default is fixed (not today) so that a seed always gives the same rows. It lies a little
# in the future of the project's start so that the open jobs after it are still in the future
# for `make run`; pass --reference-date to move the whole timeline.
DEFAULT_REFERENCE_DATE = datetime(2026, 12, 1, tzinfo=UTC)
HISTORY_DAYS = 365  # completed and cancelled jobs lie in the year before the reference date
OPEN_HORIZON_DAYS = 30  # open jobs lie in the 30 days after it

DEMO_PASSWORD = "demo"
OPERATOR_USERNAME = "operator"
BATCH_SIZE = 1000
PROGRESS_EVERY = 500  # jobs per simulated-and-inserted chunk, one progress line each

# The city: a square of about 40 x 40 km around lower Manhattan.
CITY_LAT, CITY_LNG = 40.72, -74.0
CITY_HALF_SIDE_KM = 20.0

# Cleaners.
RADIUS_KM_RANGE = (8.0, 25.0)
HOURLY_RATE_RANGE = (25.0, 60.0)
# Better and more experienced cleaners charge a little more, so price carries some signal:
# rate = 42 + 5 q + 0.5 min(years, 10) + N(0, 6), rounded to 50 cents and clipped to the range.
RATE_BASE, RATE_PER_QUALITY, RATE_PER_YEAR, RATE_NOISE_SD = 42.0, 5.0, 0.5, 6.0
YEARS_GAMMA_SHAPE, YEARS_GAMMA_SCALE = 1.6, 4.0  # mean about 6 years: many juniors
MAX_YEARS = 20
VERIFIED_SHARE = 0.6
EXTRA_SERVICES_RANGE = (2, 4)  # offered besides "standard", which everyone offers
WEEKDAYS_MASK = 0b0011111
DROP_A_WEEKDAY_SHARE = 0.15
SATURDAY_SHARE = 0.3
SUNDAY_SHARE = 0.12
LONG_DAY_SHARE = 0.25  # work 7-20 instead of 8-18

# Clients and properties.
EXTRA_PROPERTIES_MEAN = 0.7  # 1 + Poisson(0.7): about 1.7 properties per client
CLIENT_ACTIVITY_LOG_SD = 0.8  # some clients book much more often than others
PROPERTY_TYPE_WEIGHTS = (0.45, 0.28, 0.20, 0.07)
# Median size (sqft) and log-sd per property type.
PROPERTY_SIZES = {"apartment": (850, 0.35), "house": (2300, 0.35), "condo": (1100, 0.3), "office": (3000, 0.5)}
SQFT_PER_BEDROOM = 550
PETS_SHARE = 0.3

# Jobs. Offices mostly buy office cleaning; homes never do.
HOME_SERVICE_WEIGHTS = {
    "standard": 0.50,
    "deep": 0.20,
    "move_out": 0.10,
    "post_construction": 0.04,
    "carpet": 0.09,
    "window": 0.07,
}
OFFICE_SERVICE_WEIGHTS = {"office": 0.60, "standard": 0.10, "window": 0.15, "carpet": 0.15}
# Hours of work per 1000 sqft on top of one fixed hour; the total is clipped to 2-8 h.
HOURS_PER_KSQFT = {
    "standard": 1.2,
    "deep": 2.0,
    "move_out": 2.2,
    "post_construction": 2.6,
    "office": 1.0,
    "carpet": 1.0,
    "window": 0.8,
}
DURATION_RANGE = (2.0, 8.0)
DURATION_LOG_SD = 0.15
TYPICAL_RATE_RANGE = (30.0, 45.0)  # what a client expects to pay per hour, for the budget
BUDGET_LOG_SD = 0.2
OPEN_SHARE = 0.05
WEEKEND_SHARE = 0.12
IN_HOURS_SHARE = 0.85  # jobs inside 8-18; the rest anywhere inside 7-20

# Bidding: k = 2 + Poisson(2.5) bidders among the cleaners in range who offer the service.
BID_RANGE_FACTOR = 1.3  # cleaners bid up to 1.3 times their service radius
MIN_BIDS, EXTRA_BIDS_MEAN = 2, 2.5
SPECIALTY_BID_FACTOR = 1.5
UNAVAILABLE_BID_FACTOR = 0.3  # a cleaner rarely bids outside their working days and hours
BID_LOG_SD = 0.12

# Expected rating (see the module docstring); the weights are per unit of each term.
RATING_BASE = 6.2
RATING_QUALITY = 1.3
RATING_SPECIALTY = 0.9
RATING_DISTANCE = -1.1
RATING_EXPERIENCE = 0.35  # reached at EXPERIENCE_CAP_YEARS, linear before
EXPERIENCE_CAP_YEARS = 10
RATING_LARGE_JUNIOR = -0.6
LARGE_SQFT, JUNIOR_YEARS = 2500, 3
RATING_TASTE = 0.25
RATING_VERIFIED = 0.3
# With var(e) about 2 among hired pairs, this noise (plus rounding) puts the ceiling R² near 0.7.
RATING_NOISE_SD = 0.9
PICKINESS_SD = 0.2
PRICE_SENSITIVITY_RANGE = (0.3, 1.5)
TASTE_DIMS = 2

# Hiring: utility = (e + N(0, 0.6)) - s * 3 * (bid / budget - 1) + Gumbel(0, 0.5).
HIRE_RATING_NOISE_SD = 0.6
HIRE_PRICE_WEIGHT = 3.0
HIRE_GUMBEL_SCALE = 0.5
ON_TIME_LOGIT = 1.5  # P(on time) = sigmoid(1.5 + q)
CLIENT_CANCEL_SHARE = 0.025  # of past jobs, before anyone is hired
# P(the hired cleaner cancels) = sigmoid(-3.3 - 0.8 q): about 2.5 % of hires, more for weak cleaners.
CLEANER_CANCEL_LOGIT, CLEANER_CANCEL_QUALITY = -3.3, -0.8
BAD_RATING = 3  # a client may block a cleaner after a rating this low...
BLOCK_SHARE = 0.5  # ...half of them do, when that cleaner never bid for them again

BID_MESSAGES = (
    "",
    "Happy to help, I have done many of these.",
    "Available that day.",
    "I bring my own supplies.",
    "Eco-friendly products on request.",
    "Can start early if needed.",
)
REVIEW_COMMENTS = {
    "bad": ("Disappointing, several rooms were skipped.", "Not what we agreed on.", "Would not book again."),
    "fair": ("Decent job overall.", "Fine, a few spots missed.", "OK for the price."),
    "good": ("Spotless, thank you!", "Excellent and friendly.", "Great work, booking again."),
}


@dataclass(frozen=True)
class GenerationSummary:
    users: int
    properties: int
    jobs: int
    bids: int
    reviews: int
    blocked_pairs: int
    status_counts: dict[str, int]


@dataclass
class Cleaners:
    lat: np.ndarray
    lng: np.ndarray
    radius: np.ndarray
    rate: np.ndarray
    years: np.ndarray
    services: np.ndarray  # bit masks over SERVICE_TYPES
    specialties: np.ndarray
    days: np.ndarray  # bit mask over weekdays, Monday = bit 0
    day_start: np.ndarray
    day_end: np.ndarray
    verified: np.ndarray
    quality: np.ndarray  # latent
    taste: np.ndarray  # latent, shape (n, TASTE_DIMS)


@dataclass
class Clients:
    pickiness: np.ndarray  # latent
    price_sensitivity: np.ndarray  # latent
    taste: np.ndarray  # latent, shape (n, TASTE_DIMS)
    activity: np.ndarray  # relative booking frequency


@dataclass
class Properties:
    owner: np.ndarray  # client index
    kind: np.ndarray  # index into PROPERTY_TYPES
    size: np.ndarray
    bedrooms: np.ndarray
    bathrooms: np.ndarray
    pets: np.ndarray
    lat: np.ndarray
    lng: np.ndarray


@dataclass
class Jobs:
    """Sorted by start time, so that database ids follow time."""

    prop: np.ndarray  # property index
    service: np.ndarray  # index into SERVICE_TYPES
    duration: np.ndarray  # hours, a multiple of 0.5
    budget: np.ndarray
    day: np.ndarray  # days after the reference day, negative in the past
    start_slot: np.ndarray  # half hours after midnight UTC
    is_open: np.ndarray


@dataclass
class World:
    cleaners: Cleaners
    clients: Clients
    properties: Properties
    jobs: Jobs
    reference_day: datetime
    # Per cleaner, when their last completed job ends (minutes after the reference day): a
    # cleaner never bids on a job that starts before that, so nobody is double-booked.
    busy_until: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.busy_until = np.full(len(self.cleaners.quality), -np.inf)


@dataclass
class Outcome:
    status: str
    bidders: np.ndarray  # cleaner indexes
    amounts: np.ndarray
    winner: int = -1  # the hired cleaner's index, -1 if nobody was hired
    cancelled_by_cleaner: bool = False
    rating: int = 0
    on_time: bool = True
    expected: float = 0.0


@dataclass
class Tally:
    statuses: dict[str, int] = field(default_factory=dict)
    bids: int = 0
    reviews: int = 0
    bad_reviews: list[tuple[int, int, int]] = field(default_factory=list)  # (client, cleaner, job)
    last_bid: dict[tuple[int, int], int] = field(default_factory=dict)  # (client, cleaner) -> job


# --- Services --------------------------------------------------------------------------------


def _invalidate_cached_answers() -> None:
    # Bulk writes send no signals, and ids may be reused after a clear: drop every cached answer.
    from app.recommendations.cache import generation_bump, owner_forget_all

    generation_bump("model", "open-jobs")
    owner_forget_all()


def training_data_exists() -> bool:
    return (
        CleanerProfile.objects.exists()
        or ClientProfile.objects.exists()
        or CleaningJob.objects.exists()
        or _generated_users().exists()
    )


def training_data_clear() -> None:
    """Delete the marketplace and the users it belongs to; superusers are never touched."""
    with transaction.atomic():
        # Children first, so that no delete has to walk a large cascade.
        for model in (ExpectedRating, Review, Bid, CleaningJob, Property, ClientProfile, CleanerScore, CleanerProfile):
            model.objects.all().delete()
        _generated_users().delete()
        transaction.on_commit(cleaners_changed)
        transaction.on_commit(_invalidate_cached_answers)


def training_data_generate(
    *,
    jobs: int,
    cleaners: int,
    clients: int,
    seed: int,
    reference_date: datetime = DEFAULT_REFERENCE_DATE,
    progress: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Sample the marketplace and insert it in one transaction; `progress` gets a line per chunk."""
    # One stream per phase: changing how one phase draws leaves the others' rows unchanged.
    people_rng, jobs_rng, market_rng, key_rng = np.random.default_rng(seed).spawn(4)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    reference_day = reference_date.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    cleaner_data = _sample_cleaners(people_rng, cleaners)
    client_data = _sample_clients(people_rng, clients)
    property_data = _sample_properties(people_rng, client_data)
    job_data = _sample_jobs(jobs_rng, property_data, client_data, cleaner_data, jobs, reference_day)
    world = World(cleaner_data, client_data, property_data, job_data, reference_day)

    with transaction.atomic():
        cleaner_users, client_users = _insert_users(fake, key_rng, world)
        cleaner_ids = _insert_cleaner_profiles(cleaner_users, cleaner_data)
        client_ids = _insert_client_profiles(fake, client_users)
        property_ids = _insert_properties(fake, property_data, client_ids)
        tally = Tally()
        for start in range(0, jobs, PROGRESS_EVERY):
            rows = np.arange(start, min(start + PROGRESS_EVERY, jobs))
            outcomes = _simulate_chunk(market_rng, world, rows)
            _insert_chunk(fake, market_rng, world, rows, outcomes, tally, cleaner_ids, client_ids, property_ids)
            if progress:
                progress(f"Progress: {rows[-1] + 1}/{jobs} jobs...")
        blocked = _insert_blocks(market_rng, tally, client_ids, cleaner_ids)
        # Bulk inserts send no signals: tell the workers' cleaner tables directly.
        transaction.on_commit(cleaners_changed)
        transaction.on_commit(_invalidate_cached_answers)
    return GenerationSummary(
        users=len(cleaner_users) + len(client_users),
        properties=len(property_ids),
        jobs=jobs,
        bids=tally.bids,
        reviews=tally.reviews,
        blocked_pairs=blocked,
        status_counts=tally.statuses,
    )


def _generated_users() -> QuerySet[User]:
    users = User.objects.filter(is_superuser=False)
    return users.filter(role__in=(User.Role.CLIENT, User.Role.CLEANER)) | users.filter(username=OPERATOR_USERNAME)


# --- Sampling the world: numpy only, no database ---------------------------------------------


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


# --- Simulating the market: who bids, who is hired, how it ends ------------------------------


def _simulate_chunk(rng: np.random.Generator, world: World, rows: np.ndarray) -> list[Outcome]:
    """Pair every job of the chunk with every cleaner at once, then walk the jobs in time order."""
    cleaners, props, jobs = world.cleaners, world.properties, world.jobs
    prop = jobs.prop[rows]
    client = props.owner[prop]
    ratio = distance_km(props.lat[prop, None], props.lng[prop, None], cleaners.lat, cleaners.lng) / cleaners.radius
    bit = (1 << jobs.service[rows])[:, None]
    offers = (cleaners.services & bit) != 0
    specialty = (cleaners.specialties & bit) != 0
    expected = _expected_ratings(world, client, prop, specialty, ratio)
    weekday = ((world.reference_day.weekday() + jobs.day[rows]) % 7)[:, None]
    start_hour = (jobs.start_slot[rows] / 2.0)[:, None]
    available = (
        ((cleaners.days >> weekday) & 1 == 1)
        & (cleaners.day_start <= start_hour)
        & (cleaners.day_end >= start_hour + jobs.duration[rows, None])
    )
    weight = (
        np.exp(-ratio)
        * np.where(specialty, SPECIALTY_BID_FACTOR, 1.0)
        * np.where(available, 1.0, UNAVAILABLE_BID_FACTOR)
    )
    in_range = offers & (ratio <= BID_RANGE_FACTOR)
    return [
        _simulate_job(rng, world, job, client[i], in_range[i], offers[i], ratio[i], weight[i], expected[i])
        for i, job in enumerate(rows)
    ]


def _expected_ratings(
    world: World, client: np.ndarray, prop: np.ndarray, specialty: np.ndarray, ratio: np.ndarray
) -> np.ndarray:
    """The noise-free rating of every (job, cleaner) pair of a chunk, shape (jobs, cleaners)."""
    cleaners, clients = world.cleaners, world.clients
    large_and_junior = (world.properties.size[prop] > LARGE_SQFT)[:, None] & (cleaners.years < JUNIOR_YEARS)
    expected = (
        RATING_BASE
        + RATING_QUALITY * cleaners.quality
        + RATING_SPECIALTY * specialty
        + RATING_DISTANCE * ratio
        + RATING_EXPERIENCE * np.minimum(cleaners.years, EXPERIENCE_CAP_YEARS) / EXPERIENCE_CAP_YEARS
        + RATING_LARGE_JUNIOR * large_and_junior
        - clients.pickiness[client, None]
        + RATING_TASTE * clients.taste[client] @ cleaners.taste.T
        + RATING_VERIFIED * cleaners.verified
    )
    return np.clip(expected, 1.0, 10.0)


def _simulate_job(
    rng: np.random.Generator,
    world: World,
    job: int,
    client: int,
    in_range: np.ndarray,
    offers: np.ndarray,
    ratio: np.ndarray,
    weight: np.ndarray,
    expected: np.ndarray,
) -> Outcome:
    jobs, cleaners = world.jobs, world.cleaners
    start_minute = jobs.day[job] * 1440 + jobs.start_slot[job] * 30
    free = world.busy_until <= start_minute
    bidders = _choose_bidders(rng, in_range & free, offers & free, ratio, weight)
    amounts = np.round(cleaners.rate[bidders] * jobs.duration[job] * rng.lognormal(0.0, BID_LOG_SD, len(bidders)), 2)
    if jobs.is_open[job]:
        return Outcome(CleaningJob.Status.OPEN_FOR_BIDS, bidders, amounts)
    if rng.random() < CLIENT_CANCEL_SHARE:
        return Outcome(CleaningJob.Status.CANCELLED, bidders, amounts)

    utility = (
        expected[bidders]
        + rng.normal(0.0, HIRE_RATING_NOISE_SD, len(bidders))
        - world.clients.price_sensitivity[client] * HIRE_PRICE_WEIGHT * (amounts / jobs.budget[job] - 1.0)
        + rng.gumbel(0.0, HIRE_GUMBEL_SCALE, len(bidders))
    )
    winner = int(bidders[np.argmax(utility)])
    quality = cleaners.quality[winner]
    if rng.random() < _sigmoid(CLEANER_CANCEL_LOGIT + CLEANER_CANCEL_QUALITY * quality):
        return Outcome(CleaningJob.Status.CANCELLED, bidders, amounts, winner=winner, cancelled_by_cleaner=True)

    world.busy_until[winner] = start_minute + jobs.duration[job] * 60
    rating = int(np.clip(np.floor(expected[winner] + rng.normal(0.0, RATING_NOISE_SD) + 0.5), 1, 10))
    on_time = bool(rng.random() < _sigmoid(ON_TIME_LOGIT + quality))
    return Outcome(
        CleaningJob.Status.COMPLETED,
        bidders,
        amounts,
        winner=winner,
        rating=rating,
        on_time=on_time,
        expected=float(expected[winner]),
    )


def _choose_bidders(
    rng: np.random.Generator, eligible: np.ndarray, offers: np.ndarray, ratio: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    candidates = np.flatnonzero(eligible)
    if candidates.size == 0:
        # Nobody in range (only in very small worlds): the nearest who offer the service bid anyway.
        offering = np.flatnonzero(offers if offers.any() else np.ones_like(offers))
        candidates = offering[np.argsort(ratio[offering], kind="stable")[: MIN_BIDS + 1]]
    k = min(MIN_BIDS + rng.poisson(EXTRA_BIDS_MEAN), candidates.size)
    p = weight[candidates] / weight[candidates].sum()
    return rng.choice(candidates, size=k, replace=False, p=p)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


# --- Writing rows ----------------------------------------------------------------------------


def _insert_users(fake: Faker, rng: np.random.Generator, world: World) -> tuple[list[User], list[User]]:
    # One hash for everyone: hashing hundreds of passwords would dominate the run time. The salt
    # comes from the seed so that the hash, too, is the same on every run.
    password = make_password(DEMO_PASSWORD, salt=rng.bytes(11).hex())

    def user(username: str, role: str) -> User:
        first, last = fake.first_name(), fake.last_name()
        local = re.sub(r"[^a-z]", "", first.lower()) + "." + re.sub(r"[^a-z]", "", last.lower())
        joined_days_ago = int(rng.integers(HISTORY_DAYS + 1, 3 * HISTORY_DAYS))
        return User(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{local}@{fake.safe_domain_name()}",
            password=password,
            role=role,
            date_joined=world.reference_day - timedelta(days=joined_days_ago),
        )

    cleaners = [user(f"cleaner{i + 1:04d}", User.Role.CLEANER) for i in range(len(world.cleaners.quality))]
    clients = [user(f"client{i + 1:04d}", User.Role.CLIENT) for i in range(len(world.clients.activity))]
    everyone = cleaners + clients
    # A superuser called "operator" survives --clear; it is left as it is.
    if not User.objects.filter(username=OPERATOR_USERNAME).exists():
        operator = user(OPERATOR_USERNAME, User.Role.OPERATOR)
        operator.is_staff = True
        everyone.append(operator)
    User.objects.bulk_create(everyone, batch_size=BATCH_SIZE)
    tokens = Token.objects.bulk_create([Token(key=rng.bytes(20).hex(), user=u) for u in everyone], batch_size=BATCH_SIZE)
    # The same seed gives the same keys: drop any cached authentication of an earlier run's users.
    from app.api.authentication import auth_cache_forget

    auth_cache_forget([t.key for t in tokens])
    return cleaners, clients


def _insert_cleaner_profiles(users: list[User], c: Cleaners) -> list[int]:
    profiles = [
        CleanerProfile(
            user=user,
            home_lat=float(c.lat[i]),
            home_lng=float(c.lng[i]),
            service_radius_km=float(c.radius[i]),
            hourly_rate=_money(c.rate[i]),
            years_experience=int(c.years[i]),
            services_mask=int(c.services[i]),
            specialties_mask=int(c.specialties[i]),
            available_days_mask=int(c.days[i]),
            day_start_hour=int(c.day_start[i]),
            day_end_hour=int(c.day_end[i]),
            verified=bool(c.verified[i]),
        )
        for i, user in enumerate(users)
    ]
    CleanerProfile.objects.bulk_create(profiles, batch_size=BATCH_SIZE)
    return [p.pk for p in profiles]


def _insert_client_profiles(fake: Faker, users: list[User]) -> list[int]:
    profiles = [ClientProfile(user=user, phone=fake.phone_number()[:32]) for user in users]
    ClientProfile.objects.bulk_create(profiles, batch_size=BATCH_SIZE)
    return [p.pk for p in profiles]


def _insert_properties(fake: Faker, p: Properties, client_ids: list[int]) -> list[int]:
    rows = [
        Property(
            owner_id=client_ids[p.owner[i]],
            property_type=PROPERTY_TYPES[p.kind[i]],
            address=f"{fake.street_address()}, New York, NY",
            size_sqft=int(p.size[i]),
            bedrooms=int(p.bedrooms[i]),
            bathrooms=int(p.bathrooms[i]),
            has_pets=bool(p.pets[i]),
            lat=float(p.lat[i]),
            lng=float(p.lng[i]),
        )
        for i in range(len(p.owner))
    ]
    Property.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return [row.pk for row in rows]


def _insert_chunk(
    fake: Faker,
    rng: np.random.Generator,
    world: World,
    rows: np.ndarray,
    outcomes: list[Outcome],
    tally: Tally,
    cleaner_ids: list[int],
    client_ids: list[int],
    property_ids: list[int],
) -> None:
    job_rows = [
        _job_row(fake, world, job, outcome, cleaner_ids, client_ids, property_ids)
        for job, outcome in zip(rows, outcomes, strict=True)
    ]
    CleaningJob.objects.bulk_create(job_rows, batch_size=BATCH_SIZE)
    bids, reviews, expected = [], [], []
    for job, job_row, outcome in zip(rows, job_rows, outcomes, strict=True):
        client = int(world.properties.owner[world.jobs.prop[job]])
        tally.statuses[outcome.status] = tally.statuses.get(outcome.status, 0) + 1
        for cleaner, amount in zip(outcome.bidders, outcome.amounts, strict=True):
            tally.last_bid[(client, int(cleaner))] = int(job)
            bids.append(
                Bid(
                    job_id=job_row.pk,
                    cleaner_id=cleaner_ids[cleaner],
                    amount=_money(amount),
                    message=BID_MESSAGES[rng.integers(len(BID_MESSAGES))],
                    status=_bid_status(outcome, cleaner),
                )
            )
        if outcome.status == CleaningJob.Status.COMPLETED:
            reviews.append(_review_row(rng, job_row, outcome))
            expected.append(
                ExpectedRating(
                    job_id=job_row.pk, cleaner_id=job_row.assigned_cleaner_id, expected_rating=outcome.expected
                )
            )
            if outcome.rating <= BAD_RATING:
                tally.bad_reviews.append((client, outcome.winner, int(job)))
    Bid.objects.bulk_create(bids, batch_size=BATCH_SIZE)
    Review.objects.bulk_create(reviews, batch_size=BATCH_SIZE)
    ExpectedRating.objects.bulk_create(expected, batch_size=BATCH_SIZE)
    tally.bids += len(bids)
    tally.reviews += len(reviews)


def _job_row(
    fake: Faker,
    world: World,
    job: int,
    outcome: Outcome,
    cleaner_ids: list[int],
    client_ids: list[int],
    property_ids: list[int],
) -> CleaningJob:
    jobs, props = world.jobs, world.properties
    prop = jobs.prop[job]
    service = SERVICE_TYPES[jobs.service[job]]
    start = world.reference_day + timedelta(days=int(jobs.day[job]), minutes=30 * int(jobs.start_slot[job]))
    duration = float(jobs.duration[job])
    kind = PROPERTY_TYPES[props.kind[prop]]
    place = f"{props.size[prop]:,} sqft office" if kind == "office" else f"{props.bedrooms[prop]}-bedroom {kind}"
    description = fake.sentence(nb_words=10) + (" Pets at home." if props.pets[prop] else "")
    return CleaningJob(
        property_id=property_ids[prop],
        client_id=client_ids[props.owner[prop]],
        title=f"{service.replace('_', ' ').capitalize()} cleaning, {place}",
        description=description,
        service_type=service,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=duration),
        duration_hours=Decimal(f"{duration:.2f}"),
        budget=_money(jobs.budget[job]),
        status=outcome.status,
        assigned_cleaner_id=cleaner_ids[outcome.winner] if outcome.winner >= 0 else None,
        cancelled_by_cleaner=outcome.cancelled_by_cleaner,
    )


def _bid_status(outcome: Outcome, cleaner: int) -> str:
    if outcome.status == CleaningJob.Status.OPEN_FOR_BIDS:
        return Bid.Status.PENDING
    return Bid.Status.ACCEPTED if cleaner == outcome.winner else Bid.Status.REJECTED


def _review_row(rng: np.random.Generator, job_row: CleaningJob, outcome: Outcome) -> Review:
    tone = "bad" if outcome.rating <= 4 else "fair" if outcome.rating <= 7 else "good"
    comments = REVIEW_COMMENTS[tone]
    return Review(
        job_id=job_row.pk,
        cleaner_id=job_row.assigned_cleaner_id,
        client_id=job_row.client_id,
        rating=outcome.rating,
        on_time=outcome.on_time,
        comment=comments[rng.integers(len(comments))],
    )


def _insert_blocks(rng: np.random.Generator, tally: Tally, client_ids: list[int], cleaner_ids: list[int]) -> int:
    """Some clients block a cleaner after a bad review, if that cleaner never bid for them again."""
    pairs = set()
    for client, cleaner, job in tally.bad_reviews:
        never_again = tally.last_bid[(client, cleaner)] == job
        if never_again and rng.random() < BLOCK_SHARE:
            pairs.add((client_ids[client], cleaner_ids[cleaner]))
    through = ClientProfile.blocked_cleaners.through
    through.objects.bulk_create(
        [through(clientprofile_id=client, cleanerprofile_id=cleaner) for client, cleaner in sorted(pairs)],
        batch_size=BATCH_SIZE,
    )
    return len(pairs)


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")
