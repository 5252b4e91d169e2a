"""The generator's services: generate the synthetic marketplace from a seed, tell whether one exists, clear it.

`training_data_generate` runs the phases in order: sample the world (`sampling`), write its
people and properties (`persistence`), then simulate and write the jobs chunk by chunk
(`simulation`, `persistence`), with a progress line per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.db import transaction
from django.db.models import QuerySet
from faker import Faker

from app.accounts.models import User
from app.marketplace.models import Bid, CleanerProfile, CleaningJob, ClientProfile, Property, Review
from app.recommendations.models import CleanerScore
from app.synthetic.generator.params import DEFAULT_REFERENCE_DATE, OPERATOR_USERNAME
from app.synthetic.generator.persistence import (
    Tally,
    insert_blocks,
    insert_chunk,
    insert_cleaner_profiles,
    insert_client_profiles,
    insert_properties,
    insert_users,
)
from app.synthetic.generator.sampling import sample_world
from app.synthetic.generator.simulation import simulate_chunk
from app.synthetic.models import ExpectedRating

PROGRESS_EVERY = 500  # jobs per simulated-and-inserted chunk, one progress line each


@dataclass(frozen=True)
class GenerationSummary:
    users: int
    properties: int
    jobs: int
    bids: int
    reviews: int
    blocked_pairs: int
    status_counts: dict[str, int]


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

    world = sample_world(
        people_rng, jobs_rng, jobs=jobs, cleaners=cleaners, clients=clients, reference_day=reference_day
    )

    with transaction.atomic():
        cleaner_users, client_users = insert_users(fake, key_rng, world)
        cleaner_ids = insert_cleaner_profiles(cleaner_users, world.cleaners)
        client_ids = insert_client_profiles(fake, client_users)
        property_ids = insert_properties(fake, world.properties, client_ids)
        tally = Tally()
        # Simulate a chunk, then insert it: both draw from `market_rng`, so this order is part of the output.
        for start in range(0, jobs, PROGRESS_EVERY):
            rows = np.arange(start, min(start + PROGRESS_EVERY, jobs))
            outcomes = simulate_chunk(market_rng, world, rows)
            insert_chunk(fake, market_rng, world, rows, outcomes, tally, cleaner_ids, client_ids, property_ids)
            if progress:
                progress(f"Progress: {rows[-1] + 1}/{jobs} jobs...")
        blocked = insert_blocks(market_rng, tally, client_ids, cleaner_ids)
        # Bulk inserts send no signals (the workers' cleaner tables read the triggers' change log).
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
