"""The web's write of a recommendation request: store it, then enqueue its task by name.

The worker computes it (workers/recommend/runner.py): it claims the row with a conditional
UPDATE and writes its results keyed by the request, so a redelivered task does no harm.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from app.common.tasks import QueueUnavailable, task_send
from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.cache import inflight_claim, inflight_release, inflight_replace
from app.recommendations.experiments import Assignment, experiment_assign
from app.recommendations.models import (
    RecommendationRequest,
)
from workers import names

logger = logging.getLogger(__name__)

Kind = RecommendationRequest.Kind
Status = RecommendationRequest.Status

TASK_FOR_KIND = {
    Kind.CLEANERS_FOR_JOB: names.RECOMMEND_CLEANERS,
    Kind.JOBS_FOR_CLEANER: names.RECOMMEND_JOBS,
    Kind.BID_SUGGESTION: names.SUGGEST_BID,
}


def _enqueue(req: RecommendationRequest) -> None:
    # ignore_result: the answer travels through results.py; otherwise the result backend would
    # subscribe to the task's result channel on every send (an extra Redis round trip or two).
    task_send(TASK_FOR_KIND[req.kind], args=[str(req.id)], task_id=str(req.id), ignore_result=True)


def recommendation_request_create(
    *,
    user,
    kind: str,
    job: CleaningJob | None = None,
    cleaner: CleanerProfile | None = None,
    job_id: int | None = None,
    cleaner_id: int | None = None,
    limit: int = 10,
    mode: str = "",
    callback_url: str = "",
    cache_key: str = "",
    assignment: Assignment | None = None,
) -> RecommendationRequest:
    """Store a request and enqueue its task.

    The subject is given as rows (`job`, `cleaner`) or, when the caller checked access without
    loading them, as ids with the `assignment` (an id that no longer exists raises IntegrityError).
    With the A/B test on, the request records its variant and that variant's mode or pinned
    model version (`assignment`, computed here when not given; see experiments.py). An explicit
    `mode` wins over the variant: the request runs in that mode and records variant "".
    """
    if assignment is None:
        assignment = experiment_assign(kind=kind, job=job, cleaner=cleaner, mode=mode or "")
    req = RecommendationRequest.objects.create(
        kind=kind,
        requested_by=user,
        job_id=job.pk if job is not None else job_id,
        cleaner_id=cleaner.pk if cleaner is not None else cleaner_id,
        limit=limit,
        mode=assignment.mode,
        variant=assignment.variant,
        pinned_model_version=assignment.model_version,
        callback_url=callback_url or "",
        cache_key=cache_key,
    )
    # The same question (same asker, subject, limit, mode and data) already being computed:
    # answer with that request rather than start another computation. Claimed after our row is
    # stored, so whoever finds our id recorded also finds our row. A callback asks for its own
    # delivery, so it never joins another request.
    if cache_key and not callback_url and (running := _inflight(cache_key, req, user)) is not None:
        req.delete()
        return running
    # Enqueued once the row is committed (at once in the API's autocommit), so the worker
    # always finds it; a broker failure reaches the caller as a 503.
    transaction.on_commit(lambda: _enqueue_or_fail(req))
    return req


def _inflight(cache_key: str, req: RecommendationRequest, user) -> RecommendationRequest | None:
    """The queued or running request computing `cache_key`, or None after recording `req` as it."""
    current = inflight_claim(cache_key, str(req.pk))
    if current is None:
        return None
    running = RecommendationRequest.objects.filter(
        pk=current, requested_by=user, status__in=(Status.QUEUED, Status.RUNNING)
    ).first()
    if running is None:  # finished since (its answer was not cacheable) or gone: compute anew
        inflight_replace(cache_key, str(req.pk))
    return running


def _enqueue_or_fail(req: RecommendationRequest) -> None:
    try:
        _enqueue(req)
    except Exception as exc:
        logger.exception("could not enqueue request %s", req.pk)
        inflight_release(req.cache_key, str(req.pk))
        RecommendationRequest.objects.filter(pk=req.pk).update(
            status=Status.FAILED, error="the task queue was unavailable", finished_at=timezone.now()
        )
        raise QueueUnavailable from exc
