"""Who is a candidate for a job, and which open jobs a cleaner is shown (workers/recommend/candidates.py).

Everything happens far from the factories' default city, so the only cleaners and jobs in
range are the ones a test makes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from app.marketplace.geo import distance_km
from app.marketplace.models import SERVICE_BIT, SERVICE_TYPES, Bid, CleanerProfile, CleaningJob, services_to_mask
from tests import factories as f
from workers.recommend.candidates import (
    active_cleaner_columns,
    candidate_cleaners_for_job,
    eligible_cleaners,
    job_context_of,
    open_jobs_for_cleaner,
    unavailable_cleaner_ids,
)

pytestmark = pytest.mark.django_db

LAT, LNG = 45.0, -70.0
KM_PER_DEG_LAT = 111.32


def _monday_at(hour: int, weeks_ahead: int = 2) -> datetime:
    day = (timezone.now() + timedelta(weeks=weeks_ahead)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


@pytest.fixture
def job() -> CleaningJob:
    """A standard clean on a Monday, 10:00 to 13:00 UTC."""
    owner = f.client()
    return f.job(owner, f.property_(owner, lat=LAT, lng=LNG), scheduled_start=_monday_at(10), duration_hours=3)


def _cleaner(**kwargs) -> CleanerProfile:
    """Next to the job, offering standard cleans, every day from 7 to 20, within 20 km."""
    return f.cleaner(**{"home_lat": LAT, "home_lng": LNG, **kwargs})


def _candidates(job: CleaningJob) -> list[int]:
    context = job_context_of(CleaningJob.objects.select_related("property").get(pk=job.pk))
    found = candidate_cleaners_for_job(job=job, context=context, cleaners=active_cleaner_columns())
    return sorted(found["cleaner_id"].tolist())


# Candidates for a job --------------------------------------------------------------------------


def test_it_keeps_only_cleaners_who_offer_the_service(job) -> None:
    offers = _cleaner(services_mask=services_to_mask(["standard"]))
    _cleaner(services_mask=services_to_mask(["deep", "window"]))

    assert _candidates(job) == [offers.pk]


def test_it_keeps_only_cleaners_who_work_that_weekday(job) -> None:
    mondays = _cleaner(available_days_mask=0b0000001)
    _cleaner(available_days_mask=0b1111110)  # every day but Monday

    assert _candidates(job) == [mondays.pk]


def test_it_keeps_only_cleaners_whose_day_covers_the_job(job) -> None:
    exactly = _cleaner(day_start_hour=10, day_end_hour=13)  # the job's own hours
    _cleaner(day_start_hour=11)  # starts after the job does
    _cleaner(day_end_hour=12)  # stops before it ends

    assert _candidates(job) == [exactly.pk]


def test_it_keeps_only_cleaners_within_their_own_radius(job) -> None:
    ten_km_north = LAT + 10.0 / KM_PER_DEG_LAT
    reaches = _cleaner(home_lat=ten_km_north, service_radius_km=10.5)
    _cleaner(home_lat=ten_km_north, service_radius_km=9.5)
    _cleaner(home_lat=LAT + 0.5, service_radius_km=50)  # 55.7 km away with a 50 km radius

    assert _candidates(job) == [reaches.pk]


def test_it_leaves_out_blocked_and_busy_cleaners(job) -> None:
    free = _cleaner()
    blocked = _cleaner()
    job.client.blocked_cleaners.add(blocked)
    busy = _cleaner()
    f.job(
        scheduled_start=job.scheduled_start + timedelta(hours=2),
        status=CleaningJob.Status.ASSIGNED,
        assigned_cleaner=busy,
    )  # 12:00 to 15:00: overlaps
    in_progress = _cleaner()
    f.job(
        scheduled_start=job.scheduled_start - timedelta(hours=2),
        status=CleaningJob.Status.IN_PROGRESS,
        assigned_cleaner=in_progress,
    )  # 8:00 to 11:00: overlaps
    later = _cleaner()
    f.job(
        scheduled_start=job.scheduled_end, status=CleaningJob.Status.ASSIGNED, assigned_cleaner=later
    )  # starts as ours ends
    done = _cleaner()
    f.job(scheduled_start=job.scheduled_start, status=CleaningJob.Status.COMPLETED, assigned_cleaner=done)

    assert unavailable_cleaner_ids(job=job) == {blocked.pk, busy.pk, in_progress.pk}
    assert _candidates(job) == sorted([free.pk, later.pk, done.pk])


def test_it_returns_every_column_of_the_kept_cleaners_aligned(job) -> None:
    _cleaner(services_mask=services_to_mask(["window"]))
    near = _cleaner(hourly_rate=31, years_experience=4)
    cleaners = active_cleaner_columns()

    found = candidate_cleaners_for_job(job=job, context=job_context_of(job), cleaners=cleaners)

    assert set(found) == set(cleaners)
    assert all(len(column) == 1 for column in found.values())
    assert (found["cleaner_id"][0], found["hourly_rate"][0], found["years_experience"][0]) == (near.pk, 31.0, 4.0)


# Eligibility in memory, against a plain reference ----------------------------------------------


def _eligible_by_hand(context: dict, cleaners: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every row's distance, then every condition at once: what the prefiltered version must equal."""
    every = distance_km(context["lat"], context["lng"], cleaners["home_lat"], cleaners["home_lng"])
    keep = (
        ((cleaners["services_mask"] & SERVICE_BIT[SERVICE_TYPES[context["service_idx"]]]) > 0)
        & ((cleaners["available_days_mask"] & (1 << context["weekday"])) > 0)
        & (cleaners["day_start_hour"] <= context["start_hour"])
        & (cleaners["day_end_hour"] >= context["end_hour"])
        & (every <= cleaners["service_radius_km"])
    )
    return np.flatnonzero(keep), every[keep]


