"""Feedback on recommendations: store it in the request, apply it in the worker, exactly once.

The `RecommendationFeedback` table is an inbox. `feedback_ingest` (the web) writes a batch of
raw events in one transaction and, once it has committed, enqueues one `feedback.apply` task
with the new rows' ids. `feedback_apply` (the worker) applies each event in its own
transaction, claimed by a conditional UPDATE of `applied_at`: whoever sets it applies the
effects, in the same transaction, so a redelivered or duplicated task changes nothing, and a
worker killed halfway leaves every event either applied or untouched. `feedback_sweep` (beat,
every minute) re-enqueues events still unapplied after `SWEEP_AFTER`: a lost message (worker
killed, Redis restarted, Redis down when the web enqueued) delays an event, never drops it.

What each event does (everything else is only stored, for training):

    event         on a cleaner recommendation (client)    on a job recommendation (cleaner)
    viewed        was_viewed, CleanerScore.times_viewed+1  was_viewed
    bid_placed    (refused: not a client's event)          was_bid_placed
    bid_accepted  (refused: not a client's event)          was_bid_accepted
    hired         was_hired, CleanerScore.times_hired+1    was_bid_accepted, CleanerScore.times_hired+1
    clicked, dismissed, rated (value 1-10): stored only

Counters count events, not recommendations: two `viewed` events with distinct keys on one
recommendation add two views.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, models, transaction
from django.db.models import F
from django.utils import timezone

from app.accounts.models import User
from app.recommendations.models import (
    CleanerRecommendation,
    CleanerScore,
    JobRecommendation,
    RecommendationFeedback,
)
from app.recommendations.scoring import PRIOR_RATING, PRIOR_RELIABILITY, smoothed_quality
from workers import names

logger = logging.getLogger(__name__)

Event = RecommendationFeedback.Event

MAX_BATCH = 1000
SWEEP_AFTER = timedelta(seconds=30)
# A sweep enqueues at most this many events, so a long outage is drained over a few minutes
# instead of flooding the queue with one huge burst of tasks.
SWEEP_LIMIT = 10 * MAX_BATCH


class RecommendationType(models.TextChoices):
    JOB = "job", "a job recommended to a cleaner (JobRecommendation)"
    CLEANER = "cleaner", "a cleaner recommended for a client's job (CleanerRecommendation)"


MODELS = {RecommendationType.JOB: JobRecommendation, RecommendationType.CLEANER: CleanerRecommendation}
# Events a client cannot report about the cleaners recommended to them.
JOB_ONLY_EVENTS = frozenset({Event.BID_PLACED, Event.BID_ACCEPTED})

# (flag on the recommendation, CleanerScore counter) per event and recommendation type.
EFFECTS: dict[tuple[str, str], tuple[str | None, str | None]] = {
    (RecommendationType.CLEANER, Event.VIEWED): ("was_viewed", "times_viewed"),
    (RecommendationType.CLEANER, Event.HIRED): ("was_hired", "times_hired"),
    (RecommendationType.JOB, Event.VIEWED): ("was_viewed", None),
    (RecommendationType.JOB, Event.BID_PLACED): ("was_bid_placed", None),
    (RecommendationType.JOB, Event.BID_ACCEPTED): ("was_bid_accepted", None),
    (RecommendationType.JOB, Event.HIRED): ("was_bid_accepted", "times_hired"),
}


@dataclass(frozen=True)
class Target:
    """The recommendation an event is about, as stored on the feedback row."""

    recommendation_type: str
    recommendation_id: int
    job_id: int
    cleaner_id: int


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


# --- reads: which recommendations an event may refer to -------------------------------------


def _recommendations_visible_to(user: User, recommendation_type: str) -> models.QuerySet:
    """Recommendations made for `user`: a client's jobs' cleaners, a cleaner's jobs; all for operators."""
    qs = MODELS[recommendation_type].objects.all()
    if user.is_operator:
        return qs
    if recommendation_type == RecommendationType.CLEANER and user.role == User.Role.CLIENT:
        return qs.filter(job__client__user=user)
    if recommendation_type == RecommendationType.JOB and user.role == User.Role.CLEANER:
        return qs.filter(cleaner__user=user)
    return qs.none()


