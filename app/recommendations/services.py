"""Writes of the recommendation service: create a request, run it, store its results.

The web calls `recommendation_request_create`; the worker's task calls
`recommendation_request_run`. A run claims its request with a conditional UPDATE and writes
its rows keyed by the request inside one transaction, so a redelivered task does no harm.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.engine import RecommendationEngine
from app.recommendations.models import (
    BidSuggestion,
    CleanerRecommendation,
    JobRecommendation,
    RecommendationRequest,
)
from app.recommendations.results import result_publish
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
) -> RecommendationRequest:
    with transaction.atomic():
        req = RecommendationRequest.objects.create(
            kind=kind, requested_by=user, job=job, cleaner=cleaner, limit=limit, mode=mode or "",
            callback_url=callback_url or "",
        )
        # Enqueue only once the row is visible to the worker.
        transaction.on_commit(lambda: _enqueue(req))
    return req


def _claim(request_id: str) -> bool:
    now = timezone.now()
    claimed = RecommendationRequest.objects.filter(
        pk=request_id, status__in=(Status.QUEUED, Status.RUNNING), attempts__lt=MAX_ATTEMPTS
    ).update(status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now)
    if not claimed:
        # Either done already (a redelivery: nothing to do) or out of attempts: fail it.
        RecommendationRequest.objects.filter(
            pk=request_id, status__in=(Status.QUEUED, Status.RUNNING)
        ).update(status=Status.FAILED, error="the worker stopped while computing this request", finished_at=now)
    return bool(claimed)


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
    scored = engine.score_cleaners_for_job(req.job, req.limit, mode=req.mode or None)
    rows = _score_rows(CleanerRecommendation, req, scored, "cleaner_id", {"job_id": req.job_id})
    result = {
        "job_id": req.job_id, "mode": scored.mode, "model_version": scored.model_version or None,
        "candidates": scored.candidates,
        "cleaners": [{"cleaner_id": r.pop("id"), **r} for r in scored.rows()],
    }
    return result, rows


def _run_jobs_for_cleaner(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, list]:
    scored = engine.score_jobs_for_cleaner(req.cleaner, req.limit, mode=req.mode or None)
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
            result_publish(str(req.id), request_payload(req))
        return req.status if req else "missing"

    req = RecommendationRequest.objects.select_related("job", "cleaner").get(pk=request_id)
    runner, row_model = RUNNERS[req.kind]
    try:
        result, rows = runner(req, engine)
    except Exception as exc:  # a bug or bad data must fail the request, not leave it running
        logger.exception("request %s failed", request_id)
        RecommendationRequest.objects.filter(pk=request_id).update(
            status=Status.FAILED, error=f"{type(exc).__name__}: could not compute recommendations",
            finished_at=timezone.now(),
        )
    else:
        with transaction.atomic():
            # Results are keyed by the request: a second run replaces the first run's rows.
            row_model.objects.filter(request_id=request_id).delete()
            row_model.objects.bulk_create(rows)
            RecommendationRequest.objects.filter(pk=request_id).update(
                status=Status.SUCCEEDED, result=result, finished_at=timezone.now(),
                model_version=result.get("model_version") or "",
            )
    req.refresh_from_db()
    result_publish(str(req.id), request_payload(req))
    return req.status


def request_ttl_expired(req: RecommendationRequest) -> bool:
    age = (timezone.now() - req.created_at).total_seconds()
    return age > settings.RECOMMENDATION_REQUEST_TTL
