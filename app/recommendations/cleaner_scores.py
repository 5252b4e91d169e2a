"""`cleaner_scores_refresh`: recompute every cleaner's `CleanerScore` from the marketplace.

A handful of aggregate queries and one upsert, whatever the number of cleaners. Runs daily
(beat), after generating data, and before training. The smoothing below defines what a score
means; the worker's scorer, candidate selection and training data read it from here.
"""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import Avg, Count, Q, Sum

from app.marketplace.models import Bid, CleanerProfile, CleaningJob, Review
from app.recommendations.models import CleanerScore

# Smoothing of the rating history: a cleaner with no review sits at the prior, neither top nor
# bottom; each review moves them 1/(n + PRIOR_REVIEWS) of the way to their own mean.
PRIOR_REVIEWS = 5
PRIOR_RATING = 7.0  # on the 1-10 scale; `cleaner_scores_refresh` replaces it by the marketplace mean
PRIOR_JOBS = 5
PRIOR_RELIABILITY = 0.9


def smoothed_quality(
    rating_sum: np.ndarray, review_count: np.ndarray, prior_rating: float = PRIOR_RATING
) -> np.ndarray:
    """Bayesian mean of the 1-10 ratings, mapped to [0, 1]."""
    mean = (rating_sum + PRIOR_REVIEWS * prior_rating) / (review_count + PRIOR_REVIEWS)
    return np.clip((mean - 1.0) / 9.0, 0.0, 1.0)


def smoothed_reliability(
    completed: np.ndarray,
    assigned: np.ndarray,
    cancelled_by_cleaner: np.ndarray,
    on_time: np.ndarray,
    reviews: np.ndarray,
) -> np.ndarray:
    """Completion and punctuality, each smoothed towards a prior, then averaged."""
    completion = (completed + PRIOR_JOBS * PRIOR_RELIABILITY) / (assigned + PRIOR_JOBS)
    cancel_penalty = cancelled_by_cleaner / (assigned + PRIOR_JOBS)
    punctuality = (on_time + PRIOR_JOBS * PRIOR_RELIABILITY) / (reviews + PRIOR_JOBS)
    return np.clip(0.5 * completion + 0.5 * punctuality - cancel_penalty, 0.0, 1.0)


UPDATE_FIELDS = [
    "review_count",
    "avg_rating",
    "quality",
    "jobs_assigned",
    "jobs_completed",
    "jobs_cancelled",
    "on_time_rate",
    "reliability",
    "bids_placed",
    "bids_won",
]


def marketplace_mean_rating() -> float:
    mean = Review.objects.aggregate(m=Avg("rating"))["m"]
    return float(mean) if mean is not None else PRIOR_RATING


# Three aggregate queries and one upsert, in the order the score is built: splitting hides it.
def cleaner_scores_refresh() -> int:
    """Recompute all scores; returns the number of cleaners updated."""
    ids = list(CleanerProfile.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return 0
    index = {pk: i for i, pk in enumerate(ids)}
    n = len(ids)
    reviews, rating_sum, on_time = np.zeros(n), np.zeros(n), np.zeros(n)
    # A deleted cleaner's reviews and bids stay, without the cleaner (cleaner null): skipped here.
    for row in (
        Review.objects.filter(cleaner__isnull=False)
        .values("cleaner")
        .annotate(c=Count("id"), s=Sum("rating"), t=Count("id", filter=Q(on_time=True)))
    ):
        i = index[row["cleaner"]]
        reviews[i], rating_sum[i], on_time[i] = row["c"], row["s"], row["t"]
    assigned, completed, cancelled = np.zeros(n), np.zeros(n), np.zeros(n)
    S = CleaningJob.Status
    for row in (
        CleaningJob.objects.filter(assigned_cleaner__isnull=False)
        .values("assigned_cleaner")
        .annotate(
            a=Count("id"),
            c=Count("id", filter=Q(status=S.COMPLETED)),
            x=Count("id", filter=Q(status=S.CANCELLED, cancelled_by_cleaner=True)),
        )
    ):
        i = index[row["assigned_cleaner"]]
        assigned[i], completed[i], cancelled[i] = row["a"], row["c"], row["x"]
    placed, won = np.zeros(n), np.zeros(n)
    for row in (
        Bid.objects.filter(cleaner__isnull=False)
        .values("cleaner")
        .annotate(p=Count("id"), w=Count("id", filter=Q(status=Bid.Status.ACCEPTED)))
    ):
        i = index[row["cleaner"]]
        placed[i], won[i] = row["p"], row["w"]

    quality = smoothed_quality(rating_sum, reviews, marketplace_mean_rating())
    reliability = smoothed_reliability(completed, assigned, cancelled, on_time, reviews)
    rows = [
        CleanerScore(
            cleaner_id=pk,
            review_count=int(reviews[i]),
            avg_rating=float(rating_sum[i] / reviews[i]) if reviews[i] else None,
            quality=float(quality[i]),
            jobs_assigned=int(assigned[i]),
            jobs_completed=int(completed[i]),
            jobs_cancelled=int(cancelled[i]),
            on_time_rate=float(on_time[i] / reviews[i]) if reviews[i] else 1.0,
            reliability=float(reliability[i]),
            bids_placed=int(placed[i]),
            bids_won=int(won[i]),
        )
        for pk, i in index.items()
    ]
    with transaction.atomic():
        CleanerScore.objects.bulk_create(
            rows, batch_size=1000, update_conflicts=True, unique_fields=["cleaner"], update_fields=UPDATE_FIELDS
        )
    return n
