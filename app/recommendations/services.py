"""Writes of the recommendation service: create a request, run it, store its results.

The web calls `recommendation_request_create`; the worker's task calls
`recommendation_request_run`. A run claims its request with a conditional UPDATE and writes
its rows keyed by the request inside one transaction, so a redelivered task does no harm.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.cache import cache_put
from app.recommendations.cleaner_cache import cleaner_table
from app.recommendations.engine import RecommendationEngine
from app.recommendations.experiments import Assignment, experiment_assign
from app.recommendations.models import (
    BidSuggestion,
    CleanerRecommendation,
    JobRecommendation,
    RecommendationRequest,
)
from app.recommendations.results import result_publish
from app.webhooks.services import webhook_deliveries_create_for_request
from workers import names

logger = logging.getLogger(__name__)

Kind = RecommendationRequest.Kind
Status = RecommendationRequest.Status

TASK_FOR_KIND = {
    Kind.CLEANERS_FOR_JOB: names.RECOMMEND_CLEANERS,
    Kind.JOBS_FOR_CLEANER: names.RECOMMEND_JOBS,
    Kind.BID_SUGGESTION: names.SUGGEST_BID,
}
# A request whose worker died this many times is failed rather than retried forever.
MAX_ATTEMPTS = 3


def request_payload(req: RecommendationRequest) -> dict:
    """The request as the API shows it."""
    return {
        "id": str(req.id),
        "kind": req.kind,
        "status": req.status,
        "result": req.result,
        "error": req.error or None,
        "created_at": req.created_at.isoformat() if req.created_at else None,
        "finished_at": req.finished_at.isoformat() if req.finished_at else None,
    }


def _enqueue(req: RecommendationRequest) -> None:
    from workers.celery import app

    app.send_task(TASK_FOR_KIND[req.kind], args=[str(req.id)], task_id=str(req.id))


def recommendation_request_create(
    *,
    user,
    kind: str,
    job: CleaningJob | None = None,
    cleaner: CleanerProfile | None = None,
    limit: int = 10,
    mode: str = "",
    callback_url: str = "",
    cache_key: str = "",
    assignment: Assignment | None = None,
) -> RecommendationRequest:
    """Store a request and enqueue its task.

    With the A/B test on, the request records its variant and that variant's mode or pinned
    model version (`assignment`, computed here when not given; see experiments.py). An explicit
    `mode` wins over the variant: the request runs in that mode and records variant "".
    """
    if assignment is None:
        assignment = experiment_assign(kind=kind, job=job, cleaner=cleaner, mode=mode or "")
    req = RecommendationRequest.objects.create(
        kind=kind, requested_by=user, job=job, cleaner=cleaner, limit=limit, mode=assignment.mode,
        variant=assignment.variant, pinned_model_version=assignment.model_version,
        callback_url=callback_url or "", cache_key=cache_key,
    )
    # Enqueued once the row is committed (at once in the API's autocommit), so the worker
    # always finds it; a broker failure reaches the caller as a 503.
    transaction.on_commit(lambda: _enqueue_or_fail(req))
    return req


def _enqueue_or_fail(req: RecommendationRequest) -> None:
    try:
        _enqueue(req)
    except Exception as exc:
        logger.exception("could not enqueue request %s", req.pk)
        RecommendationRequest.objects.filter(pk=req.pk).update(
            status=Status.FAILED, error="the task queue was unavailable", finished_at=timezone.now()
        )
        raise QueueUnavailable from exc


class QueueUnavailable(Exception):
    """The broker did not take the task; the request was marked failed."""


@contextmanager
def _recomputable_writes():
    """A transaction whose commit need not wait for the disk (PostgreSQL only).

    Everything written in it can be recomputed: if the database crashes in the few
    milliseconds before the WAL reaches the disk, the request is still queued or running and
    its redelivered task computes it again. Saves an fsync per write on the hot path.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _claim(request_id: str) -> bool:
    now = timezone.now()
    claimed = _claim_update(request_id, now)
    if not claimed:
        # Either done already (a redelivery: nothing to do) or out of attempts: fail it.
        RecommendationRequest.objects.filter(
            pk=request_id, status__in=(Status.QUEUED, Status.RUNNING)
        ).update(status=Status.FAILED, error="the worker stopped while computing this request", finished_at=now)
    return bool(claimed)


def _claim_update(request_id: str, now) -> int:  # noqa: ANN001
    return RecommendationRequest.objects.filter(
        pk=request_id, status__in=(Status.QUEUED, Status.RUNNING), attempts__lt=MAX_ATTEMPTS
    ).update(status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now)


