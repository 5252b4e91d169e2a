"""Writing the sampled world and the simulated outcomes to the marketplace tables, in bulk.

Rows are built in the world's order and inserted with `bulk_create`, so database ids follow
positions (and jobs' ids follow time). Faker and the random streams are read in a fixed order
here too: the same seed gives the same names, texts, tokens and password hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth.hashers import make_password
from faker import Faker
from rest_framework.authtoken.models import Token

from app.accounts.models import User
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
from app.synthetic.generator.params import (
    BAD_RATING,
    BID_MESSAGES,
    BLOCK_SHARE,
    DEMO_PASSWORD,
    HISTORY_DAYS,
    OPERATOR_USERNAME,
    REVIEW_COMMENTS,
)
from app.synthetic.generator.simulation import Outcome
from app.synthetic.generator.world import Cleaners, Properties, World
from app.synthetic.models import DemoAccount, ExpectedRating

BATCH_SIZE = 1000


@dataclass
class Tally:
    statuses: dict[str, int] = field(default_factory=dict)
    bids: int = 0
    reviews: int = 0
    bad_reviews: list[tuple[int, int, int]] = field(default_factory=list)  # (client, cleaner, job)
    last_bid: dict[tuple[int, int], int] = field(default_factory=dict)  # (client, cleaner) -> job


def insert_users(fake: Faker, rng: np.random.Generator, world: World) -> tuple[list[User], list[User]]:
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
    DemoAccount.objects.bulk_create(
        [DemoAccount(user=u, password_hash=u.password) for u in everyone], batch_size=BATCH_SIZE, ignore_conflicts=True
    )
    tokens = Token.objects.bulk_create(
        [Token(key=rng.bytes(20).hex(), user=u) for u in everyone], batch_size=BATCH_SIZE
    )
    # The same seed gives the same keys: drop any cached authentication of an earlier run's users.
    from app.api.authentication import auth_cache_forget

    auth_cache_forget([t.key for t in tokens])
    return cleaners, clients


def insert_cleaner_profiles(users: list[User], c: Cleaners) -> list[int]:
    profiles = [
        CleanerProfile(
            external_id=f"cleaner-{i + 1}",
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


def insert_client_profiles(fake: Faker, users: list[User]) -> list[int]:
    profiles = [
        ClientProfile(external_id=f"client-{i + 1}", user=user, phone=fake.phone_number()[:32])
        for i, user in enumerate(users)
    ]
    ClientProfile.objects.bulk_create(profiles, batch_size=BATCH_SIZE)
    return [p.pk for p in profiles]


def insert_properties(fake: Faker, p: Properties, client_ids: list[int]) -> list[int]:
    rows = [
        Property(
            external_id=f"property-{i + 1}",
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


def insert_chunk(
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
                    external_id=f"bid-{int(job) + 1}-{int(cleaner) + 1}",
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
        external_id=f"job-{int(job) + 1}",
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
        external_id=f"review-{job_row.external_id.removeprefix('job-')}",
        job_id=job_row.pk,
        cleaner_id=job_row.assigned_cleaner_id,
        client_id=job_row.client_id,
        rating=outcome.rating,
        on_time=outcome.on_time,
        comment=comments[rng.integers(len(comments))],
    )


def insert_blocks(rng: np.random.Generator, tally: Tally, client_ids: list[int], cleaner_ids: list[int]) -> int:
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
