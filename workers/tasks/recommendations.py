"""The three recommendation tasks. Each takes the request id and nothing else."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from workers import names
from workers.runtime import get_engine

# Soft limit first so the task can fail its request cleanly before the hard kill (the request
# sweeper, workers/recommend/sweeper.py, counts on this hard limit). Results travel through our
# own Redis key and table, not Celery's result backend. The database unreachable is retried
# with backoff rather than acknowledged as done; the sweeper is the backstop. The limits are
# settings (RECOMMENDATION_TASK_*TIME_LIMIT) so that the fault tests can make them small.
_LIMITS = {
    "soft_time_limit": settings.RECOMMENDATION_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.RECOMMENDATION_TASK_TIME_LIMIT,
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}


def _run(request_id: str) -> str:
    from workers.recommend.runner import recommendation_request_run

    return recommendation_request_run(request_id=request_id, engine=get_engine())


@shared_task(name=names.RECOMMEND_CLEANERS, **_LIMITS)
def recommend_cleaners_for_job(request_id: str) -> str:
    return _run(request_id)


@shared_task(name=names.RECOMMEND_JOBS, **_LIMITS)
def recommend_jobs_for_cleaner(request_id: str) -> str:
    return _run(request_id)


@shared_task(name=names.SUGGEST_BID, **_LIMITS)
def suggest_bid(request_id: str) -> str:
    return _run(request_id)


@shared_task(name=names.PING)
def ping() -> str:
    """A no-op round trip: the baseline `make bench` compares the end-to-end latency with."""
    return "pong"