def _random_table(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Cleaners around (LAT, LNG); a third of them due north or south at exactly their radius,
    give or take a few units in the last place, where a prefilter would err first."""
    radius = np.round(rng.uniform(1, 25, n), 1)
    lat = LAT + rng.uniform(-0.3, 0.3, n)
    lng = LNG + rng.uniform(-0.4, 0.4, n)
    edge = rng.random(n) < 1 / 3
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    at_radius = LAT + sign * radius / KM_PER_DEG_LAT
    lat[edge] = at_radius[edge] + rng.integers(-3, 4, n)[edge] * np.spacing(at_radius[edge])
    lng[edge] = LNG
    lat[rng.integers(0, n, 5)] = np.nan  # a broken row is never a candidate
    return {
        "home_lat": lat,
        "home_lng": lng,
        "service_radius_km": radius,
        "services_mask": rng.integers(0, 128, n),
        "available_days_mask": rng.integers(0, 128, n),
        "day_start_hour": rng.integers(6, 12, n).astype(np.float64),
        "day_end_hour": rng.integers(14, 22, n).astype(np.float64),
    }


@pytest.mark.parametrize("seed", range(5))
def test_it_keeps_the_same_rows_and_distances_as_measuring_every_cleaner(seed) -> None:
    rng = np.random.default_rng(seed)
    cleaners = _random_table(rng, 20_000)
    for _ in range(10):
        context = {
            "lat": LAT,
            "lng": LNG,
            "service_idx": int(rng.integers(0, len(SERVICE_TYPES))),
            "weekday": int(rng.integers(0, 7)),
            "start_hour": 10.0,
            "end_hour": 13.0,
        }
        rows, dist = eligible_cleaners(context, cleaners)
        want_rows, want_dist = _eligible_by_hand(context, cleaners)
        assert len(want_rows) > 100
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_array_equal(dist, want_dist)  # bit for bit: the features reuse them


# Open jobs for a cleaner -------------------------------------------------------------------------


@pytest.fixture
def cleaner() -> CleanerProfile:
    """Standard and deep cleans, every day from 7 to 20, within 20 km of (LAT, LNG)."""
    return _cleaner()


def _open_job(**kwargs) -> CleaningJob:
    owner = kwargs.pop("owner", None) or f.client()
    lat, lng = kwargs.pop("lat", LAT + 0.01), kwargs.pop("lng", LNG)
    kwargs.setdefault("scheduled_start", _monday_at(10))
    return f.job(owner, f.property_(owner, lat=lat, lng=lng), **kwargs)


def _shown(cleaner: CleanerProfile) -> list[int]:
    return [j["job_id"] for j in open_jobs_for_cleaner(cleaner=cleaner)]


def test_it_shows_open_future_jobs_of_its_services_soonest_first(cleaner) -> None:
    later = _open_job(scheduled_start=_monday_at(10, weeks_ahead=3))
    sooner = _open_job(service_type="deep")
    _open_job(service_type="window")
    _open_job(status=CleaningJob.Status.ASSIGNED)
    _open_job(scheduled_start=timezone.now() - timedelta(days=1))

    assert _shown(cleaner) == [sooner.pk, later.pk]


def test_it_shows_only_jobs_within_the_radius(cleaner) -> None:
    inside = _open_job(lat=LAT + 19.5 / KM_PER_DEG_LAT)
    _open_job(lat=LAT + 20.5 / KM_PER_DEG_LAT)
    # Inside the query's bounding box, but 22.9 km away on the diagonal.
    _open_job(lat=LAT + 0.15, lng=LNG + 0.2)

    assert _shown(cleaner) == [inside.pk]


def test_it_shows_only_jobs_on_its_days_and_within_its_hours(cleaner) -> None:
    cleaner.available_days_mask = 0b0000001  # Mondays
    cleaner.day_start_hour, cleaner.day_end_hour = 9, 17
    cleaner.save()
    fits = _open_job(scheduled_start=_monday_at(9), duration_hours=8)  # 9:00 to 17:00 exactly
    _open_job(scheduled_start=_monday_at(10) + timedelta(days=1))  # a Tuesday
    _open_job(scheduled_start=_monday_at(8))  # before the day starts
    _open_job(scheduled_start=_monday_at(15), duration_hours=3)  # ends at 18:00

    assert _shown(cleaner) == [fits.pk]


def test_it_hides_jobs_of_clients_who_blocked_it_jobs_it_bid_on_and_jobs_when_it_is_busy(cleaner) -> None:
    shown = _open_job()
    blocker = f.client()
    blocker.blocked_cleaners.add(cleaner)
    _open_job(owner=blocker)
    Bid.objects.create(job=_open_job(), cleaner=cleaner, amount=100)
    f.job(scheduled_start=_monday_at(14), status=CleaningJob.Status.ASSIGNED, assigned_cleaner=cleaner)
    _open_job(scheduled_start=_monday_at(13), duration_hours=2)  # 13:00 to 15:00, while it works elsewhere

    assert _shown(cleaner) == [shown.pk]


def test_it_describes_each_job_with_its_context_columns(cleaner) -> None:
    job = _open_job(service_type="deep", duration_hours=2.5, budget=120)

    [context] = open_jobs_for_cleaner(cleaner=cleaner)

    assert context == job_context_of(CleaningJob.objects.select_related("property").get(pk=job.pk))
    assert (context["job_id"], context["weekday"], context["start_hour"], context["end_hour"]) == (
        job.pk,
        0,
        10.0,
        12.5,
    )
    assert (context["service_idx"], context["budget"]) == (1, 120.0)
