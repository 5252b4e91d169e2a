"""A cleaner's `CleanerScore` from the marketplace: at once for one cleaner, daily for all.

`cleaner_scores_update` recomputes the scores of the cleaners a write touched (a review, a job
completed or cancelled, a bid placed or accepted), in the writer's transaction: the signals
call it for ORM saves, the ingest core for its bulk writes. `cleaner_scores_reconcile` (daily,
beat; after generating or importing data; before training) recomputes everyone, writes only
the rows that differ and reports the drift it corrected. Both are the same three aggregate
queries, restricted to the cleaners at hand or not. The smoothing below defines what a score
means; the worker's scorer, candidate selection and training data read it from here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Avg, Count, Q, Sum

from app.common.redis_client import client as redis_client
from app.marketplace.models import Bid, CleanerProfile, CleaningJob, Review
from app.recommendations.models import CleanerScore

logger = logging.getLogger(__name__)

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


INPUTS = [name for name in UPDATE_FIELDS if name not in ("quality", "reliability")]  # counted, not smoothed
DEFAULTS = {"review_count": 0, "avg_rating": None, "on_time_rate": 1.0}  # a cleaner without a score row
PRIOR_KEY = "recsvc:scores:prior-rating"  # the marketplace mean of the last full refresh


@dataclass(frozen=True)
class ScoreRefresh:
    """What a full refresh found: `drifted` cleaners had inputs the updates at once had missed."""

    cleaners: int
    drifted: int
    rewritten: int  # drifted, or only rescored (the marketplace mean moved), or without a row yet


def marketplace_mean_rating() -> float:
    mean = Review.objects.aggregate(m=Avg("rating"))["m"]
    return float(mean) if mean is not None else PRIOR_RATING


def _prior_rating() -> float:
    """The prior of the updates at once: the last refresh's mean, not a scan of every review per write."""
    try:
        cached = redis_client().get(PRIOR_KEY)
    except Exception:  # Redis down: the scan, then
        cached = None
    return float(cached) if cached is not None else marketplace_mean_rating()


def _counts(queryset, key: str, ids: list[int] | None, **aggregates) -> Iterable[dict]:
    if ids is not None:
        queryset = queryset.filter(**{f"{key}__in": ids})
    return queryset.filter(**{f"{key}__isnull": False}).values(key).annotate(**aggregates)


