"""Simulating the market in time order: who bids on each job, who is hired, and how the job ends.

The expected rating of a (job, cleaner) pair mixes the latent traits with observable pair features:

    e = 6.2 + 1.3 q + 0.9 specialty - 1.1 distance/radius + 0.35 min(years, 10)/10
        - 0.6 (size > 2500 sqft and years < 3) - pickiness + 0.25 dot(u, v) + 0.3 verified

clipped to [1, 10] (the weights are in `params`). The client hires the bidder with the best noisy
utility, expected rating against price; a completed job's rating is round(e + N(0, 0.9)) on 1..10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.marketplace.geo import distance_km
from app.marketplace.models import CleaningJob
from app.synthetic.generator.params import (
    BID_LOG_SD,
    BID_RANGE_FACTOR,
    CLEANER_CANCEL_LOGIT,
    CLEANER_CANCEL_QUALITY,
    CLIENT_CANCEL_SHARE,
    EXPERIENCE_CAP_YEARS,
    EXTRA_BIDS_MEAN,
    HIRE_GUMBEL_SCALE,
    HIRE_PRICE_WEIGHT,
    HIRE_RATING_NOISE_SD,
    JUNIOR_YEARS,
    LARGE_SQFT,
    MIN_BIDS,
    ON_TIME_LOGIT,
    RATING_BASE,
    RATING_DISTANCE,
    RATING_EXPERIENCE,
    RATING_LARGE_JUNIOR,
    RATING_NOISE_SD,
    RATING_QUALITY,
    RATING_SPECIALTY,
    RATING_TASTE,
    RATING_VERIFIED,
    SPECIALTY_BID_FACTOR,
    UNAVAILABLE_BID_FACTOR,
)
from app.synthetic.generator.world import World


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


def simulate_chunk(rng: np.random.Generator, world: World, rows: np.ndarray) -> list[Outcome]:
    """Pair every job of the chunk with every cleaner at once, then walk the jobs in time order."""
    cleaners, props, jobs = world.cleaners, world.properties, world.jobs
    prop = jobs.prop[rows]
    client = props.owner[prop]
    ratio = distance_km(props.lat[prop, None], props.lng[prop, None], cleaners.lat, cleaners.lng) / cleaners.radius
    bit = (1 << jobs.service[rows])[:, None]
    offers = (cleaners.services & bit) != 0
    specialty = (cleaners.specialties & bit) != 0
    expected = expected_ratings(world, client, prop, specialty, ratio)
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


def expected_ratings(
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