def _score_rows(model, req: RecommendationRequest, scored, subject_field: str, fixed: dict) -> list:
    return [
        model(
            request=req, rank=row["rank"], score=row["score"], rule_based_score=row["rule_based_score"],
            neural_score=row["neural_score"], components=row["components"], mode=scored.mode,
            model_version=scored.model_version, variant=req.variant, **{subject_field: row["id"]}, **fixed,
        )
        for row in scored.rows()
    ]


def _run_cleaners_for_job(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, list]:
    scored = engine.score_cleaners_for_job(
        req.job, req.limit, mode=req.mode or None, model_version=req.pinned_model_version or None
    )
    rows = _score_rows(CleanerRecommendation, req, scored, "cleaner_id", {"job_id": req.job_id})
    result = {
        "job_id": req.job_id, "mode": scored.mode, "model_version": scored.model_version or None,
        "candidates": scored.candidates,
        "cleaners": [{"cleaner_id": r.pop("id"), **r} for r in scored.rows()],
    }
    return result, rows


def _run_jobs_for_cleaner(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, list]:
    scored = engine.score_jobs_for_cleaner(
        req.cleaner, req.limit, mode=req.mode or None, model_version=req.pinned_model_version or None
    )
    rows = _score_rows(JobRecommendation, req, scored, "job_id", {"cleaner_id": req.cleaner_id})
    result = {
        "cleaner_id": req.cleaner_id, "mode": scored.mode, "model_version": scored.model_version or None,
        "candidates": scored.candidates,
        "jobs": [{"job_id": r.pop("id"), **r} for r in scored.rows()],
    }
    return result, rows


def _run_bid_suggestion(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, list]:
    s = engine.suggest_bid(req.job, req.cleaner)
    row = BidSuggestion(
        request=req, job_id=req.job_id, cleaner_id=req.cleaner_id,
        suggested_amount=Decimal(str(s["suggested_amount"])), low=Decimal(str(s["low"])),
        high=Decimal(str(s["high"])), confidence=s["confidence"], components=s["components"],
    )
    return {"job_id": req.job_id, "cleaner_id": req.cleaner_id, **s}, [row]


RUNNERS = {
    Kind.CLEANERS_FOR_JOB: (_run_cleaners_for_job, CleanerRecommendation),
    Kind.JOBS_FOR_CLEANER: (_run_jobs_for_cleaner, JobRecommendation),
    Kind.BID_SUGGESTION: (_run_bid_suggestion, BidSuggestion),
}


def recommendation_request_run(*, request_id: str, engine: RecommendationEngine) -> str:
    """Compute a request and store its results. Returns the final status; idempotent."""
    if not _claim(request_id):
        req = RecommendationRequest.objects.filter(pk=request_id).first()
        if req is not None and req.is_finished:
            # A redelivery after the worker died between storing and notifying: finish the job.
            result_publish(str(req.id), request_payload(req))
            webhook_deliveries_create_for_request(request=req)
        return req.status if req else "missing"

    req = RecommendationRequest.objects.select_related("job__property", "cleaner").get(pk=request_id)
    try:
        _compute_publish_store(req, engine)
    except IntegrityError:
        # A cleaner or job vanished behind the ORM's back (raw SQL, a flush) while this
        # worker's cleaner table still had it: reload the table and compute again, once.
        logger.warning("request %s referenced a deleted row; recomputing with fresh data", request_id)
        cleaner_table.invalidate()
        _compute_publish_store(req, engine)
    webhook_deliveries_create_for_request(request=req)
    return req.status


def _compute_publish_store(req: RecommendationRequest, engine: RecommendationEngine) -> None:
    runner, row_model = RUNNERS[req.kind]
    changes: dict = {"finished_at": timezone.now()}
    rows: list = []
    try:
        result, rows = runner(req, engine)
    except Exception as exc:  # a bug or bad data must fail the request, not leave it running
        logger.exception("request %s failed", req.pk)
        changes.update(status=Status.FAILED, error=f"{type(exc).__name__}: could not compute recommendations")
    else:
        changes.update(status=Status.SUCCEEDED, result=result, model_version=result.get("model_version") or "")
    for field, value in changes.items():
        setattr(req, field, value)
    # The waiting client is answered first; the rows follow in the same task. If the worker
    # dies in between, the request is still `running` in the table, the message is redelivered
    # (late ack) and the rerun publishes and writes the same result again.
    payload = request_payload(req)
    result_publish(str(req.id), payload)
    with _recomputable_writes():
        if req.attempts > 1:
            # Results are keyed by the request: a rerun replaces the earlier run's rows.
            row_model.objects.filter(request_id=req.pk).delete()
        row_model.objects.bulk_create(rows)
        RecommendationRequest.objects.filter(pk=req.pk).update(**changes)
    req.attempts += 1  # a second call (the retry above) must clear this call's rows
    if req.cache_key and req.status == Status.SUCCEEDED:
        cache_put(req.cache_key, payload)
