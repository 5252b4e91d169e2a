"""The synthetic marketplace's ground truth for every (job, cleaner) pair, for the first-stage comparison.

The generator draws its world (latent quality, tastes, pickiness) from the seed, so the bench's
scaling step and the first-stage test draw it again and compute the noise-free expected rating (`simulation.expected_ratings`)
of any pair, not only of the hired one it stored (`ExpectedRating`). Database ids follow the
world's positions (the generator inserts in order); `relevance_of` checks that on the stored
pairs before it answers anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import numpy as np

from app.marketplace.geo import distance_km
from app.marketplace.models import CleanerProfile, CleaningJob, Property
from app.synthetic.generator.params import DEFAULT_REFERENCE_DATE
from app.synthetic.generator.sampling import sample_world
from app.synthetic.generator.simulation import expected_ratings
from app.synthetic.models import ExpectedRating

HALF_STARS = 2  # relevance levels: the expected rating rounded to half a star


def _positions(model) -> dict[int, int]:
    return {pk: i for i, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True))}


def relevance_of(*, jobs: int, cleaners: int, clients: int, seed: int) -> Callable:
    """pairs -> the expected rating of each (job = pairs.group, cleaner) on a 0-1 scale, by half stars."""
    people_rng, jobs_rng, _, _ = np.random.default_rng(seed).spawn(4)
    day = DEFAULT_REFERENCE_DATE.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    world = sample_world(people_rng, jobs_rng, jobs=jobs, cleaners=cleaners, clients=clients, reference_day=day)
    job_pos, cleaner_pos = _positions(CleaningJob), _positions(CleanerProfile)
    prop_pos = _positions(Property)
    assert len(job_pos) == jobs and len(cleaner_pos) == cleaners, "the probe expects the generated rows only"
    prop_of_job = dict(CleaningJob.objects.values_list("pk", "property_id"))

    def expected(job_id: int, cleaner_rows: np.ndarray) -> np.ndarray:
        j = job_pos[job_id]
        prop = prop_pos[prop_of_job[job_id]]
        owner = world.properties.owner[prop]
        c, p = world.cleaners, world.properties
        ratio = distance_km(p.lat[prop], p.lng[prop], c.lat, c.lng) / c.radius
        specialty = (c.specialties & (1 << world.jobs.service[j])) != 0
        row = expected_ratings(world, np.array([owner]), np.array([prop]), specialty[None, :], ratio[None, :])[0]
        return row[cleaner_rows]

    stored = list(ExpectedRating.objects.order_by("job_id").values_list("job_id", "cleaner_id", "expected_rating")[:50])
    for job_id, cleaner_id, value in stored:
        got = expected(job_id, np.array([cleaner_pos[cleaner_id]]))[0]
        assert abs(got - value) < 1e-6, f"world and database disagree on job {job_id}: {got} != {value}"

    def relevance(pairs) -> np.ndarray:
        out = np.empty(len(pairs), np.float64)
        rows = np.array([cleaner_pos[x] for x in pairs.cleaner["cleaner_id"].tolist()], np.int64)
        bounds = np.flatnonzero(np.r_[True, pairs.group[1:] != pairs.group[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            out[a:b] = expected(int(pairs.group[a]), rows[a:b])
        return (np.round(out * HALF_STARS) / HALF_STARS - 1.0) / 9.0

    return relevance
