"""The sampled world: one dataclass of numpy arrays per kind of entity, indexed by position.

Sampling fills them, the simulation reads them (and moves `World.busy_until` on), persistence
turns them into rows. The fields marked latent never reach the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


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
