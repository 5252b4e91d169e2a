"""Feedback in the worker: apply each stored event exactly once, and sweep up lost batches.

`feedback_apply` applies each event in its own transaction, claimed by a conditional UPDATE
of `applied_at`: whoever sets it applies the effects, in the same transaction, so a redelivered
or duplicated task changes nothing, and a worker killed halfway leaves every event either
applied or untouched. `feedback_sweep` (beat, every minute) re-enqueues events still unapplied
after `SWEEP_AFTER`. The web side, and the table of what each event does, are in
app/recommendations/feedback.py; docs/feedback.md tells the whole story.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from app.recommendations import feedback as ingest
from app.recommendations.cleaner_scores import PRIOR_RATING, PRIOR_RELIABILITY, smoothed_quality
from app.recommendations.feedback import MAX_APPLY_FAILURES, MAX_BATCH, MODELS, Event, RecommendationType
from app.recommendations.models import CleanerScore, RecommendationFeedback

logger = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(seconds=30)

# A sweep enqueues at most this many events, so a long outage is drained over a few minutes
# instead of flooding the queue with one huge burst of tasks.
SWEEP_LIMIT = 10 * MAX_BATCH

# (flag on the recommendation, CleanerScore counter) per event and recommendation type.
EFFECTS: dict[tuple[str, str], tuple[str | None, str | None]] = {
    (RecommendationType.CLEANER, Event.VIEWED): ("was_viewed", "times_viewed"),
    (RecommendationType.CLEANER, Event.HIRED): ("was_hired", "times_hired"),
    (RecommendationType.JOB, Event.VIEWED): ("was_viewed", None),
    (RecommendationType.JOB, Event.BID_PLACED): ("was_bid_placed", None),
    (RecommendationType.JOB, Event.BID_ACCEPTED): ("was_bid_accepted", None),
    (RecommendationType.JOB, Event.HIRED): ("was_bid_accepted", "times_hired"),
}


def feedback_apply(*, ids: Iterable[int], pause_seconds: float = 0.0) -> int:
    """Apply the events not applied yet, each in its own transaction; returns how many it applied.

    An event whose effects fail stays unapplied (its transaction rolls back) for the sweeper
    to retry, and does not hold back the events after it in the batch; the first such error is
    raised once the batch is done, so the task still fails visibly. A database that cannot be
    reached (or the soft time limit) stops the batch at once. `pause_seconds` holds each
    transaction open before it commits: tests use it to kill a worker at the worst moment.
    Zero in production.
    """
    applied, failure = 0, None
    pending = list(RecommendationFeedback.objects.filter(pk__in=list(ids), applied_at__isnull=True).order_by("pk"))
    for row in pending:
        try:
            with transaction.atomic():
                claimed = RecommendationFeedback.objects.filter(pk=row.pk, applied_at__isnull=True).update(
                    applied_at=timezone.now()
                )
                if not claimed:  # another delivery of the same events got there first
                    continue
                _apply_effects(row)
                if pause_seconds:
                    time.sleep(pause_seconds)
        except (SoftTimeLimitExceeded, OperationalError, InterfaceError):
            raise  # out of time, or the database is unreachable: the sweeper takes the rest later
        except Exception as exc:
            dead = _failure_record(row, exc)
            logger.exception(
                "feedback event %s not applied; %s",
                row.pk,
                "set aside (dead letter)" if dead else "the sweeper will retry it",
            )
            failure = failure or exc
            continue
        applied += 1
    if failure is not None:
        raise failure
    return applied


def _failure_record(row: RecommendationFeedback, exc: Exception) -> bool:
    """Count a failed try (outside the rolled-back transaction); True once the event is set aside."""
    failures = row.apply_failures + 1
    dead = failures >= MAX_APPLY_FAILURES
    RecommendationFeedback.objects.filter(pk=row.pk, applied_at__isnull=True).update(
        apply_failures=F("apply_failures") + 1,
        last_error=f"{type(exc).__name__}: {exc}"[:500],
        dead_at=timezone.now() if dead else None,
    )
    return dead


def _apply_effects(row: RecommendationFeedback) -> None:
    if row.job_recommendation_id:
        rtype, rec_id = RecommendationType.JOB, row.job_recommendation_id
    elif row.cleaner_recommendation_id:
        rtype, rec_id = RecommendationType.CLEANER, row.cleaner_recommendation_id
    else:  # the recommendation was deleted since: nothing left to flag or count against
        return
    flag, counter = EFFECTS.get((rtype, row.event), (None, None))
    if flag:
        MODELS[rtype].objects.filter(pk=rec_id).update(**{flag: True})
    if counter and row.cleaner_id:
        _cleaner_score_increment(row.cleaner_id, counter)


def _cleaner_score_increment(cleaner_id: int, counter: str) -> None:
    bump = {counter: F(counter) + 1}
    if CleanerScore.objects.filter(cleaner_id=cleaner_id).update(**bump):
        return
    # No score yet (a new cleaner before the daily refresh): start it at the priors the
    # scorer assumes for a cleaner without one, not at the model's field defaults.
    CleanerScore.objects.get_or_create(
        cleaner_id=cleaner_id,
        defaults={
            "quality": float(smoothed_quality(np.zeros(1), np.zeros(1), PRIOR_RATING)[0]),
            "reliability": PRIOR_RELIABILITY,
        },
    )
    CleanerScore.objects.filter(cleaner_id=cleaner_id).update(**bump)


def feedback_sweep(*, older_than: timedelta = SWEEP_AFTER, queue: str | None = None) -> int:
    """Re-enqueue events received more than `older_than` ago and still unapplied; returns how many.

    It cannot tell a lost message from one still waiting in a long queue, so it may enqueue an
    event twice; the claim in `feedback_apply` makes that harmless.
    """
    cutoff = timezone.now() - older_than
    ids = list(
        RecommendationFeedback.objects.filter(applied_at__isnull=True, dead_at__isnull=True, received_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    enqueued = 0
    for start in range(0, len(ids), MAX_BATCH):
        chunk = ids[start : start + MAX_BATCH]
        if not ingest.feedback_enqueue(ids=chunk, queue=queue):
            break  # the broker is down: the next sweep will try again
        enqueued += len(chunk)
    if enqueued:
        logger.info("feedback sweep: re-enqueued %d unapplied events", enqueued)
    return enqueued