# Three aggregate queries, in the order the score is built: splitting hides it.
def _scores_of(ids: list[int], *, prior: float, everyone: bool) -> list[CleanerScore]:
    """The scores of `ids` from the marketplace; `everyone`: ids are all cleaners (no IN list)."""
    only = None if everyone else ids
    index = {pk: i for i, pk in enumerate(ids)}
    n = len(ids)
    reviews, rating_sum, on_time = np.zeros(n), np.zeros(n), np.zeros(n)
    # A deleted cleaner's reviews and bids stay, without the cleaner (cleaner null): skipped here.
    for row in _counts(
        Review.objects, "cleaner", only, c=Count("id"), s=Sum("rating"), t=Count("id", filter=Q(on_time=True))
    ):
        i = index[row["cleaner"]]
        reviews[i], rating_sum[i], on_time[i] = row["c"], row["s"], row["t"]
    assigned, completed, cancelled = np.zeros(n), np.zeros(n), np.zeros(n)
    S = CleaningJob.Status
    for row in _counts(
        CleaningJob.objects,
        "assigned_cleaner",
        only,
        a=Count("id"),
        c=Count("id", filter=Q(status=S.COMPLETED)),
        x=Count("id", filter=Q(status=S.CANCELLED, cancelled_by_cleaner=True)),
    ):
        i = index[row["assigned_cleaner"]]
        assigned[i], completed[i], cancelled[i] = row["a"], row["c"], row["x"]
    placed, won = np.zeros(n), np.zeros(n)
    for row in _counts(
        Bid.objects, "cleaner", only, p=Count("id"), w=Count("id", filter=Q(status=Bid.Status.ACCEPTED))
    ):
        i = index[row["cleaner"]]
        placed[i], won[i] = row["p"], row["w"]

    quality = smoothed_quality(rating_sum, reviews, prior)
    reliability = smoothed_reliability(completed, assigned, cancelled, on_time, reviews)
    return [
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


def _upsert(rows: list[CleanerScore]) -> None:
    CleanerScore.objects.bulk_create(
        rows, batch_size=1000, update_conflicts=True, unique_fields=["cleaner"], update_fields=UPDATE_FIELDS
    )


RECOUNT_CHUNK = 1000  # cleaners per transaction of the reconciliation's writes (and IN list)


def cleaner_scores_update(*, cleaner_ids: Iterable[int | None]) -> int:
    """Recompute these cleaners' scores now (after the commit of a review, a job, a bid).

    The workers' tables see the new score at their next look (its trigger logs it). Returns the
    number of cleaners updated; ids of deleted cleaners (None, or gone) are skipped.
    """
    wanted = {pk for pk in cleaner_ids if pk is not None}
    if not wanted:
        return 0
    prior = _prior_rating()
    with transaction.atomic():
        ids = _locked(wanted)
        if ids:
            _upsert(_scores_of(ids, prior=prior, everyone=False))
    return len(ids)


def _locked(ids: Iterable[int]) -> list[int]:
    """Lock these cleaners' profiles, in id order (no deadlock between two writers); the ids still there.

    Whoever recomputes a cleaner's score holds its profile's lock until it commits, and counts
    only after taking it: a write committed meanwhile is counted by its own update, which waits
    for the lock, so no stale score is written over a newer one.
    """
    return list(
        CleanerProfile.objects.filter(pk__in=ids).order_by("pk").select_for_update().values_list("pk", flat=True)
    )


def _differs(row: CleanerScore, stored: dict | None, fields: list[str]) -> bool:
    stored = stored or DEFAULTS
    for name in fields:
        new, old = getattr(row, name), stored.get(name, 0)
        if (new is None) != (old is None) or (new is not None and not math.isclose(new, old, abs_tol=1e-12)):
            return True
    return False


def cleaner_scores_reconcile() -> ScoreRefresh:
    """Recompute every score (daily, after an import): correct and report what the updates missed.

    The updates at once keep each cleaner's counted inputs right for the writes that go through
    the ORM or the ingest core; raw SQL, deletions and `forget` do not, and the marketplace mean
    (the quality prior) moves with every review. Only rows that differ are written, so the
    workers' tables re-read only those cleaners.
    """
    ids = list(CleanerProfile.objects.order_by("pk").values_list("pk", flat=True))
    prior = marketplace_mean_rating()
    rows = _scores_of(ids, prior=prior, everyone=True)
    stored = {row["cleaner"]: row for row in CleanerScore.objects.values("cleaner", *UPDATE_FIELDS)}
    drifted = [row.cleaner_id for row in rows if _differs(row, stored.get(row.cleaner_id), INPUTS)]
    changed = [
        row for row in rows if row.cleaner_id not in stored or _differs(row, stored[row.cleaner_id], UPDATE_FIELDS)
    ]
    # The rows were counted without locks: count each changed cleaner again under its lock (a
    # review committed meanwhile has its own update waiting for that lock, or done already).
    for start in range(0, len(changed), RECOUNT_CHUNK):
        with transaction.atomic():
            ids = _locked(row.cleaner_id for row in changed[start : start + RECOUNT_CHUNK])
            _upsert(_scores_of(ids, prior=prior, everyone=False) if ids else [])
    try:
        redis_client().set(PRIOR_KEY, repr(prior))
    except Exception:
        logger.warning("could not store the prior rating; updates at once scan the reviews meanwhile")
    if drifted:
        logger.warning(
            "score refresh: %d of %d cleaners had drifted (corrected), e.g. %s", len(drifted), len(ids), drifted[:10]
        )
    logger.info("score refresh: %d cleaners, %d drifted, %d rows rewritten", len(ids), len(drifted), len(changed))
    return ScoreRefresh(cleaners=len(ids), drifted=len(drifted), rewritten=len(changed))


def cleaner_scores_refresh() -> int:
    """Recompute all scores; returns the number of cleaners (`cleaner_scores_reconcile` says more)."""
    return cleaner_scores_reconcile().cleaners
