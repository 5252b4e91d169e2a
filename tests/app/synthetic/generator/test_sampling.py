"""Sampling the synthetic world: pure numpy, so these need no database."""

from dataclasses import fields

import numpy as np

from app.synthetic.generator.params import DEFAULT_REFERENCE_DATE, OPEN_HORIZON_DAYS
from app.synthetic.generator.sampling import sample_world
from app.synthetic.generator.world import World


def world_from(seed: int) -> World:
    people_rng, jobs_rng = np.random.default_rng(seed).spawn(2)
    return sample_world(people_rng, jobs_rng, jobs=200, cleaners=20, clients=40, reference_day=DEFAULT_REFERENCE_DATE)


def arrays(world: World) -> dict[str, np.ndarray]:
    parts = (world.cleaners, world.clients, world.properties, world.jobs)
    return {f"{type(part).__name__}.{f.name}": getattr(part, f.name) for part in parts for f in fields(part)}


def test_it_samples_the_same_world_from_the_same_seed():
    first, second = arrays(world_from(3)), arrays(world_from(3))
    assert first.keys() == second.keys()
    for name, values in first.items():
        assert np.array_equal(values, second[name]), f"{name} differs between two samples of seed 3"


def test_it_samples_another_world_from_another_seed():
    assert not np.array_equal(world_from(3).cleaners.quality, world_from(4).cleaners.quality)


def test_it_orders_jobs_by_start_and_puts_only_open_jobs_after_the_reference_day():
    jobs = world_from(3).jobs
    starts = jobs.day * 48 + jobs.start_slot
    assert np.all(np.diff(starts) >= 0), "jobs must be sorted by start so that database ids follow time"
    assert np.all((jobs.day > 0) == jobs.is_open)
    assert jobs.day.max() <= OPEN_HORIZON_DAYS


def test_it_has_every_cleaner_offer_standard_cleaning():
    assert np.all(world_from(3).cleaners.services & 1 == 1)
