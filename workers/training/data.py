"""The thin data layer between the tables and the Django-free ML layer.

It turns completed, reviewed jobs into aligned per-pair columns (see `features`) and splits
them in time: the latest `val_fraction` of completed jobs is the validation slice, the rest
trains. Everything a rule or a model reads about a cleaner's history is computed from the
training slice only, so validation measures what would have happened on unseen jobs.

The generator's ground truth (`synthetic.ExpectedRating`) is read by `expected_ratings` alone,
for the ceiling, never by anything that trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.marketplace.models import SERVICE_TYPES, Bid, CleanerProfile, CleaningJob
from app.recommendations.cleaner_scores import smoothed_quality, smoothed_reliability
from workers.recommend.features import CLEANER_COLUMNS, JOB_COLUMNS, PROPERTY_TYPES, take

_JOB_FIELDS = (
    "id",
    "client_id",
    "property__lat",
    "property__lng",
    "service_type",
    "scheduled_start",
    "duration_hours",
    "budget",
    "property__property_type",
    "property__size_sqft",
    "property__bedrooms",
    "property__bathrooms",
    "property__has_pets",
    "status",
    "assigned_cleaner_id",
    "cancelled_by_cleaner",
    "review__rating",
    "review__on_time",
)
_PROFILE_FIELDS = (
    "id",
    "home_lat",
    "home_lng",
    "service_radius_km",
    "hourly_rate",
    "years_experience",
    "services_mask",
    "specialties_mask",
    "available_days_mask",
    "day_start_hour",
    "day_end_hour",
    "verified",
)


def rating_to_target(rating: np.ndarray) -> np.ndarray:
    """1-10 stars to [0, 1]."""
    return ((np.asarray(rating, dtype=np.float64) - 1.0) / 9.0).astype(np.float32)


@dataclass
class Pairs:
    """Aligned (job, cleaner) pairs with their job columns, cleaner columns and labels."""

    job: dict[str, np.ndarray]
    cleaner: dict[str, np.ndarray]
    target: np.ndarray  # rating in [0, 1] (NaN where there is no review)
    relevance: np.ndarray  # 1 for the accepted bid, else 0
    group: np.ndarray  # job id

    def __len__(self) -> int:
        return len(self.target)


@dataclass
class TrainingSet:
    train: Pairs  # reviewed jobs of the training slice
    val: Pairs  # reviewed jobs of the validation slice
    val_bidders: Pairs  # every bidder of validation jobs with several bidders
    completed_jobs: int
    split_at: str  # the first validation job's scheduled start
    # Every cleaner's columns, history from the training slice only: the candidate pools of the
    # validation jobs (`workers.training.first_stage`). Empty when built without them.
    cleaners: dict[str, np.ndarray] = field(default_factory=dict)


def _jobs() -> dict[str, np.ndarray]:
    rows = list(
        # A job whose client was deleted is history only: the model must not learn the client's id.
        CleaningJob.objects.filter(status__in=(CleaningJob.Status.COMPLETED, CleaningJob.Status.CANCELLED))
        .filter(client__isnull=False, property__isnull=False)
        .order_by("scheduled_start", "id")
        .values_list(*_JOB_FIELDS)
    )
    n = len(rows)
    c = list(zip(*rows)) if rows else [()] * len(_JOB_FIELDS)
    starts = list(c[5])
    start_hour = np.fromiter((s.hour + s.minute / 60.0 for s in starts), np.float64, n)
    duration = np.fromiter((float(x) for x in c[6]), np.float64, n)
    return {
        "job_id": np.fromiter(c[0], np.int64, n),
        "client_id": np.fromiter(c[1], np.int64, n),
        "lat": np.fromiter(c[2], np.float64, n),
        "lng": np.fromiter(c[3], np.float64, n),
        "service_idx": np.fromiter((SERVICE_TYPES.index(x) for x in c[4]), np.int64, n),
        "weekday": np.fromiter((s.weekday() for s in starts), np.int64, n),
        "start_hour": start_hour,
        "end_hour": start_hour + duration,
        "duration_hours": duration,
        "budget": np.fromiter((float(x) for x in c[7]), np.float64, n),
        "property_type_idx": np.fromiter((PROPERTY_TYPES.index(x) for x in c[8]), np.int64, n),
        "size_sqft": np.fromiter(c[9], np.float64, n),
        "bedrooms": np.fromiter(c[10], np.float64, n),
        "bathrooms": np.fromiter(c[11], np.float64, n),
        "has_pets": np.fromiter(c[12], np.float64, n),
        # Labels and history, not features:
        "start_ts": np.fromiter((s.timestamp() for s in starts), np.float64, n),
        "completed": np.fromiter((x == CleaningJob.Status.COMPLETED for x in c[13]), bool, n),
        "assigned_cleaner_id": np.fromiter((x or 0 for x in c[14]), np.int64, n),
        "cancelled_by_cleaner": np.fromiter(c[15], bool, n),
        "rating": np.fromiter((np.nan if x is None else x for x in c[16]), np.float64, n),
        "on_time": np.fromiter((bool(x) for x in c[17]), bool, n),
    }


def _profiles() -> dict[str, np.ndarray]:
    rows = list(CleanerProfile.objects.order_by("pk").values_list(*_PROFILE_FIELDS))
    n = len(rows)
    c = list(zip(*rows)) if rows else [()] * len(_PROFILE_FIELDS)
    names = ("cleaner_id", *_PROFILE_FIELDS[1:])
    out = {}
    for name, col in zip(names, c, strict=True):
        dtype = np.int64 if name.endswith(("_id", "_mask")) else np.float64
        out[name] = np.fromiter((float(x) if dtype is np.float64 else x for x in col), dtype, n)
    return out


def history_columns(
    profiles: dict[str, np.ndarray], jobs: dict[str, np.ndarray], mask: np.ndarray
) -> dict[str, np.ndarray]:
    """Quality and reliability of every cleaner from the jobs selected by `mask` only."""
    index = {pk: i for i, pk in enumerate(profiles["cleaner_id"].tolist())}
    n = len(index)
    sel = mask & (jobs["assigned_cleaner_id"] > 0)
    who = np.array([index[x] for x in jobs["assigned_cleaner_id"][sel].tolist()], dtype=np.int64)
    reviewed = ~np.isnan(jobs["rating"][sel])
    count = lambda w: np.bincount(who, weights=w, minlength=n)  # noqa: E731
    reviews = count(reviewed.astype(float))
    rating_sum = count(np.nan_to_num(jobs["rating"][sel]))
    on_time = count((jobs["on_time"][sel] & reviewed).astype(float))
    assigned = count(np.ones(len(who)))
    completed = count(jobs["completed"][sel].astype(float))
    cancelled = count(jobs["cancelled_by_cleaner"][sel].astype(float))
    prior = float(np.nanmean(jobs["rating"][mask])) if np.any(~np.isnan(jobs["rating"][mask])) else 7.0
    return {
        **profiles,
        "quality": smoothed_quality(rating_sum, reviews, prior),
        "reliability": smoothed_reliability(completed, assigned, cancelled, on_time, reviews),
        "review_count": reviews,
    }


def _pairs(jobs: dict, job_rows: np.ndarray, cleaners: dict, cleaner_ids: np.ndarray, relevance: np.ndarray) -> Pairs:
    index = {pk: i for i, pk in enumerate(cleaners["cleaner_id"].tolist())}
    cleaner_rows = np.array([index[x] for x in cleaner_ids.tolist()], dtype=np.int64)
    job_cols = take({k: jobs[k] for k in JOB_COLUMNS}, job_rows)
    return Pairs(
        job=job_cols,
        cleaner=take({k: cleaners[k] for k in CLEANER_COLUMNS}, cleaner_rows),
        target=rating_to_target(jobs["rating"][job_rows]),
        relevance=relevance.astype(np.float32),
        group=jobs["job_id"][job_rows],
    )


def training_set_load(*, val_fraction: float = 0.2) -> TrainingSet:
    """Load completed jobs, split them in time, and build train/validation pairs."""
    jobs = _jobs()
    profiles = _profiles()
    reviewed = jobs["completed"] & ~np.isnan(jobs["rating"])
    reviewed_idx = np.flatnonzero(reviewed)
    if len(reviewed_idx) < 10:
        raise ValueError(f"only {len(reviewed_idx)} completed jobs with a review: generate or collect more data first")
    split = reviewed_idx[int(len(reviewed_idx) * (1 - val_fraction))]
    split_ts = jobs["start_ts"][split]
    in_train = jobs["start_ts"] < split_ts
    cleaners = history_columns(profiles, jobs, in_train)

    train_rows = np.flatnonzero(reviewed & in_train)
    val_rows = np.flatnonzero(reviewed & ~in_train)
    train = _pairs(jobs, train_rows, cleaners, jobs["assigned_cleaner_id"][train_rows], np.ones(len(train_rows)))
    val = _pairs(jobs, val_rows, cleaners, jobs["assigned_cleaner_id"][val_rows], np.ones(len(val_rows)))

    val_job_ids = jobs["job_id"][val_rows]
    bids = list(
        Bid.objects.filter(job_id__in=val_job_ids.tolist(), cleaner__isnull=False)
        .order_by("job_id", "cleaner_id")
        .values_list("job_id", "cleaner_id", "status")
    )
    row_of_job = {pk: i for i, pk in enumerate(jobs["job_id"].tolist())}
    b_job = np.array([row_of_job[b[0]] for b in bids], dtype=np.int64)
    b_cleaner = np.array([b[1] for b in bids], dtype=np.int64)
    b_rel = np.array([b[2] == Bid.Status.ACCEPTED for b in bids], dtype=np.float32)
    # Only jobs with several bidders say anything about order.
    counts = np.bincount(b_job, minlength=len(jobs["job_id"])) if len(b_job) else np.zeros(0, int)
    keep = counts[b_job] >= 2 if len(b_job) else np.zeros(0, bool)
    val_bidders = _pairs(jobs, b_job[keep], cleaners, b_cleaner[keep], b_rel[keep])
    from datetime import UTC, datetime

    return TrainingSet(
        train=train,
        val=val,
        val_bidders=val_bidders,
        completed_jobs=int(reviewed.sum()),
        split_at=datetime.fromtimestamp(split_ts, UTC).isoformat(),
        cleaners={k: cleaners[k] for k in CLEANER_COLUMNS},
    )


def expected_ratings(job_ids: np.ndarray) -> np.ndarray:
    """The generator's noise-free expected rating of each job, in [0, 1]; NaN where unknown."""
    from app.synthetic.models import ExpectedRating

    found = dict(ExpectedRating.objects.filter(job_id__in=job_ids.tolist()).values_list("job_id", "expected_rating"))
    return rating_to_target(np.array([found.get(j, np.nan) for j in job_ids.tolist()], dtype=np.float64))
