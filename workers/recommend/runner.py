"""The worker's run of a recommendation request: claim it, compute it, answer, store its rows.

A run claims its request with a conditional UPDATE (queued, or running when a dead worker's
message is redelivered, with attempts left) and writes its rows keyed by the request inside one
transaction, so a redelivered task does no harm. The waiting client is answered through Redis
(app/recommendations/results.py) once the rows and the request's end are committed, so what the
API answers is what the table holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from functools import cache, lru_cache, partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from app.marketplace.models import CleanerProfile, CleaningJob, Property
from app.recommendations.cache import CACHEABLE_FOR, cache_put, inflight_release
from app.recommendations.models import (
    BidSuggestion,
    CleanerRecommendation,
    JobRecommendation,
    RecommendationRequest,
)
from app.recommendations.results import payload_json, request_payload, result_publish, result_publish_json
from app.webhooks.models import WebhookEndpoint
from app.webhooks.services import webhook_deliveries_create_for_request
from workers.recommend.cleaner_table import cleaner_table
from workers.recommend.engine import RecommendationEngine

logger = logging.getLogger(__name__)

Kind = RecommendationRequest.Kind
Status = RecommendationRequest.Status

# A runner's rows to store, built only after the waiting client has its answer.
Rows = Callable[[], list]
# A request whose worker died this many times is failed rather than retried forever.
MAX_ATTEMPTS = 3
NON_FINITE_ERROR = (
    "a score was not a finite number: the job's or a cleaner's data holds NaN or infinity "
    "(a budget, an hourly rate, a location); fix the data and ask again"
)
STORE_ERROR = "the service computed this request but could not store its results; ask again"
# What a run returns when a later claim of its request (a duplicate message) owns it: it stored nothing.
SUPERSEDED = "superseded"


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


def _claim_and_load(request_id: str) -> RecommendationRequest | None:
    """Claim a request for this run and load it with what computing it needs.

    Claimed by a conditional UPDATE: queued (or running, when a dead worker's message is
    redelivered) and attempts left. Returns None when not claimed: done already (a
    redelivery: nothing to do), unknown, or out of attempts (then it is failed here, unless
    its last run may still be computing).
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        req = _claim_and_load_pg(request_id, now)
    elif _claim_update(request_id, now):
        req = RecommendationRequest.objects.select_related("job__property", "cleaner").get(pk=request_id)
    else:
        req = None
    if req is None:
        # Out of attempts. A run started within the sweeper's deadline may still be computing
        # (this message a duplicate: a sweep of a request that waited in a backlog): it is left
        # to finish, and the sweeper fails the request if it does not.
        abandoned = Q(status=Status.QUEUED) | Q(
            status=Status.RUNNING, started_at__lt=now - timedelta(seconds=settings.RECOMMENDATION_SWEEP_RUNNING_AFTER)
        )
        RecommendationRequest.objects.filter(abandoned, pk=request_id).update(
            status=Status.FAILED, error="the worker stopped while computing this request", finished_at=now
        )
    return req


def _claim_update(request_id: str, now) -> int:
    return RecommendationRequest.objects.filter(
        pk=request_id, status__in=(Status.QUEUED, Status.RUNNING), attempts__lt=MAX_ATTEMPTS
    ).update(status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now)


_CLAIM_PARTS = ((RecommendationRequest, "r"), (CleaningJob, "j"), (Property, "p"), (CleanerProfile, "c"))


@lru_cache(maxsize=1)
def _claim_sql() -> str:
    selected = ", ".join(f'{alias}."{f.column}"' for model, alias in _CLAIM_PARTS for f in model._meta.concrete_fields)
    return (
        f"WITH r AS (UPDATE {RecommendationRequest._meta.db_table} SET status = %s, attempts = attempts + 1, "
        "started_at = %s WHERE id = %s AND status IN (%s, %s) AND attempts < %s RETURNING *) "
        # Whether the requester has webhook endpoints: saves the task a query when not (most).
        f"SELECT {selected}, EXISTS (SELECT 1 FROM {WebhookEndpoint._meta.db_table} w "
        "WHERE w.owner_id = r.requested_by_id AND w.is_active) FROM r "
        f"LEFT JOIN {CleaningJob._meta.db_table} j ON j.id = r.job_id "
        f"LEFT JOIN {Property._meta.db_table} p ON p.id = j.property_id "
        f"LEFT JOIN {CleanerProfile._meta.db_table} c ON c.id = r.cleaner_id"
    )


