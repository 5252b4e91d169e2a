"""The request table is the truth: find accepted requests whose message was lost, and run them again.

A request answered 202 is a row before its task is sent. Its message can still be lost: a
worker killed while it held it, a Redis restart without AOF, a task consumed while the
database was down. Every minute (beat) `requests_sweep` re-enqueues the requests still
`queued` after `RECOMMENDATION_REQUEUE_AFTER`, and those `running` past the task's hard time
limit plus `RECOMMENDATION_RUNNING_MARGIN` (the limit has killed whoever ran them) with attempts left; it fails, with a reason, the ones
out of attempts and the ones queued for longer than a result is kept. A duplicate message is
harmless: the run claims its request with a conditional UPDATE (runner.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from app.common.tasks import QueueUnavailable, task_send
from app.recommendations.models import RecommendationRequest
from app.recommendations.services import TASK_FOR_KIND
from workers.recommend.runner import MAX_ATTEMPTS

logger = logging.getLogger(__name__)

Status = RecommendationRequest.Status

SWEEP_LIMIT = 1000
STUCK_ERROR = "the service lost this request's task and could not run it again (out of attempts)"
EXPIRED_ERROR = "the service could not run this request before its result would have expired"


def running_deadline_setting() -> timedelta:
    """How long a run may hold its request: the tasks' hard time limit and a margin (settings)."""
    return timedelta(seconds=settings.RECOMMENDATION_TASK_TIME_LIMIT + settings.RECOMMENDATION_RUNNING_MARGIN)


def requests_sweep(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Re-enqueue or fail the requests nobody is computing; returns the counts of each."""
    now = now or timezone.now()
    requeue_after = timedelta(seconds=settings.RECOMMENDATION_REQUEUE_AFTER)
    running_deadline = running_deadline_setting()
    expired_before = now - timedelta(seconds=settings.RECOMMENDATION_REQUEST_TTL)
    qs = RecommendationRequest.objects
    expired = qs.filter(status=Status.QUEUED, created_at__lt=expired_before).update(
        status=Status.FAILED, error=EXPIRED_ERROR, finished_at=now
    )
    out_of_attempts = qs.filter(
        status=Status.RUNNING, started_at__lt=now - running_deadline, attempts__gte=MAX_ATTEMPTS
    ).update(status=Status.FAILED, error=STUCK_ERROR, finished_at=now)
    lost = list(
        qs.filter(status=Status.QUEUED, created_at__lt=now - requeue_after).values_list("pk", "kind")[:limit]
    ) + list(
        qs.filter(status=Status.RUNNING, started_at__lt=now - running_deadline, attempts__lt=MAX_ATTEMPTS).values_list(
            "pk", "kind"
        )[:limit]
    )
    requeued = 0
    for pk, kind in lost:
        try:
            task_send(TASK_FOR_KIND[kind], args=[str(pk)], task_id=str(pk), ignore_result=True)
        except QueueUnavailable:
            logger.warning(
                "request sweep: the broker is down; %d requests wait for the next sweep", len(lost) - requeued
            )
            break
        requeued += 1
    if requeued or expired or out_of_attempts:
        logger.warning(
            "request sweep: re-enqueued %d lost requests, failed %d out of attempts and %d expired",
            requeued,
            out_of_attempts,
            expired,
        )
    return {"requeued": requeued, "failed_out_of_attempts": out_of_attempts, "failed_expired": expired}