def feedback_targets_resolve(*, user: User, refs: Sequence[dict]) -> list[Target | None]:
    """Resolve each reference to a recommendation made for `user`; None where there is none.

    A ref is `{"recommendation_type", "recommendation_id"}` or `{"recommendation_type",
    "job_id", "cleaner_id"}`; the pair form means the pair's latest recommendation. One query
    per recommendation type and form, whatever the number of refs.
    """
    by_id: dict[tuple[str, int], Target] = {}
    by_pair: dict[tuple[str, int, int], Target] = {}
    for rtype in RecommendationType.values:
        ids = {r["recommendation_id"] for r in refs if r["recommendation_type"] == rtype and r.get("recommendation_id")}
        pairs = {
            (r["job_id"], r["cleaner_id"])
            for r in refs
            if r["recommendation_type"] == rtype and not r.get("recommendation_id")
        }
        visible = _recommendations_visible_to(user, rtype).values_list("pk", "job_id", "cleaner_id")
        if ids:
            for pk, job_id, cleaner_id in visible.filter(pk__in=ids):
                by_id[(rtype, pk)] = Target(rtype, pk, job_id, cleaner_id)
        if pairs:
            candidates = visible.filter(
                job_id__in={j for j, _ in pairs}, cleaner_id__in={c for _, c in pairs}
            ).order_by("pk")
            for pk, job_id, cleaner_id in candidates:  # ascending: the latest one wins
                if (job_id, cleaner_id) in pairs:
                    by_pair[(rtype, job_id, cleaner_id)] = Target(rtype, pk, job_id, cleaner_id)
    return [
        by_id.get((r["recommendation_type"], r["recommendation_id"]))
        if r.get("recommendation_id")
        else by_pair.get((r["recommendation_type"], r["job_id"], r["cleaner_id"]))
        for r in refs
    ]


# --- the web: store a batch, enqueue it ----------------------------------------------------------


def feedback_enqueue(*, ids: list[int], queue: str | None = None) -> bool:
    """Ask a worker to apply these events; False (logged) if the broker cannot take the task.

    Never raises: the events are already committed and the sweeper re-enqueues them, so a
    broker outage must not turn an accepted batch into an error. `queue` overrides the
    routing (tests use a private queue that only their own worker consumes).
    """
    from workers.celery import app

    try:
        # ignore_result: nobody waits for it, and with a result backend the Redis backend
        # subscribes on send, which retries for ~20 s when Redis is down. One quick retry only:
        # the sweeper is the real retry.
        app.send_task(
            names.FEEDBACK_APPLY,
            args=[ids],
            queue=queue,
            ignore_result=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        )
    except Exception:  # any broker failure: the rows are safe, the sweeper will pick them up
        logger.exception("could not enqueue %d feedback events (first id %s); the sweeper will retry", len(ids), ids[0])
        return False
    return True


def feedback_ingest(*, user: User, events: Sequence[dict]) -> IngestResult:
    """Store a validated batch once per idempotency key; enqueue the new events after commit.

    Each event is `{"idempotency_key", "event", "value", "occurred_at", "target": Target}`.
    A key already stored for this user, or repeated within the batch, is a duplicate: the
    first occurrence wins and the others are counted, not stored.
    """
    with transaction.atomic():
        # One batch per user at a time, so that "new" below cannot race with a retry of the
        # same batch (NO KEY UPDATE does not block other tables' foreign keys to the user).
        User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()
        keys = [e["idempotency_key"] for e in events]
        seen = set(
            RecommendationFeedback.objects.filter(user=user, idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        rows = []
        for e in events:
            if e["idempotency_key"] in seen:
                continue
            seen.add(e["idempotency_key"])
            rows.append(_feedback_row(user, e))
        # ignore_conflicts keeps the unique (user, key) constraint the last word on duplicates.
        RecommendationFeedback.objects.bulk_create(rows, ignore_conflicts=True)
        new_keys = [r.idempotency_key for r in rows]
        ids = list(
            RecommendationFeedback.objects.filter(user=user, idempotency_key__in=new_keys)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            transaction.on_commit(lambda: feedback_enqueue(ids=ids))
    return IngestResult(accepted=len(rows), duplicates=len(events) - len(rows))


def _feedback_row(user: User, event: dict) -> RecommendationFeedback:
    target: Target = event["target"]
    is_job = target.recommendation_type == RecommendationType.JOB
    return RecommendationFeedback(
        user=user,
        idempotency_key=event["idempotency_key"],
        event=event["event"],
        value=event.get("value"),
        job_recommendation_id=target.recommendation_id if is_job else None,
        cleaner_recommendation_id=None if is_job else target.recommendation_id,
        job_id=target.job_id,
        cleaner_id=target.cleaner_id,
        occurred_at=event["occurred_at"],
    )


# --- the worker: apply, sweep ----------------------------------------------------------------------


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
            logger.exception("feedback event %s not applied; the sweeper will retry it", row.pk)
            failure = failure or exc
            continue
        applied += 1
    if failure is not None:
        raise failure
    return applied


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
        RecommendationFeedback.objects.filter(applied_at__isnull=True, received_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    enqueued = 0
    for start in range(0, len(ids), MAX_BATCH):
        chunk = ids[start : start + MAX_BATCH]
        if not feedback_enqueue(ids=chunk, queue=queue):
            break  # the broker is down: the next sweep will try again
        enqueued += len(chunk)
    if enqueued:
        logger.info("feedback sweep: re-enqueued %d unapplied events", enqueued)
    return enqueued