@cache
def _converters(model) -> list[tuple[str, list]]:
    """(attname, converters) per column, as the ORM's compiler applies them to fetched values."""
    out = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        out.append((field.attname, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return out


def _claim_and_load_pg(request_id: str, now) -> RecommendationRequest | None:
    """`_claim_update` and the `select_related` load in one round trip: UPDATE ... RETURNING in a CTE.

    This is the hot path of every request. The ORM has no UPDATE ... RETURNING, so the SQL is
    spelled out here, and the row becomes model instances the way the ORM builds them
    (converters, then `from_db`).
    """
    params = [Status.RUNNING, now, request_id, Status.QUEUED, Status.RUNNING, MAX_ATTEMPTS]
    parts = [(model, _converters(model)) for model, _ in _CLAIM_PARTS]  # cached after the first call
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model, columns in parts:
        values = list(row[start : start + len(columns)])
        start += len(columns)
        if values[0] is None:  # no such row joined (a request without a job, or without a cleaner)
            instances.append(None)
            continue
        for i, (_, converters) in enumerate(columns):
            for converter in converters:
                values[i] = converter(values[i], None, connection)
        instances.append(model.from_db(connection.alias, [name for name, _ in columns], values))
    req, job, prop, cleaner = instances
    req.has_webhook_endpoints = row[-1]
    if job is not None:
        job.property = prop
        req.job = job
    if cleaner is not None:
        req.cleaner = cleaner
    return req


def _score_rows(model, req: RecommendationRequest, scored, subject_field: str, fixed: dict) -> list:
    return [
        model(
            request=req,
            rank=row["rank"],
            score=row["score"],
            rule_based_score=row["rule_based_score"],
            neural_score=row["neural_score"],
            components=row["components"],
            mode=scored.mode,
            model_version=scored.model_version,
            variant=req.variant,
            **{subject_field: row["id"]},
            **fixed,
        )
        for row in scored.rows()
    ]


def _named(row: dict, subject: str) -> dict:
    """A scored row as the answer lists it: the subject's id and the marketplace's id first."""
    return {f"{subject}_id": row.pop("id"), f"{subject}_external_id": row.pop("external_id"), **row}


def _run_cleaners_for_job(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, Rows]:
    scored = engine.score_cleaners_for_job(
        req.job, req.limit, mode=req.mode or None, model_version=req.pinned_model_version or None
    )
    rows = partial(_score_rows, CleanerRecommendation, req, scored, "cleaner_id", {"job_id": req.job_id})
    result = {
        "job_id": req.job_id,
        "job_external_id": req.job.external_id,
        "mode": scored.mode,
        "model_version": scored.model_version or None,
        "candidates": scored.candidates,
        "cleaners": [_named(r, "cleaner") for r in scored.rows()],
    }
    return result, rows


def _run_jobs_for_cleaner(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, Rows]:
    scored = engine.score_jobs_for_cleaner(
        req.cleaner, req.limit, mode=req.mode or None, model_version=req.pinned_model_version or None
    )
    rows = partial(_score_rows, JobRecommendation, req, scored, "job_id", {"cleaner_id": req.cleaner_id})
    result = {
        "cleaner_id": req.cleaner_id,
        "cleaner_external_id": req.cleaner.external_id,
        "mode": scored.mode,
        "model_version": scored.model_version or None,
        "candidates": scored.candidates,
        "jobs": [_named(r, "job") for r in scored.rows()],
    }
    return result, rows


def _run_bid_suggestion(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, Rows]:
    s = engine.suggest_bid(req.job, req.cleaner)
    row = BidSuggestion(
        request=req,
        job_id=req.job_id,
        cleaner_id=req.cleaner_id,
        suggested_amount=Decimal(str(s["suggested_amount"])),
        low=Decimal(str(s["low"])),
        high=Decimal(str(s["high"])),
        confidence=s["confidence"],
        components=s["components"],
    )
    subjects = {
        "job_id": req.job_id,
        "job_external_id": req.job.external_id,
        "cleaner_id": req.cleaner_id,
        "cleaner_external_id": req.cleaner.external_id,
    }
    return {**subjects, **s}, partial(list, [row])


RUNNERS = {
    Kind.CLEANERS_FOR_JOB: (_run_cleaners_for_job, CleanerRecommendation),
    Kind.JOBS_FOR_CLEANER: (_run_jobs_for_cleaner, JobRecommendation),
    Kind.BID_SUGGESTION: (_run_bid_suggestion, BidSuggestion),
}


def recommendation_request_run(*, request_id: str, engine: RecommendationEngine) -> str:
    """Compute a request and store its results. Returns the final status (or `SUPERSEDED`); idempotent."""
    req = _claim_and_load(request_id)
    if req is None:
        req = RecommendationRequest.objects.filter(pk=request_id).first()
        if req is not None and req.is_finished:
            # A redelivery after the worker died between storing and notifying: finish the job.
            result_publish(str(req.id), request_payload(req))
            webhook_deliveries_create_for_request(request=req)
        return req.status if req else "missing"

    try:
        stored = _compute_publish_store(req, engine)
    except IntegrityError:
        # A cleaner or job vanished behind the ORM's back (raw SQL, a flush) while this
        # worker's cleaner table still had it: reload the table and compute again, once.
        logger.warning("request %s referenced a deleted row; recomputing with fresh data", request_id)
        cleaner_table.invalidate()
        stored = _compute_publish_store(req, engine)
    if not stored:
        # A later claim owns the request: its run announces what it stores. The webhook's
        # message id is per request, so one sent from here would be the only one, with results
        # the table never held.
        return SUPERSEDED
    webhook_deliveries_create_for_request(request=req, has_endpoints=getattr(req, "has_webhook_endpoints", None))
    return req.status


def _compute(req: RecommendationRequest, engine: RecommendationEngine) -> tuple[dict, Rows]:
    """The changes to the request (status, result or error) and its rows to store."""
    runner, _ = RUNNERS[req.kind]
    changes: dict = {"finished_at": timezone.now()}
    try:
        _stuck_for_tests(req)
        result, rows = runner(req, engine)
    except Exception as exc:  # a bug or bad data must fail the request, not leave it running
        logger.exception("request %s failed", req.pk)
        changes.update(status=Status.FAILED, error=f"{type(exc).__name__}: could not compute recommendations")
        return changes, list
    changes.update(status=Status.SUCCEEDED, result=result, model_version=result.get("model_version") or "")
    return changes, rows


def _stuck_for_tests(req: RecommendationRequest) -> None:
    """Fault injection (config/settings/test.py; absent in production): compute for ever, deaf to
    the soft time limit, as a loop in native code would, so that only the hard limit ends it."""
    if req.job_id is None or req.job_id not in getattr(settings, "RECOMMENDATION_STUCK_JOB_IDS", ()):
        return
    while True:
        try:
            time.sleep(3600)
        except SoftTimeLimitExceeded:
            continue


def _apply(req: RecommendationRequest, changes: dict) -> None:
    for field, value in changes.items():
        setattr(req, field, value)


def _payload_or_failure(req: RecommendationRequest, changes: dict, rows: Rows) -> tuple[str, Rows]:
    """The answer's JSON; a request whose result is not JSON (NaN, infinity) is failed instead."""
    _apply(req, changes)
    try:
        return payload_json(request_payload(req)), rows
    except ValueError:
        # NaN or infinity in the marketplace's data (a budget, a rate) made a score that is not a
        # number: fail the request with a reason rather than publish what no client can parse.
        logger.error("request %s computed a score that is not a finite number; failing it", req.pk)
        changes.update(status=Status.FAILED, result=None, model_version="", error=NON_FINITE_ERROR)
        _apply(req, changes)
        return payload_json(request_payload(req)), list


def _store(req: RecommendationRequest, changes: dict, rows: Rows) -> bool:
    """Write the rows and the request's end in one transaction; False if a newer run owns it.

    The request row is locked first and this run's attempt checked against it: a duplicate
    message (a sweep of a request still waiting in a backlog, a redelivery) may have claimed
    the request again meanwhile, and only the latest claim writes, so rows are never doubled.
    """
    _, row_model = RUNNERS[req.kind]
    with _recomputable_writes():
        current = RecommendationRequest.objects.select_for_update().filter(pk=req.pk).values_list("attempts", "status")
        attempts, status = current.first() or (None, None)
        if attempts != req.attempts or status != Status.RUNNING:
            logger.info("request %s: a later run claimed it; this run's results are dropped", req.pk)
            return False
        if req.attempts > 1:
            # Results are keyed by the request: a rerun replaces the earlier run's rows.
            row_model.objects.filter(request_id=req.pk).delete()
        row_model.objects.bulk_create(rows())
        RecommendationRequest.objects.filter(pk=req.pk).update(**changes)
    return True


def _compute_publish_store(req: RecommendationRequest, engine: RecommendationEngine) -> bool:
    """Compute, store, then publish; False (nothing stored or published) if a later claim owns the request."""
    changes, rows = _compute(req, engine)
    body, rows = _payload_or_failure(req, changes, rows)
    # The table first, then the waiting client: what the API answers is what the table holds.
    # If the worker dies in between, the request is finished in the table and its redelivered
    # message publishes it (recommendation_request_run); if the write fails, nothing was said.
    try:
        stored = _store(req, changes, rows)
    except (OperationalError, InterfaceError):
        raise  # the database is unreachable: the task retries (workers/tasks/recommendations.py)
    except IntegrityError:
        raise  # a row vanished under the cleaner table: recommendation_request_run computes again
    except DatabaseError:
        logger.exception("request %s: its results could not be stored; failing it", req.pk)
        changes = {"status": Status.FAILED, "result": None, "model_version": "", "error": STORE_ERROR}
        changes["finished_at"] = timezone.now()
        _apply(req, changes)
        body = payload_json(request_payload(req))
        stored = _store(req, changes, list)
    if not stored:
        return False
    result_publish_json(str(req.id), body)
    # A request that waited longer than CACHEABLE_FOR saw generations that may be gone (cache.py).
    fresh = (req.finished_at - req.created_at).total_seconds() < CACHEABLE_FOR
    if req.cache_key and req.status == Status.SUCCEEDED and fresh:
        cache_put(req.cache_key, body)
    # After the answer is cached: an identical question asked from now on reads the cache.
    inflight_release(req.cache_key, str(req.pk))
    return True
