"""Feedback on recommendations, the web's half: validate, store a batch once, enqueue it.

`RecommendationFeedback` is an inbox: `feedback_ingest` stores a batch in one transaction
(once per idempotency key) and enqueues one `feedback.apply` task after commit; the worker
applies each event exactly once (workers/feedback.py) and a sweeper re-enqueues lost batches.
What each event does, and why nothing is lost: docs/feedback.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from app.accounts.models import User
from app.common.tasks import QueueUnavailable, task_send
from app.recommendations.models import (
    CleanerRecommendation,
    JobRecommendation,
    RecommendationFeedback,
)
from app.recommendations.questions import may_ask_about_anyone
from workers import names

logger = logging.getLogger(__name__)

Event = RecommendationFeedback.Event

MAX_BATCH = 1000
# An event whose effects failed this many times is set aside (dead letter): no sweep retries it.
MAX_APPLY_FAILURES = 5


class RecommendationType(models.TextChoices):
    JOB = "job", "a job recommended to a cleaner (JobRecommendation)"
    CLEANER = "cleaner", "a cleaner recommended for a client's job (CleanerRecommendation)"


MODELS = {RecommendationType.JOB: JobRecommendation, RecommendationType.CLEANER: CleanerRecommendation}
# Events that happen once in life per recommendation: a repeat is counted as a duplicate, not
# stored, so no counter (and no retrain's "new data") can be inflated by repeating it.
ONCE_EVENTS = frozenset({Event.HIRED, Event.BID_PLACED, Event.BID_ACCEPTED})
# A view counts once per user and recommendation within this window.
VIEW_WINDOW = timedelta(hours=24)
# Events a client cannot report about the cleaners recommended to them.
JOB_ONLY_EVENTS = frozenset({Event.BID_PLACED, Event.BID_ACCEPTED})


@dataclass(frozen=True)
class Target:
    """The recommendation an event is about, as stored on the feedback row."""

    recommendation_type: str
    recommendation_id: int
    job_id: int
    cleaner_id: int
    created_at: datetime | None = None  # when the recommendation was made


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


# --- reads: which recommendations an event may refer to -------------------------------------


def _recommendations_visible_to(user: User, recommendation_type: str) -> models.QuerySet:
    """Recommendations made for `user`: a client's jobs' cleaners, a cleaner's jobs; all for operators.

    The marketplace's integration keys report for their users, so they see all as operators do.
    """
    qs = MODELS[recommendation_type].objects.all()
    if may_ask_about_anyone(role=user.role, is_superuser=user.is_superuser):
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
        visible = _recommendations_visible_to(user, rtype).values_list("pk", "job_id", "cleaner_id", "created_at")
        if ids:
            for pk, job_id, cleaner_id, created_at in visible.filter(pk__in=ids):
                by_id[(rtype, pk)] = Target(rtype, pk, job_id, cleaner_id, created_at)
        if pairs:
            candidates = visible.filter(
                job_id__in={j for j, _ in pairs}, cleaner_id__in={c for _, c in pairs}
            ).order_by("pk")
            for pk, job_id, cleaner_id, created_at in candidates:  # ascending: the latest one wins
                if (job_id, cleaner_id) in pairs:
                    by_pair[(rtype, job_id, cleaner_id)] = Target(rtype, pk, job_id, cleaner_id, created_at)
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
    try:
        # ignore_result: nobody waits for it, and with a result backend the Redis backend
        # subscribes on send, which retries for ~20 s when Redis is down. One quick retry only:
        # the sweeper is the real retry.
        task_send(
            names.FEEDBACK_APPLY,
            args=[ids],
            queue=queue,
            ignore_result=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        )
    except QueueUnavailable:  # the rows are safe: the sweeper will pick them up
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
        happened = _happened_already(user, events)
        rows = []
        for e in events:
            once = _once_key(e)
            if e["idempotency_key"] in seen or (once is not None and once in happened):
                continue
            seen.add(e["idempotency_key"])
            if once is not None:
                happened.add(once)
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


def _once_key(event: dict) -> tuple | None:
    """What makes an event count once: a hire or a bid happens once per recommendation, a view
    counts once per `VIEW_WINDOW`; None for events that may repeat (clicks, ratings...)."""
    target: Target = event["target"]
    if event["event"] in ONCE_EVENTS or event["event"] == Event.VIEWED:
        return (target.recommendation_type, target.recommendation_id, event["event"])
    return None


def _happened_already(user: User, events: Sequence[dict]) -> set[tuple]:
    """The once-only events of this batch's recommendations this user already reported (one query)."""
    by_type: dict[str, set[int]] = {}
    for e in events:
        if _once_key(e) is not None:
            by_type.setdefault(e["target"].recommendation_type, set()).add(e["target"].recommendation_id)
    if not by_type:
        return set()
    views_since = timezone.now() - VIEW_WINDOW
    found: set[tuple] = set()
    for rtype, ids in by_type.items():
        column = "job_recommendation_id" if rtype == RecommendationType.JOB else "cleaner_recommendation_id"
        rows = RecommendationFeedback.objects.filter(user=user, **{f"{column}__in": ids}).filter(
            models.Q(event__in=ONCE_EVENTS) | models.Q(event=Event.VIEWED, received_at__gte=views_since)
        )
        found |= {(rtype, pk, event) for pk, event in rows.values_list(column, "event")}
    return found


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
